# The fund platform. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

MODULES    := libs services/auth services/portfolio services/profit services/withdrawal services/stats devstack deploy/validate
SERVICES   := auth portfolio profit withdrawal stats
DEVSTACK   := .devstack
GO_TEST    := go test -race -count=1 -timeout 20m
WITHPG     := go run github.com/fundplatform/platform/libs/pg/pgtest/withpg --
# Pinned by version: go run pkg@version builds it from the module proxy, outside the workspace.
STATICCHECK := go run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install what the stack and the tests need when it is missing (PostgreSQL server binaries, curl, jq, wget, Prometheus and promtool, the PostgreSQL exporter, chromium, Redocly CLI)
	@pkgs=""; \
	if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then pkgs="$$pkgs postgresql"; fi; \
	for tool in curl jq wget; do command -v $$tool >/dev/null 2>&1 || pkgs="$$pkgs $$tool"; done; \
	command -v promtool >/dev/null 2>&1 || pkgs="$$pkgs prometheus"; \
	command -v prometheus-postgres-exporter >/dev/null 2>&1 || pkgs="$$pkgs prometheus-postgres-exporter"; \
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
build: ## build every service, the dev stack and its trace collector (devstack/otelcol, its own module) into .devstack/bin
	@mkdir -p $(DEVSTACK)/bin
	@for s in $(SERVICES); do go build -o $(DEVSTACK)/bin/$$s ./services/$$s/cmd/$$s || exit 1; done
	@go build -o $(DEVSTACK)/bin/devstack ./devstack
	@cd devstack/otelcol && GOWORK=off go build -o $(abspath $(DEVSTACK))/bin/otelcol .

.PHONY: run
run: deps build ## start the whole platform locally (PostgreSQL, Kafka broker, services, edge on 127.0.0.1:8080); Ctrl-C stops it
	@exec $(DEVSTACK)/bin/devstack -bin $(DEVSTACK)/bin $(RUN_FLAGS)

.PHONY: test
test: deps lint promtool ## vet + staticcheck + gofmt, every module's unit and integration tests (-race, one throwaway PostgreSQL), the fuzz smoke, then the end-to-end suite
	@$(WITHPG) $(MAKE) --no-print-directory test-modules fuzz-smoke
	@$(MAKE) --no-print-directory e2e

.PHONY: test-modules
test-modules:
	@set -e; for m in $(MODULES); do echo "== go test $$m"; \
		(cd $$m && $(GO_TEST) $$(go list ./... | grep -v '/devstack/e2e$$')); done

.PHONY: e2e
e2e: deps ## the end-to-end suite: the real stack with two replicas per service (E2E_REPLICAS=1 for one), driven through the edge (every role's journey, security, docs, Prometheus), ending with the invariant checker
	@echo "== end-to-end (devstack/e2e), $${E2E_REPLICAS:-2} replica(s) per service"
	@cd devstack && E2E_REPLICAS=$${E2E_REPLICAS:-2} go test -race -count=1 -timeout 60m ./e2e/

.PHONY: fuzz-smoke
fuzz-smoke: ## run every Go fuzz target (request and event decoders, money) for FUZZTIME each (default 3s)
	@set -e; for m in $(MODULES); do (cd $$m && go test -list '^Fuzz' ./... | \
		awk '/^Fuzz/ {t[n++] = $$1} /^ok/ {for (i = 0; i < n; i++) print $$2, t[i]; n = 0}'); done | \
	while read -r pkg target; do echo "== fuzz $$target ($$pkg, $${FUZZTIME:-3s})"; \
		go test -run '^$$' -fuzz "^$$target$$" -fuzztime $${FUZZTIME:-3s} "$$pkg" >/tmp/fuzz-smoke.log 2>&1 || { cat /tmp/fuzz-smoke.log; exit 1; }; done

.PHONY: check-invariants
check-invariants: ## check the money invariants of a running stack through its edge (default: the `make run` stack; EDGE=…, ADMIN_EMAIL=…, ADMIN_PASSWORD=…, INVARIANTS_FLAGS=-wait=60s)
	@go run ./devstack/cmd/check-invariants $(INVARIANTS_FLAGS)

.PHONY: backup
backup: ## dump every service database of the running dev stack with a manifest (BACKUP_FLAGS=-services=stats -out DIR); see docs/operations-backup.md
	@go run ./devstack/cmd/dbtool backup $(BACKUP_FLAGS)

