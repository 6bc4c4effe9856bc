// Package otlptest is an OTLP/HTTP trace receiver for tests: it listens on
// 127.0.0.1, decodes every export (POST /v1/traces, protobuf) and keeps the
// spans, so a test can see what a service really exported.
package otlptest

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one received span: its trace id (hex), the service.name of its
// resource and its name.
type Span struct {
	TraceID, Service, Name string
}

// Receiver is a running receiver; Close stops it.
type Receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []Span
}

// Start starts a receiver on a free port of 127.0.0.1.
func Start() *Receiver {
	r := &Receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.export))
	return r
}

// URL is the receiver's base URL (http://127.0.0.1:port), the value of
// OTEL_EXPORTER_OTLP_ENDPOINT that reaches it.
func (r *Receiver) URL() string { return r.srv.URL }

// Addr is the receiver's host:port.
func (r *Receiver) Addr() string { return r.srv.Listener.Addr().String() }

// Close stops the receiver.
func (r *Receiver) Close() { r.srv.Close() }

// Spans returns every span received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Has reports whether a span of the trace traceID from service arrived.
func (r *Receiver) Has(traceID, service string) bool {
	for _, s := range r.Spans() {
		if s.TraceID == traceID && s.Service == service {
			return true
		}
	}
	return false
}

func (r *Receiver) export(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 16<<20))
	in := &coltracepb.ExportTraceServiceRequest{}
	if err != nil || req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || proto.Unmarshal(body, in) != nil {
		http.Error(w, "not an OTLP/HTTP trace export", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range in.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				r.spans = append(r.spans, Span{TraceID: hex.EncodeToString(sp.GetTraceId()), Service: service, Name: sp.GetName()})
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}
