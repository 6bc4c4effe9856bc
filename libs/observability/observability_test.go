package observability

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/fundplatform/platform/libs/httpx"
)

func TestLoggerAddsTraceAndRequestIDs(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, "auth", "info", "json")
	otel.SetTextMapPropagator(propagation.TraceContext{})
	// A request arriving with a traceparent: the handler's logs carry its trace id.
	h := HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "handled")
	}), "auth")
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set(httpx.RequestIDHeader, "req-1")
	h.ServeHTTP(httptest.NewRecorder(), req)

	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line is not JSON: %q", buf.String())
	}
	if rec["service"] != "auth" || rec["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || rec["request_id"] != "req-1" || rec["msg"] != "handled" {
		t.Fatalf("log record = %v", rec)
	}

	buf.Reset()
	NewLogger(&buf, "auth", "warn", "json").InfoContext(context.Background(), "hidden")
	if buf.Len() != 0 {
		t.Fatalf("info logged at level warn: %s", buf.String())
	}
}

func TestHTTPMetricsByRoute(t *testing.T) {
	reg, wrapped := NewRegistry("auth")
	m := NewHTTPMetrics(wrapped, nil)
	r := httpx.NewRouter(m.Wrap)
	r.Handle("GET", "/api/v1/users/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "0" {
			httpx.WriteError(r.Context(), w, httpx.ErrNotFound)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	for _, p := range []string{"/api/v1/users/1", "/api/v1/users/2", "/api/v1/users/0", "/nope"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	want := `
# HELP fund_http_requests_total HTTP requests handled, by route pattern, method and status code.
# TYPE fund_http_requests_total counter
fund_http_requests_total{method="GET",route="GET /api/v1/users/{id}",service="auth",status="200"} 2
fund_http_requests_total{method="GET",route="GET /api/v1/users/{id}",service="auth",status="404"} 1
fund_http_requests_total{method="GET",route="unmatched",service="auth",status="404"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fund_http_requests_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "fund_http_request_duration_seconds"); n != 2 {
		t.Fatalf("latency series = %d, want 2 (one per route)", n)
	}
}
