package observability

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace endpoint that keeps what it receives.
type otlpReceiver struct {
	mu   sync.Mutex
	reqs []*coltracepb.ExportTraceServiceRequest
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	req := &coltracepb.ExportTraceServiceRequest{}
	if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	o.reqs = append(o.reqs, req)
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(nil)
}

// spans returns "service.name/span name" of every span received.
func (o *otlpReceiver) spans() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, req := range o.reqs {
		for _, rs := range req.GetResourceSpans() {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					out = append(out, service+"/"+sp.GetName())
				}
			}
		}
	}
	return out
}

func TestTracingExportsSpansNamedAfterTheService(t *testing.T) {
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	var logs bytes.Buffer
	shutdown := SetupTracing(context.Background(), "profit", NewLogger(&logs, "profit", "info", "json"))

	_, span := otel.Tracer("test").Start(context.Background(), "allocate")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v\nlogs: %s", err, logs.String())
	}
	if got := recv.spans(); len(got) != 1 || got[0] != "profit/allocate" {
		t.Fatalf("received spans %v, want [profit/allocate]; logs: %s", got, logs.String())
	}
	if strings.Contains(logs.String(), `"level":"WARN"`) || strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Fatalf("tracing logged a problem: %s", logs.String())
	}
}

func TestTracingToAnUnreachableCollectorFailsSafe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there any more
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	var logs syncBuffer
	shutdown := SetupTracing(context.Background(), "auth", NewLogger(&logs, "auth", "info", "json"))

	_, span := otel.Tracer("test").Start(context.Background(), "login")
	span.End()
	_ = shutdown(context.Background()) // bounded; the error, if any, is logged
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"tracing: `) || !strings.Contains(logs.String(), addr) {
		t.Fatalf("the failed export is not logged: %s", logs.String())
	}
	t.Logf("logs: %s", logs.String())
}

// syncBuffer is a bytes.Buffer safe for the exporter's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
