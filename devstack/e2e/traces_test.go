package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fundplatform/platform/devstack/internal/traces"
	"github.com/fundplatform/platform/devstack/stack"
	"github.com/fundplatform/platform/libs/eventbus"
)

// buildCollector builds the dev stack's trace collector (devstack/otelcol,
// its own module outside the workspace) into dir, as make build does.
func buildCollector(t *testing.T, repo, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, stack.CollectorBinary), ".")
	cmd.Dir = filepath.Join(repo, "devstack", "otelcol")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the collector: %v\n%s", err, out)
	}
}

// TestCrossServiceTrace records a NAV through the edge of a stack running
// its trace collector and finds, in the collector's output, the one trace
// that follows it through every service: the edge's server span, then
// portfolio's handler, portfolio's outbox publish, profit's consume and
// its own publish of the allocation, and withdrawal's and stats' consume
// of that, each the child of the one before (the consumers of the
// producer's publish span), and a service's log line carrying the trace
// id. Any hop that loses the trace context splits it in two and fails the
// test.
func TestCrossServiceTrace(t *testing.T) {
	repo := repoRoot(t)
	s, out := runStack(t, repo, func(cfg *stack.Config) {
		buildCollector(t, repo, cfg.BinDir)
		cfg.CollectorConfig = filepath.Join(repo, stack.CollectorConfig)
	})
	ready := s.Ready()
	if ready.TracesFile == "" || !strings.Contains(out.String(), ready.TracesFile) {
		t.Fatalf("the stack runs no trace collector (traces file %q), or its banner does not show it", ready.TracesFile)
	}
	admin := login(t, ready.EdgeURL, ready.AdminEmail, ready.AdminPassword)
	var team, owner, pf struct {
		ID int64 `json:"id"`
	}
	admin.must(201, "POST", "/api/v1/teams", map[string]string{"name": "Traced"}, &team)
	admin.must(201, "POST", "/api/v1/users", map[string]string{"email": "tracy@example.com", "username": "tracy",
		"password": "tracy-password-123", "role": "user"}, &owner)
	admin.must(200, "PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", team.ID, owner.ID), nil, nil)
	admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Traced", "description": "e2e",
		"user_id": owner.ID, "team_id": team.ID, "currency": "USD"}, &pf)
	admin.ratio(pf.ID, "0.2000", "0.1000", "0.7000")
	navPath := fmt.Sprintf("/api/v1/portfolios/%d/nav", pf.ID)
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	admin.must(201, "POST", navPath, map[string]any{"as_of": t0.Format(time.RFC3339), "nav": "1000"}, nil)
	// The traced NAV: +100, allocated at once (the ratio is set).
	rid := fmt.Sprintf("trace-e2e-%d", time.Now().UnixNano())
	admin.must(201, "POST", navPath, map[string]any{"as_of": t0.AddDate(0, 0, 1).Format(time.RFC3339), "nav": "1100"}, nil,
		"X-Request-Id", rid)

	// The edge's access line of the request names its trace.
	traceID := logTraceID(t, out.String(), "edge", rid)
	// A service logs the request under the same trace id.
	if got := logTraceID(t, out.String(), "portfolio", rid); got != traceID {
		t.Fatalf("portfolio logged request %s under trace %s, the edge under %s", rid, got, traceID)
	}

	var chain map[string]traces.Span
	var last []traces.Span
	deadline := time.Now().Add(60 * time.Second)
	for {
		spans, err := traces.ReadFile(ready.TracesFile)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		last = traces.Trace(spans, traceID)
		if chain, err = navChain(last); err == nil {
			break
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			traces.Format(&b, last)
			t.Fatalf("trace %s of the NAV: %v\n%s", traceID, err, b.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	var b strings.Builder
	traces.Format(&b, last)
	t.Logf("trace %s (%d spans):\n%s", traceID, len(last), b.String())
	if root := chain["edge"]; root.ParentSpanID != "" {
		t.Errorf("the edge's span has parent %s: the trace should start at the edge", root.ParentSpanID)
	}
}

// logTraceID is the trace_id of the line that process tag (a service's
// replicas too) logged about request rid.
func logTraceID(t *testing.T, logs, tag, rid string) string {
	t.Helper()
	re := regexp.MustCompile(`"trace_id":"([0-9a-f]{32})"`)
	for _, line := range strings.Split(logs, "\n") {
		if !strings.HasPrefix(line, tag) || !strings.Contains(line, `"request_id":"`+rid+`"`) {
			continue
		}
		if m := re.FindStringSubmatch(line); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no %s log line of request %s carries a trace_id", tag, rid)
	return ""
}

// navChain finds, in the spans of one trace, the path of a NAV: the
// edge's server span, portfolio's handler under it, portfolio's publish of
// portfolio.profit_recorded under that, profit's consume of it (the
// publish span's child), profit's publish of profit.allocated under that,
// and withdrawal's and stats' consume of it (its children). The error says
// which hop is missing.
func navChain(trace []traces.Span) (map[string]traces.Span, error) {
	byID := traces.ByID(trace)
	find := func(what string, ok func(traces.Span) bool) (traces.Span, error) {
		for _, s := range trace {
			if ok(s) {
				return s, nil
			}
		}
		return traces.Span{}, fmt.Errorf("no span of %s in the trace (%d spans)", what, len(trace))
	}
	under := func(s traces.Span, ancestor string) bool { // s descends from ancestor
		for p, ok := byID[s.ParentSpanID]; ok; p, ok = byID[p.ParentSpanID] {
			if p.SpanID == ancestor {
				return true
			}
		}
		return false
	}
	is := func(service string, kind int) func(traces.Span) bool {
		return func(s traces.Span) bool { return s.Service == service && s.Kind == kind }
	}
	c := map[string]traces.Span{}
	steps := []struct {
		name string
		ok   func(traces.Span) bool
	}{
		{"edge", is("edge", traces.KindServer)},
		{"portfolio handler", func(s traces.Span) bool {
			return is("portfolio", traces.KindServer)(s) && under(s, c["edge"].SpanID)
		}},
		{"portfolio publish", func(s traces.Span) bool {
			return is("portfolio", traces.KindProducer)(s) && s.Attributes["cloudevents.event_type"] == eventbus.TypePortfolioProfitRecorded &&
				under(s, c["portfolio handler"].SpanID)
		}},
		{"profit consume", func(s traces.Span) bool {
			return is("profit", traces.KindConsumer)(s) && s.ParentSpanID == c["portfolio publish"].SpanID
		}},
		{"profit publish", func(s traces.Span) bool {
			return is("profit", traces.KindProducer)(s) && s.Attributes["cloudevents.event_type"] == eventbus.TypeProfitAllocated &&
				under(s, c["profit consume"].SpanID)
		}},
		{"withdrawal consume", func(s traces.Span) bool {
			return is("withdrawal", traces.KindConsumer)(s) && s.ParentSpanID == c["profit publish"].SpanID
		}},
		{"stats consume", func(s traces.Span) bool {
			return is("stats", traces.KindConsumer)(s) && s.ParentSpanID == c["profit publish"].SpanID
		}},
	}
	for _, st := range steps {
		s, err := find(st.name, st.ok)
		if err != nil {
			return nil, err
		}
		c[st.name] = s
	}
	return c, nil
}
