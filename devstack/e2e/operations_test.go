package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/stack"
)

// The operator's guide, docs/operations.md, marks each shell block with
// its first line: `# run-by: TestOperationsGuide/<name>` (TestOperationsGuide
// runs it against a dev stack and checks its output with opsChecks[name])
// or `# not-run-here: <why>`.

const (
	opsDocPath    = "docs/operations.md"
	opsRunBy      = "# run-by: TestOperationsGuide/"
	opsNotRunHere = "# not-run-here: "
	// opsRunbookBase is where every alert's runbook_url must point.
	opsRunbookBase = "https://github.com/fundplatform/platform/blob/main/docs/operations.md#"
)

// opsBlock is one fenced shell block of the guide.
type opsBlock struct {
	line    int    // of the opening fence, 1-based
	heading string // the nearest heading above it
	runBy   string // the run-by name ("" when not run here)
	reason  string // why it is not run here
	script  string
}

// opsDoc is the guide, split into what the tests need.
type opsDoc struct {
	text   string
	blocks []opsBlock
	// prose is each heading's text outside code blocks, up to the next heading.
	prose    map[string]string
	headings []string // every heading, in order, with its #s
	problems []string
}

var opsFence = regexp.MustCompile("^```(.*)$")

func opsParse(text string) opsDoc {
	doc := opsDoc{text: text, prose: map[string]string{}}
	lines := strings.Split(text, "\n")
	heading := ""
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if m := opsFence.FindStringSubmatch(line); m != nil {
			info := strings.TrimSpace(m[1])
			start := i
			var body []string
			for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
				body = append(body, lines[i])
			}
			if i == len(lines) {
				doc.problems = append(doc.problems, fmt.Sprintf("line %d: code block never closed", start+1))
			}
			switch info {
			case "sh", "bash", "shell", "console":
			case "":
				doc.problems = append(doc.problems, fmt.Sprintf("line %d: code block without a language; shell blocks are ```sh", start+1))
				continue
			default:
				continue
			}
			b := opsBlock{line: start + 1, heading: heading, script: strings.Join(body, "\n") + "\n"}
			first := ""
			if len(body) > 0 {
				first = strings.TrimSpace(body[0])
			}
			switch {
			case strings.HasPrefix(first, opsRunBy):
				b.runBy = strings.TrimSpace(strings.TrimPrefix(first, opsRunBy))
				if !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(b.runBy) {
					doc.problems = append(doc.problems, fmt.Sprintf("line %d: run-by name %q is not [a-z0-9_]+", start+1, b.runBy))
				}
			case strings.HasPrefix(first, opsNotRunHere) && len(strings.TrimSpace(strings.TrimPrefix(first, opsNotRunHere))) > 0:
				b.reason = strings.TrimSpace(strings.TrimPrefix(first, opsNotRunHere))
			default:
				doc.problems = append(doc.problems, fmt.Sprintf("line %d: shell block starts with %q, not %q<name> or %q<why>", start+1, first, opsRunBy, opsNotRunHere))
			}
			doc.blocks = append(doc.blocks, b)
			continue
		}
		if strings.HasPrefix(line, "#") {
			heading = line
			doc.headings = append(doc.headings, line)
			continue
		}
		doc.prose[heading] += line + "\n"
	}
	return doc
}

// opsSlug is GitHub's anchor of a heading.
func opsSlug(heading string) string {
	h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(heading, "#")))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func opsReadDoc(t *testing.T, repo string) opsDoc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, opsDocPath))
	if err != nil {
		t.Fatal(err)
	}
	return opsParse(string(b))
}

