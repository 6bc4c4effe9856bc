package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/stack"
	"github.com/fundplatform/platform/libs/testkit"
)

const prometheusBin = "/usr/bin/prometheus"

// alertThreshold matches an alert expression's trailing comparison with a
// number ("… > 0.05", "up == 0"). A healthy stack fires no alert, so the
// comparison filters every series out; the test queries what is left of the
// expression once the comparison is stripped, which must return series.
var alertThreshold = regexp.MustCompile(`(?s)^(.*?)\s*(==|!=|>=|<=|>|<)\s*(bool\s+)?[-+]?[0-9.]+(e[-+]?[0-9]+)?\s*$`)

// grafanaVars are the Grafana variables dashboards use, with what stands in
// for them in a plain PromQL query.
var grafanaVars = strings.NewReplacer(
	"${service}", ".+", "$service", ".+",
	"$__rate_interval", "1m", "${__rate_interval}", "1m",
	"$__interval", "1m", "${__interval}", "1m",
)

type promExpr struct {
	origin string // where the expression comes from, for messages
	expr   string
}

// TestPrometheusDashboardsAndRules starts the stack and a real Prometheus
// scraping every service with the repository's rules, drives traffic
// through the edge, and checks that every expression of every dashboard
// panel and every rule returns at least one series: no dashboard or alert
// is built on a metric nobody exports.
func TestPrometheusDashboardsAndRules(t *testing.T) {
	if _, err := os.Stat(prometheusBin); err != nil {
		t.Fatalf("%s not found (make deps installs the prometheus package): %v", prometheusBin, err)
	}
	repo := repoRoot(t)
	s, _ := runStack(t, repo, func(c *stack.Config) { c.RepoDir, c.PostgresExporters = repo, true })
	ready := s.Ready()
	if len(ready.Services) != len(edge.Services) {
		t.Fatalf("services started %v, skipped %v", ready.Services, ready.Skipped)
	}

	// Prometheus, scraping every service every second.
	ruleFiles, err := filepath.Glob(filepath.Join(repo, "deploy", "prometheus", "rules", "*.yml"))
	if err != nil || len(ruleFiles) == 0 {
		t.Fatalf("no rule files under deploy/prometheus/rules: %v", err)
	}
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files:\n")
	for _, f := range ruleFiles {
		fmt.Fprintf(&cfg, "  - %q\n", f)
	}
	cfg.WriteString("scrape_configs:\n  - job_name: fund-services\n    metrics_path: /metrics\n    static_configs:\n      - targets:\n")
	// Every replica: requests through the edge land on any of them.
	for _, svc := range ready.Services {
		for _, r := range svc.Replicas {
			fmt.Fprintf(&cfg, "          - \"127.0.0.1:%d\"\n", r.Port)
		}
	}
	// The PostgreSQL exporters the stack runs per service database
	// (`make deps` installs the exporter; the rules need its metrics).
	if len(ready.Exporters) != len(ready.Services) {
		t.Fatalf("%d PostgreSQL exporters for %d services: is %s installed (make deps)?",
			len(ready.Exporters), len(ready.Services), stack.ExporterBinary)
	}
	cfg.WriteString("  - job_name: postgres\n    static_configs:\n")
	for _, e := range ready.Exporters {
		fmt.Fprintf(&cfg, "      - targets: [%q]\n        labels: {service: %q}\n", strings.TrimPrefix(e.URL, "http://"), e.Service)
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	promURL := "http://" + testkit.FreeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	promOut := &testkit.SyncBuffer{}
	cmd := exec.CommandContext(ctx, prometheusBin, "--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+strings.TrimPrefix(promURL, "http://"))
	cmd.Stdout, cmd.Stderr = promOut, promOut
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s\nconfig:\n%s", promOut, cfg.String())
		}
	}()
	testkit.Poll(t, 30*time.Second, 200*time.Millisecond, "prometheus ready", func() bool {
		resp, err := http.Get(promURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// Traffic through the edge: logins (one failed), a 404, the profit flow
	// so that outbox and consumer metrics appear.
	admin := login(t, ready.EdgeURL, ready.AdminEmail, ready.AdminPassword)
	client{t: t, edge: ready.EdgeURL}.call("POST", "/api/v1/auth/login",
		map[string]string{"email": ready.AdminEmail, "password": "wrong-password"})
	if r := admin.call("GET", "/api/v1/portfolios/987654321", nil); r.status != 404 {
		t.Fatalf("GET unknown portfolio = %d %s, want 404", r.status, r.Data)
	}
	var team, alice, pf struct {
		ID int64 `json:"id"`
	}
	admin.must(201, "POST", "/api/v1/teams", map[string]string{"name": "Desk"}, &team)
	admin.must(201, "POST", "/api/v1/users", map[string]string{"email": "alice@example.com", "username": "alice",
		"password": "alice-password-123", "role": "user"}, &alice)
	admin.must(200, "PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", team.ID, alice.ID), nil, nil)
	admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Growth", "description": "e2e",
		"user_id": alice.ID, "team_id": team.ID, "currency": "USD"}, &pf)
	navPath := fmt.Sprintf("/api/v1/portfolios/%d/nav", pf.ID)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for day, value := range []string{"1000", "1100", "1050", "1200"} {
		admin.must(201, "POST", navPath, map[string]any{"as_of": t0.AddDate(0, 0, day).Format(time.RFC3339), "nav": value},
			nil, "Idempotency-Key", fmt.Sprintf("nav-%d", day))
	}
	admin.ratio(pf.ID, "0.2000", "0.1000", "0.7000")
	admin.must(200, "GET", fmt.Sprintf("/api/v1/profit/allocations?portfolio_id=%d", pf.ID), nil, nil)
	// The SLO journeys' routes (rules/slo.yml): a stats read and a
	// withdrawal request (answered, whatever the balance).
	admin.must(200, "GET", "/api/v1/stats/overview", nil, nil)
	if r := admin.call("POST", "/api/v1/withdrawals", map[string]any{"from_type": "platform", "owner_id": 0,
		"amount": "0.01", "currency": "USD"}, "Idempotency-Key", "e2e-prometheus-withdrawal"); r.status >= 500 {
		t.Fatalf("POST /withdrawals = %d %s", r.status, r.Data)
	}

	// One message its consumers cannot decode, so that they dead-letter it
	// and the result="dlq" series exist.
	kcl, err := kgo.NewClient(kgo.SeedBrokers(ready.KafkaBrokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	if err := kcl.ProduceSync(ctx, &kgo.Record{Topic: "portfolio.events", Key: []byte("e2e-dlq"),
		Value: []byte("not an event")}).FirstErr(); err != nil {
		t.Fatalf("produce undecodable message: %v", err)
	}

	exprs := dashboardExprs(t, repo)
	rules := ruleExprs(t, promURL, ruleFiles)
	exprs = append(exprs, rules...)

	// Scrapes happen every second and rules are evaluated every second:
	// wait at least 10 s, then until every expression returns a series.
	time.Sleep(10 * time.Second)
	var empty []string
	deadline := time.Now().Add(45 * time.Second)
	for {
		empty = empty[:0]
		for _, e := range exprs {
			if n := querySeries(t, promURL, e.expr); n == 0 {
				empty = append(empty, fmt.Sprintf("%s: %s", e.origin, e.expr))
			}
		}
		if len(empty) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, e := range empty {
		t.Errorf("no series for %s", e)
	}
	t.Logf("%d expressions checked (%d from rules)", len(exprs), len(rules))
}

// dashboardExprs returns the expr of every panel target of every dashboard,
// with the Grafana variables replaced.
func dashboardExprs(t *testing.T, repo string) []promExpr {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repo, "deploy", "grafana", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards under deploy/grafana/dashboards: %v", err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"` // rows hold panels
	}
	var exprs []promExpr
	var walk func(file string, raw []json.RawMessage)
	walk = func(file string, raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					continue
				}
				exprs = append(exprs, promExpr{origin: fmt.Sprintf("%s panel %q", file, p.Title), expr: grafanaVars.Replace(tg.Expr)})
			}
			walk(file, p.Panels)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []json.RawMessage `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(filepath.Base(f), d.Panels)
	}
	if len(exprs) == 0 {
		t.Fatal("no panel expressions in the dashboards")
	}
	return exprs
}

// ruleExprs returns the expression of every rule Prometheus loaded from the
// repository's rule files (it parsed them; the count is checked against the
// files), alert expressions with their trailing threshold stripped, and the
// name of every recording rule (its output must exist too). Rules on kube_*
// metrics are skipped: those come from kube-state-metrics in a cluster, not
// from the services.
func ruleExprs(t *testing.T, promURL string, files []string) []promExpr {
	t.Helper()
	want := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want += len(regexp.MustCompile(`(?m)^\s*-\s*(alert|record):`).FindAll(b, -1))
	}
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Type  string `json:"type"` // alerting or recording
					Name  string `json:"name"`
					Query string `json:"query"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	getJSON(t, promURL+"/api/v1/rules", &body)
	var exprs []promExpr
	got := 0
	for _, g := range body.Data.Groups {
		for _, r := range g.Rules {
			got++
			origin := fmt.Sprintf("rule %s/%s", g.Name, r.Name)
			if strings.Contains(r.Query, "kube_") {
				t.Logf("skipped %s: kube_* metrics come from kube-state-metrics, not the services", origin)
				continue
			}
			q := r.Query
			if r.Type == "alerting" {
				m := alertThreshold.FindStringSubmatch(q)
				if m == nil {
					t.Fatalf("%s: alert expression %q does not end in a comparison with a number", origin, q)
				}
				q = m[1]
			} else {
				exprs = append(exprs, promExpr{origin: origin + " (its output)", expr: r.Name})
			}
			exprs = append(exprs, promExpr{origin: origin, expr: q})
		}
	}
	if got != want {
		t.Fatalf("prometheus loaded %d rules, the rule files define %d", got, want)
	}
	return exprs
}

// querySeries returns how many series an instant query returns.
func querySeries(t *testing.T, promURL, expr string) int {
	t.Helper()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	getJSON(t, promURL+"/api/v1/query?query="+url.QueryEscape(expr), &body)
	if body.Status != "success" {
		t.Fatalf("query %s: %s", expr, body.Error)
	}
	if body.Data.ResultType != "vector" {
		t.Fatalf("query %s returned a %s, want a vector", expr, body.Data.ResultType)
	}
	return len(body.Data.Result)
}

func getJSON(t *testing.T, u string, out any) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
}
