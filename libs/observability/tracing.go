package observability

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/fundplatform/platform/libs/httpx"
)

// SetupTracing installs the W3C trace-context propagator and, when
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set,
// a tracer provider exporting spans over OTLP/HTTP (the exporter reads the
// standard OTEL_* variables). Without an endpoint, spans are not recorded but
// incoming trace context is still propagated, so logs and events carry the
// caller's trace id. The returned function flushes and stops the exporter.
//
// Tracing is optional, so it fails safe: a collector that is down or
// unreachable never stops the service (the exporter retries in the
// background and each failed export is logged as a warning), and an exporter
// that cannot be built at all is logged and tracing stays off.
func SetupTracing(ctx context.Context, service string, log *slog.Logger) func(context.Context) error {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	noop := func(context.Context) error { return nil }
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return noop
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: span export failed", "error", err.Error())
	}))
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		log.Error("tracing is off: the OTLP exporter cannot be set up", "error", err.Error())
		return noop
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(tracingResource(service, log)))
	otel.SetTracerProvider(tp)
	log.Info("tracing: exporting spans over OTLP/HTTP")
	// The last flush is bounded: with the collector down, the exporter's
	// retries would otherwise outlast the pod's termination grace period.
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, tracingShutdownTimeout)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("tracing: the last spans were not exported", "error", err.Error())
			return err
		}
		return nil
	}
}

// tracingShutdownTimeout bounds the flush of the spans still buffered at exit.
const tracingShutdownTimeout = 5 * time.Second

// tracingResource describes the process: the SDK's defaults (telemetry SDK,
// OTEL_RESOURCE_ATTRIBUTES) with service.name set to the service. The
// service name carries no schema URL, so it merges with whatever semantic
// conventions version the SDK's defaults use.
func tracingResource(service string, log *slog.Logger) *resource.Resource {
	own := resource.NewSchemaless(attribute.String("service.name", service))
	res, err := resource.Merge(resource.Default(), own)
	if err != nil {
		log.Warn("tracing: the default resource does not merge; spans carry the service name only", "error", err.Error())
		return own
	}
	return res
}

// HTTPHandler wraps a service's routes with what every request gets: a
// server span continuing the caller's W3C trace context, and a request id
// (kept from X-Request-Id or new) in the context, the logs and the response;
// a panic becomes a 500 envelope.
func HTTPHandler(h http.Handler, service string) http.Handler {
	return otelhttp.NewHandler(httpx.RequestIDMiddleware(httpx.Recover(h)), service,
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}
