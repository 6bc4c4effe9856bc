package edge

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// With a tracer provider the edge records a server span per request (a
// child of the client's traceparent) and a client span per proxied call,
// sends the backend the client span's traceparent and logs the trace id
// on the access line.
func TestTracedEdgeRecordsSpansAndPropagatesThem(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	edge, logs := newEdge(t, Config{Backends: startBackends(t), TracerProvider: tp})

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	_, body := get(t, edge.URL+"/api/v1/withdrawals", map[string]string{"traceparent": "00-" + traceID + "-" + callerSpan + "-01"})
	var got backendEcho
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	var server, client sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindServer:
			server = s
		case trace.SpanKindClient:
			client = s
		}
	}
	if server == nil || client == nil {
		t.Fatalf("spans ended: %d, want a server and a client span", len(rec.Ended()))
	}
	if server.SpanContext().TraceID().String() != traceID || server.Parent().SpanID().String() != callerSpan {
		t.Errorf("server span: trace %s parent %s, want the caller's", server.SpanContext().TraceID(), server.Parent().SpanID())
	}
	if client.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("client span's parent %s, want the server span %s", client.Parent().SpanID(), server.SpanContext().SpanID())
	}
	if want := "00-" + traceID + "-" + client.SpanContext().SpanID().String() + "-01"; got.Traceparent != want {
		t.Errorf("backend got traceparent %q, want the client span's %q", got.Traceparent, want)
	}
	if !strings.Contains(logs.String(), `"trace_id":"`+traceID+`"`) {
		t.Errorf("access log without the trace id:\n%s", logs)
	}
}