// opsCheckStructure asserts what the guide promises about its own blocks.
func opsCheckStructure(t *testing.T, doc opsDoc) {
	t.Helper()
	for _, p := range doc.problems {
		t.Errorf("%s: %s", opsDocPath, p)
	}
	seen := map[string]int{}
	for _, b := range doc.blocks {
		if b.runBy == "" {
			continue
		}
		if prev, dup := seen[b.runBy]; dup {
			t.Errorf("%s: lines %d and %d both run-by %s", opsDocPath, prev, b.line, b.runBy)
		}
		seen[b.runBy] = b.line
		if _, ok := opsChecks[b.runBy]; !ok {
			t.Errorf("%s line %d: no check for TestOperationsGuide/%s in operations_test.go", opsDocPath, b.line, b.runBy)
		}
		if !strings.Contains(doc.prose[b.heading], "TestOperationsGuide/"+b.runBy) {
			t.Errorf("%s: section %q does not name TestOperationsGuide/%s, the test of its block at line %d", opsDocPath, b.heading, b.runBy, b.line)
		}
	}
	for name := range opsChecks {
		if _, ok := seen[name]; !ok {
			t.Errorf("operations_test.go checks TestOperationsGuide/%s, but %s has no block run by it", name, opsDocPath)
		}
	}
	// The list of tests at the top of the guide is the list of blocks.
	listed := regexp.MustCompile("(?m)^- `TestOperationsGuide/([a-z0-9_]+)`").FindAllStringSubmatch(doc.prose["## How this guide is tested"], -1)
	var got, want []string
	for _, m := range listed {
		got = append(got, m[1])
	}
	for name := range seen {
		want = append(want, name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: \"How this guide is tested\" lists %v, the blocks are run by %v", opsDocPath, got, want)
	}
	if len(want) == 0 {
		t.Errorf("%s has no block run by TestOperationsGuide", opsDocPath)
	}
}

// opsEnv is what a block's check may compare with.
type opsEnv struct {
	ready stack.Ready
}

// opsSubstitutions turn the guide's dev-stack defaults into this stack's
// addresses, paths and secrets.
func opsSubstitutions(t *testing.T, ready stack.Ready, logPath string) *strings.Replacer {
	t.Helper()
	pairs := []string{
		"ADMIN_PASSWORD='<the password make run printed>'", "ADMIN_PASSWORD='" + ready.AdminPassword + "'",
		"admin@fund.local", ready.AdminEmail,
		"LOG=run.log", "LOG=" + logPath,
		"http://127.0.0.1:8080", ready.EdgeURL,
	}
	if len(ready.KafkaBrokers) == 0 {
		t.Fatal("the stack reports no Kafka broker")
	}
	pairs = append(pairs, "127.0.0.1:9092", ready.KafkaBrokers[0])
	ports := map[string]int{"auth": 8081, "portfolio": 8082, "profit": 8083, "withdrawal": 8084, "stats": 8085}
	var binDir, stateDir string
	for _, svc := range ready.Services {
		port, ok := ports[svc.Name]
		if !ok {
			t.Fatalf("service %s has no default port in the guide", svc.Name)
		}
		pairs = append(pairs, fmt.Sprintf("127.0.0.1:%d", port), strings.TrimPrefix(svc.URL, "http://"))
		binDir, stateDir = filepath.Dir(svc.Binary), filepath.Dir(svc.EnvFile)
	}
	// Comparisons are made in argument order: the bin directory first.
	pairs = append(pairs, ".devstack/bin/", binDir+"/", ".devstack/", stateDir+"/")
	return strings.NewReplacer(pairs...)
}

// opsLeftovers are dev-stack defaults that must not survive substitution.
var opsLeftovers = regexp.MustCompile(`127\.0\.0\.1:(80[89]\d|9092)\b|\.devstack/|LOG=run\.log|<the password`)

func TestOperationsGuide(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "psql", "pg_isready", "ss", "openssl", "promtool", "timeout"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the guide's commands need %s", tool)
		}
	}
	repo := repoRoot(t)
	doc := opsReadDoc(t, repo)
	opsCheckStructure(t, doc)
	if t.Failed() {
		t.FailNow()
	}

	start := time.Now()
	// The guide's commands address one process per service (its port, its
	// .env file), as `make run` starts them: one replica each.
	s, out := runStack(t, repo, func(cfg *stack.Config) { cfg.Replicas = 1 })
	ready := s.Ready()
	if len(ready.Skipped) != 0 || len(ready.Services) != len(edge.Services) {
		t.Fatalf("services started %v, skipped %v", ready.Services, ready.Skipped)
	}
	t.Logf("stack ready in %s", time.Since(start).Round(time.Millisecond))

	// The guide reads the stack's output from a file (make run 2>&1 | tee
	// run.log); keep one up to date with this stack's.
	logPath := filepath.Join(t.TempDir(), "run.log")
	stopLog := make(chan struct{})
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		for {
			tmp := logPath + ".tmp"
			if os.WriteFile(tmp, []byte(out.String()), 0o600) == nil {
				_ = os.Rename(tmp, logPath)
			}
			select {
			case <-stopLog:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stopLog); <-logDone }()

	opsEvents(t, ready)

	// Bounds against a hung step, not timings: promtool's rule tests alone
	// take about a minute on a loaded 2-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	subst := opsSubstitutions(t, ready, logPath)
	env := opsEnv{ready: ready}
	for _, b := range doc.blocks {
		if b.runBy == "" {
			continue
		}
		t.Run(b.runBy, func(t *testing.T) {
			script := subst.Replace(b.script)
			if m := opsLeftovers.FindString(script); m != "" {
				t.Fatalf("%s line %d: %q is not replaced by this stack's value; use the guide's conventions\n%s", opsDocPath, b.line, m, script)
			}
			bctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(bctx, "bash", "-c", "set -euo pipefail\n"+script)
			cmd.Dir = repo
			cmd.WaitDelay = 5 * time.Second
			began := time.Now()
			output, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s line %d: %v\n--- script\n%s--- output\n%s", opsDocPath, b.line, err, script, output)
			}
			t.Logf("ran in %s", time.Since(began).Round(time.Millisecond))
			if problems := opsChecks[b.runBy](string(output), env); len(problems) != 0 {
				t.Errorf("%s line %d: the output is not what the guide says:\n  %s\n--- output\n%s", opsDocPath, b.line, strings.Join(problems, "\n  "), output)
			}
		})
	}
}

