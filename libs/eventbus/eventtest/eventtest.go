// Package eventtest is what the tests of every service's events package
// (the Kafka consumer) share: events built as their producers build them,
// a feed of handlers as the inbox consumer feeds them, the consumer (and
// the outbox relay) run against an in-process broker until the test ends,
// and the fuzz table of each event type's data (libs/inbox/inboxfuzz).
package eventtest

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/testkit"
)

// Envelope is the event of eventType about subject with data, as source
// publishes it (eventbus.NewEnvelope). It is not checked against the
// schema, so that a test can build a broken event too.
func Envelope(t testing.TB, source, eventType, subject string, data any) eventbus.Envelope {
	t.Helper()
	env, err := eventbus.NewEnvelope(source, eventType, subject, data)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Valid is Envelope checked against the type's JSON Schema.
func Valid(t testing.TB, source, eventType, subject string, data any) eventbus.Envelope {
	t.Helper()
	env := Envelope(t, source, eventType, subject, data)
	value, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := eventbus.Validate(eventType, value); err != nil {
		t.Fatalf("%s does not match its schema: %v", eventType, err)
	}
	return env
}

// Publisher is a function that publishes events to topic under key (as
// their producer does: eventbus.Writer.Publish) and fails the test on an
// error. Its writer is closed when the test ends.
func Publisher(ctx context.Context, t testing.TB, brokers []string, topic, key string) func(envs ...eventbus.Envelope) {
	w := eventbus.NewWriter(brokers, topic)
	t.Cleanup(func() { _ = w.Close() })
	return func(envs ...eventbus.Envelope) {
		t.Helper()
		for _, env := range envs {
			if err := w.Publish(ctx, key, env); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// WaitFor polls cond until it holds, and fails the test when timeout
// passes first.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	testkit.Poll(t, timeout, 50*time.Millisecond, what, cond)
}

// Inbox feeds handlers over a database as the inbox consumer does: a run
// of events in one transaction, in which each event id is recorded in
// processed_events (partition 0, at the next offset) and only the events
// not recorded before are handled.
type Inbox struct {
	Pool    *pgxpool.Pool
	GroupID string
	offset  int64
}

// Apply applies envs as one run with h (nothing when every id was seen).
func (in *Inbox) Apply(envs []eventbus.Envelope, h inbox.BatchHandler) error {
	ctx := context.Background()
	return pg.InTx(ctx, in.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var fresh []eventbus.Envelope
		for _, env := range envs {
			in.offset++
			tag, err := tx.Exec(ctx, `INSERT INTO processed_events (group_id, event_id, topic, partition, "offset")
				VALUES ($1, $2, $3, 0, $4) ON CONFLICT DO NOTHING`, in.GroupID, env.ID, eventbus.TopicOf(env.Type), in.offset)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				fresh = append(fresh, env)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		return h(ctx, tx, fresh)
	})
}

// One is h as the handler of a run of one event, for Inbox.Apply.
func One(h inbox.Handler) inbox.BatchHandler {
	return func(ctx context.Context, tx pgx.Tx, envs []eventbus.Envelope) error {
		return h(ctx, tx, envs[0])
	}
}

// Consumer is the configuration of a consumer of topics in group with h
// (Retrying).
func Consumer(brokers []string, group string, topics []string, h inbox.Handler) inbox.Config {
	return Retrying(inbox.Config{Brokers: brokers, GroupID: group, Topics: topics, Handler: h})
}

// Retrying is cfg retrying a failed event quickly (after 10 ms, at most
// 50 ms), so that a test does not wait on an event that fails before it is
// dead-lettered.
func Retrying(cfg inbox.Config) inbox.Config {
	cfg.RetryBackoff, cfg.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	return cfg
}

// Run runs an inbox consumer of cfg on pool, and with relay the outbox
// relay of pool to cfg's brokers, until stop is called or the test ends
// (or ctx is done); ctx is the context they run under. stop returns once
// they have stopped; it may be called more than once.
func Run(parent context.Context, t testing.TB, pool *pgxpool.Pool, cfg inbox.Config, relay bool) (ctx context.Context, stop func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	consumer, err := inbox.NewConsumer(pool, cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	runs := []func(context.Context) error{consumer.Run}
	if relay {
		r, err := outbox.NewRelay(pool, outbox.Config{Brokers: cfg.Brokers, PollInterval: 20 * time.Millisecond}, reg)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r.Run)
	}
	ctx, cancel := context.WithCancel(parent)
	var wg sync.WaitGroup
	for _, run := range runs {
		wg.Go(func() { _ = run(ctx) })
	}
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return ctx, stop
}

// Knob is the positive integer in the environment variable name, or def
// when it is unset: a setting of a benchmark of the event pipeline (e.g.
// BENCH_EVENTS). Anything else fails the benchmark.
func Knob(b testing.TB, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
