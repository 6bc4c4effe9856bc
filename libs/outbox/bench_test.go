package outbox_test

// Benchmarks of the relay against a fresh database (pgtest) and an
// in-process Kafka-protocol broker (kafkatest):
//
//	go test -run '^$' -bench 'BenchmarkOutboxRelay' -benchtime 1x ./outbox/
//
// Each iteration of b.N does the whole run once on a fresh database and
// broker, so -benchtime 1x is the intended setting; the metrics are over
// all iterations. Knobs (environment):
//
//	BENCH_EVENTS          rows committed by BenchmarkOutboxRelay (default 100000)
//	BENCH_RATE            events/s committed by BenchmarkOutboxRelayPaced (default 5000)
//	BENCH_SECONDS         how long BenchmarkOutboxRelayPaced commits (default 10)
//
// The relay runs with the production configuration (outbox.Config with
// only Brokers set). An event's acknowledgement is the moment the relay's
// write of its batch to Kafka returns (the hook installed by
// SetOnAcknowledged); its commit is the moment the writer's Commit
// returns. A writer transaction adds its events with outbox.AddAll. Each
// event's key is unique ("p<seq>") so that an acknowledged message can be
// matched with its commit.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/testkit"
)

// benchTxEvents is how many events one writer transaction commits (a
// service change that emits a few events, or a small batch of changes).
const benchTxEvents = 10

// relayRun is one run: the events' commit and acknowledgement times (Unix
// nanoseconds, 0 until known), indexed by sequence number.
type relayRun struct {
	commit, ack []atomic.Int64
	acked       atomic.Int64 // distinct events acknowledged
	all         chan struct{}
}

func newRelayRun(n int) *relayRun {
	return &relayRun{commit: make([]atomic.Int64, n), ack: make([]atomic.Int64, n), all: make(chan struct{})}
}

// acknowledged records the acknowledgement of a batch written to Kafka.
func (r *relayRun) acknowledged(msgs []kafka.Message) {
	now := time.Now().UnixNano()
	for _, m := range msgs {
		seq, err := strconv.Atoi(string(m.Key[1:]))
		if err != nil || seq < 0 || seq >= len(r.ack) {
			continue
		}
		if r.ack[seq].CompareAndSwap(0, now) && r.acked.Add(1) == int64(len(r.ack)) {
			close(r.all)
		}
	}
}

// commitTx writes the events seq .. seq+count-1 in one transaction and
// records their commit time.
func (r *relayRun) commitTx(ctx context.Context, pool *pgxpool.Pool, seq, count int) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	events := make([]outbox.Event, 0, count)
	for s := seq; s < seq+count; s++ {
		env, err := eventbus.NewEnvelope("portfolio", eventbus.TypePortfolioCreated, fmt.Sprintf("portfolio/%d", s+1),
			map[string]any{"portfolio_id": s + 1, "name": "Portfolio " + strconv.Itoa(s+1), "user_id": 1 + s%1000,
				"team_id": 1 + s%100, "currency": "USD"})
		if err != nil {
			return err
		}
		events = append(events, outbox.Event{Topic: eventbus.TopicPortfolio, Key: "p" + strconv.Itoa(s), Envelope: env})
	}
	if err := outbox.AddAll(ctx, tx, events...); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	for s := seq; s < seq+count; s++ {
		r.commit[s].Store(now)
	}
	return nil
}

// startRelay runs the relay with the production configuration until the
// benchmark ends.
func startRelay(b *testing.B, pool *pgxpool.Pool, brokers []string, run *relayRun) {
	b.Helper()
	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: brokers}, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	outbox.SetOnAcknowledged(relay, run.acknowledged)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = relay.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
}

// waitAcked waits until every event is acknowledged, failing after timeout.
func waitAcked(b *testing.B, run *relayRun, timeout time.Duration) {
	b.Helper()
	select {
	case <-run.all:
	case <-time.After(timeout):
		b.Fatalf("only %d of %d events acknowledged after %s", run.acked.Load(), len(run.ack), timeout)
	}
}

// span is the time from the first commit to the last acknowledgement.
func (r *relayRun) span() time.Duration {
	first, last := int64(0), int64(0)
	for i := range r.commit {
		if c := r.commit[i].Load(); c != 0 && (first == 0 || c < first) {
			first = c
		}
		last = max(last, r.ack[i].Load())
	}
	return time.Duration(last - first)
}