// opsEvents makes every consumer and outbox relay do some work, so their
// metrics, stored offsets and outbox rows exist: one portfolio, two NAV
// snapshots and a ratio, then waits for the profit to be allocated and
// credited.
func opsEvents(t *testing.T, ready stack.Ready) {
	t.Helper()
	admin := login(t, ready.EdgeURL, ready.AdminEmail, ready.AdminPassword)
	var team, user, pf struct {
		ID int64 `json:"id"`
	}
	admin.must(201, "POST", "/api/v1/teams", map[string]any{"name": "Ops desk"}, &team)
	admin.must(201, "POST", "/api/v1/users", map[string]any{"email": "ops@example.com", "username": "ops", "password": "ops-password-1234", "role": "user"}, &user)
	admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Ops", "user_id": user.ID, "team_id": team.ID}, &pf)
	for i, nav := range []string{"1000", "1100"} {
		admin.must(201, "POST", fmt.Sprintf("/api/v1/portfolios/%d/nav", pf.ID),
			map[string]any{"as_of": fmt.Sprintf("2026-01-0%dT00:00:00Z", i+1), "nav": nav}, nil, "Idempotency-Key", fmt.Sprintf("ops-nav-%d", i))
	}
	eventually(t, "the profit service knows the portfolio", func() (bool, string) {
		r := admin.call("POST", "/api/v1/profit/profit_allocation_ratios",
			map[string]any{"portfolio_id": pf.ID, "to_team": "0.2", "to_platform": "0.1", "to_user": "0.7"})
		return r.status == 201 || r.status == 200, fmt.Sprintf("%d %s", r.status, r.Data)
	})
	eventually(t, "the platform account is credited", func() (bool, string) {
		r := admin.call("GET", "/api/v1/balances?limit=1000", nil)
		return r.status == 200 && strings.Contains(string(r.Data), `"platform"`), fmt.Sprintf("%d %s", r.status, r.Data)
	})
}

// opsLines returns the non-empty lines of out.
func opsLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// opsWant returns a problem for each of wants that out does not contain.
func opsWant(out string, wants ...string) []string {
	var problems []string
	for _, w := range wants {
		if !strings.Contains(out, w) {
			problems = append(problems, fmt.Sprintf("no %q", w))
		}
	}
	return problems
}

// opsMatch returns the submatches of every line of out matching re.
func opsMatch(out string, re string) [][]string {
	var ms [][]string
	rx := regexp.MustCompile(re)
	for _, l := range opsLines(out) {
		if m := rx.FindStringSubmatch(l); m != nil {
			ms = append(ms, m)
		}
	}
	return ms
}

