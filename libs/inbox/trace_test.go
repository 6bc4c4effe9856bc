package inbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/testkit"
)

// A BatchHandler finds each event's own trace through inbox.EventContext,
// although the batch is applied in one call (what it writes for an event,
// an outbox row above all, then continues that event's trace).
func TestBatchHandlerFindsEachEventsTrace(t *testing.T) {
	pool, brokers, ctx := setup(t, 25*time.Second, topic, eventbus.DLQTopic(topic))
	want := map[string]string{} // event id → its producer's trace id
	var msgs []kafka.Message
	for i := range 5 {
		tid, _ := trace.TraceIDFromHex(fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e47%02d", i))
		sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
		tctx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
		env := ratioEvent(t, i+1)
		want[env.ID] = tid.String()
		msgs = append(msgs, message(t, tctx, "1", env))
	}
	produce(t, ctx, brokers, msgs...) // one partition, so that they can share a batch
	var mu sync.Mutex
	got := map[string]string{}
	c := start(t, pool, brokers, "stats", record, func(cfg *inbox.Config) {
		cfg.BatchSize = 10
		cfg.BatchHandler = func(ctx context.Context, tx pgx.Tx, envs []eventbus.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			for _, env := range envs {
				got[env.ID] = trace.SpanContextFromContext(inbox.EventContext(ctx, env.ID)).TraceID().String()
			}
			return nil
		}
	})
	testkit.Eventually(t, 20*time.Second, "all 5 messages done", func() bool { return storedTotal(t, pool, "stats") == 5 })
	c.stop()
	mu.Lock()
	defer mu.Unlock()
	for id, tid := range want {
		if got[id] != tid {
			t.Errorf("event %s: the batch handler saw trace %q, want its producer's %s", id, got[id], tid)
		}
	}
}