.PHONY: restore
restore: ## restore databases of the running dev stack from a backup (BACKUP=.devstack/backups/<time>, RESTORE_FLAGS=-services=stats), then run make check-invariants
	@test -n "$(BACKUP)" || { echo "make restore needs BACKUP=<backup directory>"; exit 2; }
	@go run ./devstack/cmd/dbtool restore -from $(BACKUP) $(RESTORE_FLAGS)

.PHONY: chaos
chaos: deps build ## kill services, time out statements, terminate database backends and restart PostgreSQL under load for a few minutes (loopback), then check that no money was created, lost or counted twice and nothing was dead-lettered (CHAOS_FLAGS=-duration=90s; -replicas=2: kill single replicas and a rolling restart)
	@go run ./devstack/chaos -bin $(DEVSTACK)/bin $(CHAOS_FLAGS)

.PHONY: lint
lint: ## go vet and staticcheck every module, and check gofmt
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done
	@set -e; for m in $(MODULES); do echo "== staticcheck $$m"; (cd $$m && $(STATICCHECK) ./...); done
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The OpenAPI lint: every OpenAPI document checked by Redocly CLI, pinned and
# installed with the machine's npm into $(DEVSTACK)/npm (gitignored) by
# `make deps` (or by lint-openapi when it is missing); `make lint` runs it.
REDOCLY_VERSION := 2.77.0
REDOCLY_PREFIX  := $(DEVSTACK)/npm
REDOCLY         := $(REDOCLY_PREFIX)/node_modules/.bin/redocly
OPENAPI_DOCS    := $(foreach s,$(SERVICES),services/$(s)/api/openapi.json) devstack/edge/docs/openapi.json

deps: redocly
lint: lint-openapi

.PHONY: redocly
redocly: ## install the pinned @redocly/cli into .devstack/npm when it is missing (needs npm; part of deps)
	@if ! grep -qs '"version": "$(REDOCLY_VERSION)"' $(REDOCLY_PREFIX)/node_modules/@redocly/cli/package.json; then \
		command -v npm >/dev/null 2>&1 || { echo "npm is missing: install Node.js 20 or later with npm, then run make deps again (make lint needs @redocly/cli)" >&2; exit 1; }; \
		echo "installing @redocly/cli@$(REDOCLY_VERSION) into $(REDOCLY_PREFIX)"; \
		npm install --prefix $(REDOCLY_PREFIX) --save-exact --no-audit --no-fund --loglevel=error @redocly/cli@$(REDOCLY_VERSION); \
	fi

.PHONY: lint-openapi
lint-openapi: redocly ## (part of lint) lint services/*/api/openapi.json and the merged devstack/edge/docs/openapi.json with Redocly CLI and redocly.yaml: errors fail, warnings are listed
	@REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(REDOCLY) lint --format=stylish $(OPENAPI_DOCS)

.PHONY: openapi
openapi: ## regenerate devstack/edge/docs/openapi.json (every service's document merged; every edge serves it at /docs/openapi.json)
	go generate ./devstack/edge

.PHONY: promtool
promtool: ## check the Prometheus config and rules, and run the rules' unit tests (deploy/prometheus)
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.yml

.PHONY: slo
slo: ## regenerate deploy/prometheus/rules/slo.yml from the objectives in deploy/prometheus/slo-objectives.yml (then run make promtool)
	cd deploy/validate && go test ./slo -run TestRulesAreGenerated -count=1 -update

.PHONY: fuzz
fuzz: ## run the money parser fuzz test for a while (FUZZTIME=60s)
	cd libs && go test ./money -run '^$$' -fuzz FuzzParse -fuzztime $${FUZZTIME:-60s}

.PHONY: bench
bench: deps ## the load benchmark against the dev stack (about 15 min; not part of make test): writes docs/benchmarks.md, its latency plot and the services' CPU profile tops (docs/bench-profiles/), then the baseline and scenario (b) again with two replicas per service into docs/benchmarks-2-replicas.md (BENCH_FLAGS=-quick: smoke sizes; -nav-only: baseline and scenario (b) alone)
	@go run ./devstack/bench -out docs/benchmarks.md -pprof docs/bench-profiles $(BENCH_FLAGS)
	@go run ./devstack/bench -out docs/benchmarks-2-replicas.md -nav-only -replicas=2 $(BENCH_FLAGS)

.PHONY: bench-go
bench-go: ## run the Go benchmarks of every module
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