// opsChecks check the output of each block that TestOperationsGuide runs;
// each returns what is wrong.
var opsChecks = map[string]func(out string, env opsEnv) []string{
	"migrate_only": func(out string, _ opsEnv) []string {
		return opsWant(out, "migrations applied; exiting (-migrate-only)", "exit 0")
	},

	"health": func(out string, _ opsEnv) []string {
		// What the guide says each service's readiness checks.
		want := map[string][]string{
			"auth":       {"database"},
			"portfolio":  {"database", "jwks", "outbox"},
			"profit":     {"consumer", "database", "jwks", "outbox"},
			"withdrawal": {"consumer", "database", "jwks", "outbox"},
			"stats":      {"consumer", "database", "jwks"},
		}
		var problems []string
		got := map[string]bool{}
		for _, m := range opsMatch(out, `^(\w+) healthz=(\d+) readyz=(.*)$`) {
			got[m[1]] = true
			var r struct {
				Status string            `json:"status"`
				Checks map[string]string `json:"checks"`
			}
			if err := json.Unmarshal([]byte(m[3]), &r); err != nil {
				problems = append(problems, fmt.Sprintf("%s: readyz %q: %v", m[1], m[3], err))
				continue
			}
			var names []string
			for name, v := range r.Checks {
				names = append(names, name)
				if v != "ok" {
					problems = append(problems, fmt.Sprintf("%s: check %s = %q", m[1], name, v))
				}
			}
			slices.Sort(names)
			if m[2] != "200" || r.Status != "ready" || !slices.Equal(names, want[m[1]]) {
				problems = append(problems, fmt.Sprintf("%s: healthz %s, readyz %s with checks %v; want 200, ready with %v", m[1], m[2], r.Status, names, want[m[1]]))
			}
		}
		for name := range want {
			if !got[name] {
				problems = append(problems, "no line for "+name)
			}
		}
		return append(problems, opsWant(out, `{"status":"healthy"}`)...)
	},

	"follow_request": func(out string, _ opsEnv) []string {
		m := regexp.MustCompile(`(?mi)^x-request-id: (ops-\S+)$`).FindStringSubmatch(out)
		if m == nil {
			return []string{"the response's X-Request-Id is not the one sent"}
		}
		rid := m[1]
		var problems []string
		tm := regexp.MustCompile(`(?m)^request id: ` + regexp.QuoteMeta(rid) + `, trace id: ([0-9a-f]{32})$`).FindStringSubmatch(out)
		if tm == nil {
			return []string{"the ids used are not shown"}
		}
		traceID := tm[1]
		services := map[string]bool{}
		traced := false
		for _, l := range opsLines(out) {
			if !strings.HasPrefix(l, "{\"msg\"") {
				continue
			}
			var line struct {
				Msg       string `json:"msg"`
				Service   string `json:"service"`
				Status    *int   `json:"status"`
				RequestID string `json:"request_id"`
				TraceID   string `json:"trace_id"`
			}
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				problems = append(problems, fmt.Sprintf("%q: %v", l, err))
				continue
			}
			if line.RequestID != rid {
				problems = append(problems, fmt.Sprintf("line with request id %q, want %q", line.RequestID, rid))
			}
			if line.Msg == "request" && line.Status != nil && *line.Status == 200 {
				services[line.Service] = true
			}
			if line.Service == "portfolio" && line.TraceID == traceID {
				traced = true
			}
		}
		if !services["portfolio"] {
			problems = append(problems, fmt.Sprintf("request lines found for %v, want the portfolio service's", services))
		}
		if !traced {
			problems = append(problems, "the portfolio service's line does not carry the trace id sent in traceparent")
		}
		if len(opsMatch(out, `^portfolio request GET /api/v1/portfolios$`)) == 0 {
			problems = append(problems, "the trace search does not find the portfolio service's request")
		}
		return problems
	},

	"metrics": func(out string, _ opsEnv) []string {
		var wants []string
		for _, name := range []string{"http_requests_total counter", "http_request_duration_seconds histogram", "http_requests_in_flight gauge",
			"outbox_backlog gauge", "outbox_oldest_unpublished_age_seconds gauge", "outbox_published_total counter", "outbox_publish_errors_total counter",
			"consumer_messages_total counter", "consumer_lag gauge", "consumer_handle_duration_seconds histogram"} {
			wants = append(wants, "# TYPE fund_"+name)
		}
		problems := opsWant(out, wants...)
		if len(opsMatch(out, `^fund_http_requests_total\{.*service="portfolio".*\} \d+$`)) == 0 {
			problems = append(problems, "no fund_http_requests_total series of portfolio")
		}
		return problems
	},

	"promtool": func(out string, _ opsEnv) []string {
		problems := opsWant(out, "SUCCESS")
		if strings.Contains(out, "FAILED") {
			problems = append(problems, "promtool reports FAILED")
		}
		if n := strings.Count(out, "SUCCESS"); n < 3 {
			problems = append(problems, fmt.Sprintf("%d SUCCESS, want one per rule file and test file", n))
		}
		return problems
	},

	"config_refused": func(out string, _ opsEnv) []string {
		problems := opsWant(out,
			"auth: configuration:",
			"production: JWT_SIGNING_KEY_FILE or JWT_SIGNING_KEY is required",
			"production: BOOTSTRAP_ADMIN_PASSWORD is required",
			"production: BOOTSTRAP_ADMIN_PASSWORD is a default password",
			"production: BCRYPT_COST must be at least 12",
			"profit: configuration:",
			"DATABASE_URL is required",
			"KAFKA_BROKERS is required")
		if n := strings.Count(out, "exit 2"); n != 3 {
			problems = append(problems, fmt.Sprintf("%d times exit 2, want 3", n))
		}
		return problems
	},

	"port_busy": func(out string, env opsEnv) []string {
		problems := opsWant(out, `users:(("stats"`, "bind: address already in use", "exit 1")
		for _, svc := range env.ready.Services {
			if svc.Name == "stats" {
				problems = append(problems, opsWant(out, "listen "+strings.TrimPrefix(svc.URL, "http://"))...)
			}
		}
		return problems
	},

	"database": func(out string, _ opsEnv) []string {
		problems := opsWant(out, "accepting connections", "PostgreSQL 15", "database check: ok")
		if len(opsMatch(out, `^[1-9]\d*$`)) != 1 {
			problems = append(problems, "no connection count")
		}
		return problems
	},

	"kafka": func(out string, _ opsEnv) []string {
		return opsWant(out, "accepts connections",
			`portfolio {"outbox":"ok"}`,
			`profit {"outbox":"ok","consumer":"ok"}`,
			`withdrawal {"outbox":"ok","consumer":"ok"}`,
			`stats {"consumer":"ok"}`)
	},

	"auth_401": func(out string, _ opsEnv) []string {
		problems := opsWant(out, `{"status":401,"code":"unauthenticated"}`, "kid in JWKS: yes", `{"isOK":true,"role":"admin"}`)
		ms := opsMatch(out, `^\{"iss":"fund-auth","aud":(?:"fund-api"|\["fund-api"\]),"expires_in_s":(\d+)\}$`)
		if len(ms) != 1 {
			return append(problems, "no claims line with iss fund-auth, aud fund-api and the time to expiry")
		}
		if s, _ := strconv.Atoi(ms[0][1]); s < 800 || s > 900 {
			problems = append(problems, fmt.Sprintf("the token expires in %d s, want about 15 min", s))
		}
		return problems
	},

	"consumer_lag": func(out string, _ opsEnv) []string {
		var problems []string
		for _, c := range []struct{ group, topic string }{
			{"profit", "portfolio.events"}, {"withdrawal", "profit.events"}, {"stats", "portfolio.events"}, {"stats", "profit.events"},
		} {
			if len(opsMatch(out, `^`+c.group+` fund_consumer_lag\{.*topic="`+regexp.QuoteMeta(c.topic)+`".*\} \d+$`)) == 0 {
				problems = append(problems, fmt.Sprintf("no fund_consumer_lag of %s on %s", c.group, c.topic))
			}
			moved := false
			for _, m := range opsMatch(out, `^`+c.group+`\|`+regexp.QuoteMeta(c.topic)+`\|\d+\|(\d+)$`) {
				if n, _ := strconv.Atoi(m[1]); n > 0 {
					moved = true
				}
			}
			if !moved {
				problems = append(problems, fmt.Sprintf("no stored offset > 0 of %s on %s", c.group, c.topic))
			}
		}
		return problems
	},

	"dlq": func(out string, _ opsEnv) []string {
		return opsWant(out, "profit dead-lettered: 0", "withdrawal dead-lettered: 0", "stats dead-lettered: 0", "no dead-lettered message in the log")
	},

	"outbox": func(out string, _ opsEnv) []string {
		var problems []string
		rows := map[string][]int{}
		for _, m := range opsMatch(out, `^(portfolio|profit|withdrawal)\|(\d+)\|(\d+)\|(\d+)$`) {
			for _, s := range m[2:] {
				n, _ := strconv.Atoi(s)
				rows[m[1]] = append(rows[m[1]], n)
			}
		}
		for _, svc := range []string{"portfolio", "profit", "withdrawal"} {
			if _, ok := rows[svc]; !ok {
				problems = append(problems, "no outbox row counts of "+svc)
			}
		}
		if r := rows["portfolio"]; len(r) == 3 && r[1] < 2 {
			problems = append(problems, fmt.Sprintf("portfolio published %d events, want at least 2 (created, a profit)", r[1]))
		}
		if r := rows["profit"]; len(r) == 3 && r[1] < 1 {
			problems = append(problems, "profit published no event")
		}
		return append(problems, opsWant(out, "fund_outbox_backlog{", "fund_outbox_publish_errors_total{", "fund_outbox_published_total{")...)
	},

	"memory": func(out string, _ opsEnv) []string {
		var problems []string
		for _, svc := range edge.Services {
			for _, metric := range []string{"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_goroutines"} {
				ms := opsMatch(out, `^`+svc+` `+metric+` (\d+)$`)
				if len(ms) != 1 {
					problems = append(problems, fmt.Sprintf("no %s of %s", metric, svc))
				} else if n, _ := strconv.ParseInt(ms[0][1], 10, 64); n <= 0 {
					problems = append(problems, fmt.Sprintf("%s of %s is %d", metric, svc, n))
				}
			}
		}
		return problems
	},

	"slow": func(out string, _ opsEnv) []string {
		problems := opsWant(out, "via the edge: 200 in ", "service directly: 200 in ", "fund_http_requests_in_flight{")
		if len(opsMatch(out, `^route="[^"]+" requests=\d+ mean_ms=\d+\.\d$`)) == 0 {
			problems = append(problems, "no mean latency per route")
		}
		if len(opsMatch(out, `^\d+\|\d+$`)) != 1 {
			problems = append(problems, "no slow-query and lock-wait counts")
		}
		return problems
	},

	"edge_exposure": func(out string, _ opsEnv) []string {
		return opsWant(out, "/metrics 404", "/readyz 404", "/healthz 404", "/openapi.json 404", "/api/v1/users 401")
	},
}

