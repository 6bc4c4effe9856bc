package inbox_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
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

func TestBatchAppliesEachEventOnceInSharedTransactions(t *testing.T) {
	pool := pgtest.New(t, migrations)
	brokers := kafkatest.Start(t, topic, eventbus.DLQTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 28*time.Second)
	defer cancel()

	// 200 messages: 180 events, every tenth message a redelivery of the
	// message before it (same key, so same partition).
	const total, distinct = 200, 180
	var msgs []kafka.Message
	var env eventbus.Envelope
	for i := range total {
		key := strconv.Itoa(i / 2 % 5)
		if i%10 != 9 {
			env = ratioEvent(t, i+1)
		}
		msgs = append(msgs, message(t, ctx, key, env))
	}
	produce(t, ctx, brokers, msgs...)

	c := start(t, pool, brokers, "stats", recordTx, batched(50))
	testkit.Eventually(t, 20*time.Second, "all messages done", func() bool { return storedTotal(t, pool, "stats") == total })
	c.stop()

	if n := count(t, pool, `SELECT count(*) FROM effects`); n != distinct {
		t.Fatalf("%d effects, want %d", n, distinct)
	}
	if n := count(t, pool, `SELECT count(DISTINCT event_id) FROM effects`); n != distinct {
		t.Fatalf("%d distinct events applied, want %d", n, distinct)
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE group_id = 'stats'`); n != distinct {
		t.Fatalf("processed_events has %d rows, want %d", n, distinct)
	}
	txs := count(t, pool, `SELECT count(DISTINCT trace_id) FROM effects`)
	if txs*2 > distinct {
		t.Fatalf("%d events were applied in %d transactions: they were not batched", distinct, txs)
	}
	t.Logf("%d events applied in %d transactions", distinct, txs)
	if h, d := counter(t, c.reg, inbox.ResultHandled), counter(t, c.reg, inbox.ResultDuplicate); h != distinct || d != total-distinct {
		t.Fatalf("handled %v, duplicate %v; want %d and %d", h, d, distinct, total-distinct)
	}
}

func TestBatchWithAPoisonMessageFallsBackToOneByOne(t *testing.T) {
	pool := pgtest.New(t, migrations)
	brokers := kafkatest.Start(t, topic, eventbus.DLQTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 28*time.Second)
	defer cancel()

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
	handler := func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
		if env.ID == poison.ID {
			attempts.Add(1)
			if err := record(ctx, tx, env); err != nil {
				return err
			}
			return errors.New("portfolio 11 is not known here")
		}
		return record(ctx, tx, env)
	}
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
	letters := kafkatest.ReadAll(t, brokers, eventbus.DLQTopic(topic), 1, 5*time.Second)
	if len(letters) != 1 || !strings.Contains(eventbus.HeaderValue(letters[0].Headers, inbox.HeaderError), "portfolio 11") ||
		eventbus.HeaderValue(letters[0].Headers, inbox.HeaderOriginalOffset) != "10" {
		t.Fatalf("dead letters = %v", letters)
	}
}

func TestBatchRestartNeitherSkipsNorReapplies(t *testing.T) {
	pool := pgtest.New(t, migrations)
	brokers := kafkatest.Start(t, topic, eventbus.DLQTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 28*time.Second)
	defer cancel()

	const total = 120
	var msgs []kafka.Message
	for i := range total {
		msgs = append(msgs, message(t, ctx, strconv.Itoa(i%7), ratioEvent(t, i+1)))
	}
	produce(t, ctx, brokers, msgs...)

	slow := func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
		time.Sleep(5 * time.Millisecond)
		return record(ctx, tx, env)
	}
	first := start(t, pool, brokers, "stats", slow, batched(10))
	testkit.Eventually(t, 20*time.Second, "some messages applied", func() bool {
		return count(t, pool, `SELECT count(*) FROM effects`) >= total/4
	})
	first.stop()
	applied := count(t, pool, `SELECT count(*) FROM effects`)
	if applied == total {
		t.Fatal("the first consumer finished before it was stopped; the test proves nothing")
	}

	second := start(t, pool, brokers, "stats", record, batched(10))
	testkit.Eventually(t, 20*time.Second, "all messages applied", func() bool { return storedTotal(t, pool, "stats") == total })
	second.stop()

	if n := count(t, pool, `SELECT count(*) FROM effects`); n != total {
		t.Fatalf("%d effects, want %d", n, total)
	}
	if n := count(t, pool, `SELECT count(DISTINCT event_id) FROM effects`); n != total {
		t.Fatalf("%d distinct events applied, want %d", n, total)
	}
	if d := counter(t, second.reg, inbox.ResultDuplicate); d != 0 {
		t.Fatalf("the second consumer re-read %v applied messages", d)
	}
	if h := counter(t, second.reg, inbox.ResultHandled); int(h) != total-applied {
		t.Fatalf("the second consumer handled %v, want %d", h, total-applied)
	}
}

// TestBatchHandlerGetsEachNewEventOnce: with a BatchHandler, a batch's
// events not applied before (redeliveries in the batch left out) reach it
// in one call per transaction, in partition order.
func TestBatchHandlerGetsEachNewEventOnce(t *testing.T) {
	pool := pgtest.New(t, migrations)
	brokers := kafkatest.Start(t, topic, eventbus.DLQTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 28*time.Second)
	defer cancel()

	const total, distinct = 200, 180
	var msgs []kafka.Message
	var env eventbus.Envelope
	for i := range total {
		if i%10 != 9 {
			env = ratioEvent(t, i+1)
		}
		msgs = append(msgs, message(t, ctx, "1", env))
	}
	produce(t, ctx, brokers, msgs...)

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
	if h, d := counter(t, c.reg, inbox.ResultHandled), counter(t, c.reg, inbox.ResultDuplicate); h != distinct || d != total-distinct {
		t.Fatalf("handled %v, duplicate %v; want %d and %d", h, d, distinct, total-distinct)
	}
}