// latencies are the commit-to-acknowledgement times of the events.
func (r *relayRun) latencies() []time.Duration {
	out := make([]time.Duration, 0, len(r.ack))
	for i := range r.ack {
		out = append(out, time.Duration(r.ack[i].Load()-r.commit[i].Load()))
	}
	return out
}

// checkPublished fails unless every row is marked published.
func checkPublished(b *testing.B, pool *pgxpool.Pool, n int) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var rows, pending int
		if err := pool.QueryRow(context.Background(),
			`SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM outbox`).Scan(&rows, &pending); err != nil {
			b.Fatal(err)
		}
		if rows != n {
			b.Fatalf("%d outbox rows, want %d", rows, n)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d rows still unpublished", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startIteration readies one iteration of b.N, with the timer stopped: a
// fresh database and broker, and the relay publishing n events to run.
func startIteration(b *testing.B, n int) (*pgxpool.Pool, *relayRun) {
	b.StopTimer()
	pool := pgtest.New(b, migrations)
	brokers := kafkatest.Start(b, eventbus.TopicPortfolio)
	run := newRelayRun(n)
	startRelay(b, pool, brokers, run)
	return pool, run
}

// finishIteration waits (up to timeout) until every event of run is
// acknowledged, stops the timer, checks that every row is marked
// published and returns the run's span.
func finishIteration(b *testing.B, pool *pgxpool.Pool, run *relayRun, timeout time.Duration) time.Duration {
	b.Helper()
	waitAcked(b, run, timeout)
	b.StopTimer()
	checkPublished(b, pool, len(run.ack))
	return run.span()
}

// BenchmarkOutboxRelay commits BENCH_EVENTS rows (transactions of
// benchTxEvents rows, from four concurrent writers) while the relay
// publishes them, and reports events/s from the first commit to the last
// acknowledgement.
func BenchmarkOutboxRelay(b *testing.B) {
	n := eventtest.Knob(b, "BENCH_EVENTS", 100_000)
	const writers = 4
	var total time.Duration
	for range b.N {
		pool, run := startIteration(b, n)
		ctx := context.Background()
		b.StartTimer()

		var next atomic.Int64
		testkit.Concurrently(b, writers, func(int) error {
			for {
				seq := int(next.Add(benchTxEvents)) - benchTxEvents
				if seq >= n {
					return nil
				}
				if err := run.commitTx(ctx, pool, seq, min(benchTxEvents, n-seq)); err != nil {
					return err
				}
			}
		})
		total += finishIteration(b, pool, run, 10*time.Minute)
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
}

// BenchmarkOutboxRelayPaced commits BENCH_RATE events/s (transactions of
// benchTxEvents rows on a fixed schedule, from two writers) for
// BENCH_SECONDS while the relay publishes them, and reports the
// commit-to-acknowledgement latency of the events (p50-ms, p99-ms) and
// events/s from the first commit to the last acknowledgement.
func BenchmarkOutboxRelayPaced(b *testing.B) {
	rate := eventtest.Knob(b, "BENCH_RATE", 5000)
	seconds := eventtest.Knob(b, "BENCH_SECONDS", 10)
	n := rate * seconds
	txs := (n + benchTxEvents - 1) / benchTxEvents
	interval := time.Second * benchTxEvents / time.Duration(rate)
	const writers = 2
	var all []time.Duration
	var total time.Duration
	for range b.N {
		pool, run := startIteration(b, n)
		ctx := context.Background()
		time.Sleep(200 * time.Millisecond) // let the relay reach its idle loop
		b.StartTimer()

		start := time.Now()
		testkit.Concurrently(b, writers, func(w int) error {
			// Transaction k is due at start + k*interval; a writer that
			// falls behind catches up without sleeping.
			for k := w; k < txs; k += writers {
				if d := time.Until(start.Add(time.Duration(k) * interval)); d > 0 {
					time.Sleep(d)
				}
				seq := k * benchTxEvents
				if err := run.commitTx(ctx, pool, seq, min(benchTxEvents, n-seq)); err != nil {
					return err
				}
			}
			return nil
		})
		total += finishIteration(b, pool, run, 5*time.Minute)
		all = append(all, run.latencies()...)
	}
	slices.Sort(all)
	quantile := func(q float64) float64 {
		return float64(all[int(q*float64(len(all)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(quantile(0.50), "p50-ms")
	b.ReportMetric(quantile(0.99), "p99-ms")
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
}
