package observability

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"

	"github.com/fundplatform/platform/libs/observability/otlptest"
	"github.com/fundplatform/platform/libs/testkit"
)

func TestTracingExportsSpansNamedAfterTheService(t *testing.T) {
	recv := otlptest.Start()
	defer recv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL())
	var logs bytes.Buffer
	shutdown := SetupTracing(context.Background(), "profit", NewLogger(&logs, "profit", "info", "json"))

	_, span := otel.Tracer("test").Start(context.Background(), "allocate")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v\nlogs: %s", err, logs.String())
	}
	if got := recv.Spans(); len(got) != 1 || got[0].Service != "profit" || got[0].Name != "allocate" {
		t.Fatalf("received spans %v, want one: allocate from profit; logs: %s", got, logs.String())
	}
	if strings.Contains(logs.String(), `"level":"WARN"`) || strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Fatalf("tracing logged a problem: %s", logs.String())
	}
}

func TestTracingToAnUnreachableCollectorFailsSafe(t *testing.T) {
	addr := testkit.FreeAddr(t) // nothing listens there
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	var logs testkit.SyncBuffer
	shutdown := SetupTracing(context.Background(), "auth", NewLogger(&logs, "auth", "info", "json"))

	_, span := otel.Tracer("test").Start(context.Background(), "login")
	span.End()
	_ = shutdown(context.Background()) // bounded; the error, if any, is logged
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"tracing: `) || !strings.Contains(logs.String(), addr) {
		t.Fatalf("the failed export is not logged: %s", logs.String())
	}
	t.Logf("logs: %s", logs.String())
}
