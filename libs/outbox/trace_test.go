package outbox_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/outbox"
)

// recordSpans makes the global tracer provider record into the returned
// recorder for the rest of the test.
func recordSpans(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	// After it, spans are not recorded (the no-op provider continues the
	// caller's span context, as the global's default does).
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()); _ = tp.Shutdown(context.Background()) })
	return rec
}

// The relay publishes a row added in a trace under a producer span that is
// the child of the span that added it (its context restored from the row),
// and the message's traceparent names the publish span, so that the
// consumers' spans are its children; a row added without a trace is
// published without a span or a traceparent.
func TestRelayPublishesUnderAChildOfTheAddingSpan(t *testing.T) {
	rec := recordSpans(t)
	pool, brokers, ctx := setup(t, eventbus.TopicPortfolio)
	tctx, _ := tracedContext()
	adding := trace.SpanContextFromContext(tctx)
	traced := pending{eventbus.TopicPortfolio, "1", portfolioEvent(t, 1)}
	add(t, tctx, pool, true, traced)
	add(t, ctx, pool, true, pending{eventbus.TopicPortfolio, "2", portfolioEvent(t, 2)})

	msgs := relayAll(t, pool, brokers, 2)
	var publish sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == eventbus.TopicPortfolio+" publish" {
			if publish != nil {
				t.Fatalf("two publish spans: %v and %v", publish.SpanContext().SpanID(), s.SpanContext().SpanID())
			}
			publish = s
		}
	}
	if publish == nil {
		t.Fatalf("no publish span among %d ended spans", len(rec.Ended()))
	}
	if publish.SpanKind() != trace.SpanKindProducer || publish.Parent().SpanID() != adding.SpanID() ||
		publish.SpanContext().TraceID() != adding.TraceID() {
		t.Fatalf("publish span: kind %v, parent %v, trace %v; want a producer under %v of trace %v",
			publish.SpanKind(), publish.Parent().SpanID(), publish.SpanContext().TraceID(), adding.SpanID(), adding.TraceID())
	}
	want := "00-" + adding.TraceID().String() + "-" + publish.SpanContext().SpanID().String() + "-01"
	for _, m := range msgs {
		env, err := eventbus.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		got := eventbus.HeaderValue(m.Headers, eventbus.HeaderTraceparent)
		if env.ID == traced.env.ID && got != want {
			t.Errorf("traced event's traceparent = %q, want the publish span's %q", got, want)
		}
		if env.ID != traced.env.ID && got != "" {
			t.Errorf("untraced event's traceparent = %q, want none", got)
		}
	}
}

// An Event's own Context gives its row that context's trace rather than
// AddAll's (a batch of consumed events writes each event's own).
func TestAddAllKeepsEachEventsOwnTrace(t *testing.T) {
	pool, brokers, ctx := setup(t, eventbus.TopicPortfolio)
	tctx, traceparent := tracedContext()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	own := outbox.Event{Topic: eventbus.TopicPortfolio, Key: "1", Envelope: portfolioEvent(t, 1), Context: tctx}
	plain := outbox.Event{Topic: eventbus.TopicPortfolio, Key: "2", Envelope: portfolioEvent(t, 2)}
	if err := outbox.AddAll(ctx, tx, own, plain); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range relayAll(t, pool, brokers, 2) {
		env, err := eventbus.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if env.ID == own.Envelope.ID {
			want = traceparent
		}
		if got := eventbus.HeaderValue(m.Headers, eventbus.HeaderTraceparent); got != want {
			t.Errorf("traceparent of %s = %q, want %q", env.ID, got, want)
		}
	}
}
