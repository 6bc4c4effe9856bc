# The fund platform. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

MODULES    := libs services/auth services/portfolio services/profit services/withdrawal services/stats devstack deploy/validate
SERVICES   := auth portfolio profit withdrawal stats
DEVSTACK   := .devstack
GO_TEST    := go test -race -count=1 -timeout 20m
WITHPG     := go run github.com/fundplatform/platform/libs/pg/pgtest/withpg --

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install what the stack and the tests need when it is missing (PostgreSQL server binaries, curl, jq, promtool, chromium)
	@pkgs=""; \
	if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then pkgs="$$pkgs postgresql"; fi; \
	for tool in curl jq; do command -v $$tool >/dev/null 2>&1 || pkgs="$$pkgs $$tool"; done; \
	command -v promtool >/dev/null 2>&1 || pkgs="$$pkgs prometheus"; \
	[ -x /usr/bin/chromium ] || pkgs="$$pkgs chromium"; \
	if [ -n "$$pkgs" ]; then \
		echo "installing Debian packages:$$pkgs"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$pkgs; \
	fi
	@if [ "$$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then \
		echo "creating the unprivileged 'postgres' user the throwaway clusters run as"; \
		useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres; \
	fi

.PHONY: build
build: ## build every service and the dev stack into .devstack/bin
	@mkdir -p $(DEVSTACK)/bin
	@for s in $(SERVICES); do go build -o $(DEVSTACK)/bin/$$s ./services/$$s/cmd/$$s || exit 1; done
	@go build -o $(DEVSTACK)/bin/devstack ./devstack

.PHONY: run
run: deps build ## start the whole platform locally (PostgreSQL, Kafka broker, services, edge on 127.0.0.1:8080); Ctrl-C stops it
	@exec $(DEVSTACK)/bin/devstack -bin $(DEVSTACK)/bin $(RUN_FLAGS)

.PHONY: test
test: deps lint promtool ## vet + gofmt, then every module's unit and integration tests with -race against one throwaway PostgreSQL
	@$(WITHPG) $(MAKE) --no-print-directory test-modules

.PHONY: test-modules
test-modules:
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && $(GO_TEST) ./...); done

.PHONY: lint
lint: ## go vet every module and check gofmt
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

.PHONY: promtool
promtool: ## check the Prometheus config and rules, and run the rules' unit tests (deploy/prometheus)
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.yml

.PHONY: fuzz
fuzz: ## run the money parser fuzz test for a while (FUZZTIME=60s)
	cd libs && go test ./money -run '^$$' -fuzz FuzzParse -fuzztime $${FUZZTIME:-60s}

.PHONY: bench
bench: ## run the Go benchmarks of every module
	@set -e; for m in $(MODULES); do (cd $$m && go test -run '^$$' -bench . -benchmem ./...); done

.PHONY: compose-up
compose-up: ## start the stack with Docker Compose (needs a Docker engine)
	docker compose up --build -d

.PHONY: compose-down
compose-down: ## stop the Docker Compose stack and remove its volumes
	docker compose down -v

.PHONY: clean
clean: ## remove the dev stack's binaries and data
	rm -rf $(DEVSTACK)
