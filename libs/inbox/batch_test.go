package inbox_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/testkit"
)

// recordTx is record that keeps, instead of the trace id, the id of the
// transaction that applied the event.
func recordTx(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
	if err := record(ctx, tx, env); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE effects SET trace_id = txid_current()::text WHERE event_id = $1`, env.ID)
	return err
}

func batched(size int) func(*inbox.Config) {
	return func(cfg *inbox.Config) { cfg.BatchSize = size }
}

// withRedeliveries is total messages, message i on key(i); every tenth is
// a redelivery of the one before it (give both the same key, so that they
// share a partition).
func withRedeliveries(t *testing.T, ctx context.Context, total int, key func(i int) string) []kafka.Message {
	t.Helper()
	var msgs []kafka.Message
	var env eventbus.Envelope
	for i := range total {
		if i%10 != 9 {
			env = ratioEvent(t, i+1)
		}
		msgs = append(msgs, message(t, ctx, key(i), env))
	}
	return msgs
}

// wantEachOnce checks a consumer's counters after withRedeliveries: each
// of the distinct events handled once, each other message seen as a
// duplicate.
func wantEachOnce(t *testing.T, reg *prometheus.Registry, total, distinct int) {
	t.Helper()
	if h, d := counter(t, reg, inbox.ResultHandled), counter(t, reg, inbox.ResultDuplicate); h != float64(distinct) || d != float64(total-distinct) {
		t.Fatalf("handled %v, duplicate %v; want %d and %d", h, d, distinct, total-distinct)
	}
}

func TestBatchAppliesEachEventOnceInSharedTransactions(t *testing.T) {
	pool, brokers, ctx := setup(t, 28*time.Second, topic, eventbus.DLQTopic(topic))
	// 200 messages: 180 events, every tenth message a redelivery.
	const total, distinct = 200, 180
	produce(t, ctx, brokers, withRedeliveries(t, ctx, total, func(i int) string { return strconv.Itoa(i / 2 % 5) })...)

	c := start(t, pool, brokers, "stats", recordTx, batched(50))
	testkit.Eventually(t, 20*time.Second, "all messages done", func() bool { return storedTotal(t, pool, "stats") == total })
	c.stop()

	appliedOnceEach(t, pool, distinct)
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE group_id = 'stats'`); n != distinct {
		t.Fatalf("processed_events has %d rows, want %d", n, distinct)
	}
	txs := count(t, pool, `SELECT count(DISTINCT trace_id) FROM effects`)
	if txs*2 > distinct {
		t.Fatalf("%d events were applied in %d transactions: they were not batched", distinct, txs)
	}
	t.Logf("%d events applied in %d transactions", distinct, txs)
	wantEachOnce(t, c.reg, total, distinct)
}

func TestBatchWithAPoisonMessageFallsBackToOneByOne(t *testing.T) {
	pool, brokers, ctx := setup(t, 28*time.Second, topic, eventbus.DLQTopic(topic))

	// All on one key, so one partition and (read at once) one batch.
	const total = 30
	var envs []eventbus.Envelope
	var msgs []kafka.Message
	for i := range total {
		envs = append(envs, ratioEvent(t, i+1))
		msgs = append(msgs, message(t, ctx, "k", envs[i]))
	}
	poison := envs[10]
	msgs = append(msgs, msgs[3]) // and a redelivery
	var attempts atomic.Int32
	handler := failingOn(poison, &attempts, "portfolio 11 is not known here")
	produce(t, ctx, brokers, msgs...)

	c := start(t, pool, brokers, "withdrawal", handler, func(cfg *inbox.Config) { cfg.BatchSize = 50; cfg.MaxAttempts = 3 })
	testkit.Eventually(t, 20*time.Second, "all messages done", func() bool { return storedTotal(t, pool, "withdrawal") == len(msgs) })
	c.stop()

	for i, env := range envs {
		want := 1
		if env.ID == poison.ID {
			want = 0
		}
		if n := count(t, pool, `SELECT count(*) FROM effects WHERE event_id = $1`, env.ID); n != want {
			t.Fatalf("event %d applied %d times, want %d", i, n, want)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE event_id = $1`, poison.ID); n != 0 {
		t.Fatal("the dead-lettered event is recorded as processed")
	}
	// Once in the batch, then MaxAttempts times on its own.
	if n := attempts.Load(); n < 3 || n > 4 {
		t.Fatalf("poison message tried %d times, want 3 on its own (after at most one batch)", n)
	}
	if h, d := counter(t, c.reg, inbox.ResultHandled), counter(t, c.reg, inbox.ResultDuplicate); h != total-1 || d != 1 {
		t.Fatalf("handled %v, duplicate %v; want %d and 1", h, d, total-1)
	}
	if f, d := counter(t, c.reg, inbox.ResultFailed), counter(t, c.reg, inbox.ResultDLQ); f != 3 || d != 1 {
		t.Fatalf("failed %v, dlq %v; want 3 and 1", f, d)
	}
	letter := oneDeadLetter(t, brokers, 5*time.Second, "portfolio 11")
	if eventbus.HeaderValue(letter.Headers, inbox.HeaderOriginalOffset) != "10" {
		t.Fatalf("dead letter = %v", letter)
	}
}

func TestBatchRestartNeitherSkipsNorReapplies(t *testing.T) {
	pool, brokers, ctx := setup(t, 28*time.Second, topic, eventbus.DLQTopic(topic))
	restartMidStream(t, ctx, pool, brokers, 120, batched(10))
}

// TestBatchHandlerGetsEachNewEventOnce: with a BatchHandler, a batch's
// events not applied before (redeliveries in the batch left out) reach it
// in one call per transaction, in partition order.
func TestBatchHandlerGetsEachNewEventOnce(t *testing.T) {
	pool, brokers, ctx := setup(t, 28*time.Second, topic, eventbus.DLQTopic(topic))

	const total, distinct = 200, 180
	produce(t, ctx, brokers, withRedeliveries(t, ctx, total, func(int) string { return "1" })...)

	var calls atomic.Int64
	var outOfOrder atomic.Bool
	c := start(t, pool, brokers, "stats", recordTx, func(cfg *inbox.Config) {
		cfg.BatchSize = 50
		cfg.BatchHandler = func(ctx context.Context, tx pgx.Tx, envs []eventbus.Envelope) error {
			calls.Add(1)
			seen := map[string]bool{}
			for i, env := range envs {
				if seen[env.ID] || (i > 0 && env.Time.Before(envs[i-1].Time)) {
					outOfOrder.Store(true)
				}
				seen[env.ID] = true
				if err := recordTx(ctx, tx, env); err != nil {
					return err
				}
			}
			return nil
		}
	})
	testkit.Eventually(t, 20*time.Second, "all messages done", func() bool { return storedTotal(t, pool, "stats") == total })
	c.stop()

	if n := count(t, pool, `SELECT count(*) FROM effects`); n != distinct {
		t.Fatalf("%d effects, want %d", n, distinct)
	}
	if outOfOrder.Load() {
		t.Fatal("the batch handler got an event twice or out of order")
	}
	txs := count(t, pool, `SELECT count(DISTINCT trace_id) FROM effects`)
	if n := calls.Load(); n == 0 || int64(txs) > n || txs*2 > distinct {
		t.Fatalf("%d batch handler calls, %d transactions for %d events", n, txs, distinct)
	}
	wantEachOnce(t, c.reg, total, distinct)
}