// TestOperationsGuideRunbookLinks checks that every alert's runbook_url
// points to its own section of the guide, that the guide has a runbook for
// no other alert, and that the guide's own #links resolve.
func TestOperationsGuideRunbookLinks(t *testing.T) {
	repo := repoRoot(t)
	doc := opsReadDoc(t, repo)
	anchors := map[string]bool{}
	for _, h := range doc.headings {
		anchors[opsSlug(h)] = true
	}
	files, err := filepath.Glob(filepath.Join(repo, "deploy/prometheus/rules/*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files: %v", err)
	}
	alerts := map[string]bool{}
	alertRe := regexp.MustCompile(`^\s*- alert:\s*(\S+)\s*$`)
	urlRe := regexp.MustCompile(`^\s*runbook_url:\s*(\S+)\s*$`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		current := ""
		for _, line := range strings.Split(string(b), "\n") {
			if m := alertRe.FindStringSubmatch(line); m != nil {
				if current != "" {
					t.Errorf("%s: alert %s has no runbook_url", filepath.Base(f), current)
				}
				current = m[1]
				alerts[current] = true
				continue
			}
			if m := urlRe.FindStringSubmatch(line); m != nil && current != "" {
				want := opsRunbookBase + opsSlug(current)
				if m[1] != want {
					t.Errorf("%s: %s runbook_url is %s, want %s", filepath.Base(f), current, m[1], want)
				}
				if !slices.Contains(doc.headings, "### "+current) {
					t.Errorf("%s has no section \"### %s\"", opsDocPath, current)
				}
				current = ""
			}
		}
		if current != "" {
			t.Errorf("%s: alert %s has no runbook_url", filepath.Base(f), current)
		}
	}
	if len(alerts) == 0 {
		t.Fatal("no alerts found in deploy/prometheus/rules")
	}
	// The runbook sections: the ### headings of "## Alerts and runbooks".
	in := false
	for _, h := range doc.headings {
		switch {
		case h == "## Alerts and runbooks":
			in = true
		case strings.HasPrefix(h, "## "):
			in = false
		case in && strings.HasPrefix(h, "### ") && !alerts[strings.TrimPrefix(h, "### ")]:
			t.Errorf("%s has a runbook %q for no alert of deploy/prometheus/rules", opsDocPath, h)
		}
	}
	for _, m := range regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(doc.text, -1) {
		if !anchors[m[1]] {
			t.Errorf("%s links to #%s, which is no heading of it", opsDocPath, m[1])
		}
	}
	// The sections other engineers fill in keep their exact headings.
	for _, h := range []string{"## Backup and restore", "## Signing-key rotation", "## Upgrades and rollback"} {
		if !slices.Contains(doc.headings, h) {
			t.Errorf("%s has no heading %q", opsDocPath, h)
		}
	}
}
