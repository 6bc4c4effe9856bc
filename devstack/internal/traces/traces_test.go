package traces

import (
	"strings"
	"testing"
)

// Two export requests as the collector's file exporter writes them, and a
// last line cut short (still being written).
const sample = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"edge"}}]},"scopeSpans":[{"scope":{},"spans":[{"traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"b7ad6b7169203331","name":"edge POST /x","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":"5000","attributes":[{"key":"n","value":{"intValue":"3"}}],"status":{}}]}]}]}
{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"profit"}}]},"scopeSpans":[{"scope":{},"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"00f067aa0ba902b7","parentSpanId":"b7ad6b7169203331","name":"portfolio.events process","kind":5,"startTimeUnixNano":"2000","endTimeUnixNano":"3000","attributes":[{"key":"messaging.message.id","value":{"stringValue":"ev-1"}},{"key":"ok","value":{"boolValue":true}}],"status":{"code":2,"message":"boom"}},{"traceId":"11111111111111111111111111111111","spanId":"2222222222222222","name":"other","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2","status":{}}]}]}]}
{"resourceSpans":[{"resource":`

func TestReadFindAndFormat(t *testing.T) {
	spans, err := Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	const id = "0af7651916cd43dd8448eb211c80319c"
	if got := TraceIDsWith(spans, "messaging.message.id", "ev-1"); len(got) != 1 || got[0] != id {
		t.Fatalf("traces with the event = %v", got)
	}
	trace := Trace(spans, id)
	if len(trace) != 2 || trace[0].Service != "edge" || trace[0].Kind != KindServer || trace[0].Attributes["n"] != "3" {
		t.Fatalf("trace = %+v", trace)
	}
	c := trace[1]
	if c.Service != "profit" || c.Kind != KindConsumer || c.ParentSpanID != trace[0].SpanID || c.Error != "boom" || c.Attributes["ok"] != "true" {
		t.Fatalf("consumer span = %+v", c)
	}
	var b strings.Builder
	Format(&b, trace)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "edge ") || !strings.HasPrefix(lines[1], "  profit ") ||
		!strings.Contains(lines[0], "4µs") || !strings.Contains(lines[1], "ERROR: boom") {
		t.Fatalf("tree:\n%s", b.String())
	}
	// A span whose parent never arrived is marked.
	b.Reset()
	Format(&b, trace[1:])
	if !strings.Contains(b.String(), "(parent b7ad6b7169203331 not received)") {
		t.Fatalf("orphan not marked:\n%s", b.String())
	}
}

func TestReadRefusesABrokenLineBeforeTheLast(t *testing.T) {
	if _, err := Read(strings.NewReader("{not json\n" + sample)); err == nil {
		t.Fatal("a broken line that is not the last was accepted")
	}
}
