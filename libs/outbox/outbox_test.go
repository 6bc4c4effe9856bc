package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/testkit"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var migrations = fstest.MapFS{"00001_outbox.sql": {Data: []byte(outbox.Migration)}}

func portfolioEvent(t *testing.T, id int) eventbus.Envelope {
	t.Helper()
	env, err := eventbus.NewEnvelope("portfolio", eventbus.TypePortfolioCreated, fmt.Sprintf("portfolio/%d", id),
		map[string]any{"portfolio_id": id, "name": "P", "user_id": 7, "team_id": 3, "currency": "USD"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func ratioEvent(t *testing.T, id int) eventbus.Envelope {
	t.Helper()
	env, err := eventbus.NewEnvelope("profit", eventbus.TypeProfitRatioChanged, fmt.Sprintf("portfolio/%d", id),
		map[string]any{"portfolio_id": id, "ratio_id": 1, "version": 1, "to_team": "0.2000", "to_platform": "0.1000", "to_user": "0.7000"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

type pending struct {
	topic, key string
	env        eventbus.Envelope
}

// add writes events in one transaction, committed or rolled back.
func add(t *testing.T, ctx context.Context, pool *pgxpool.Pool, commit bool, evs ...pending) {
	t.Helper()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, e := range evs {
		if err := outbox.Add(ctx, tx, e.topic, e.key, e.env); err != nil {
			t.Fatal(err)
		}
	}
	if commit {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// setup gives a test a fresh database with the outbox table, an
// in-process broker with topics, and a context that bounds the test.
func setup(t *testing.T, topics ...string) (*pgxpool.Pool, []string, context.Context) {
	t.Helper()
	pool := pgtest.New(t, migrations)
	brokers := kafkatest.Start(t, topics...)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	t.Cleanup(cancel)
	return pool, brokers, ctx
}

// runRelay runs r until the returned stop is called (or the test ends).
func runRelay(t *testing.T, r *outbox.Relay) (stop func()) {
	t.Helper()
	return testkit.Background(t, "relay", 10*time.Second, r.Run)
}

// relayAll runs a relay over pool and reads the portfolio topic until it
// holds want messages (for up to 10 s); fewer fail the test.
func relayAll(t *testing.T, pool *pgxpool.Pool, brokers []string, want int) []kafka.Message {
	t.Helper()
	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: brokers, PollInterval: 20 * time.Millisecond}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	runRelay(t, relay)
	msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicPortfolio, want, 10*time.Second)
	if len(msgs) != want {
		t.Fatalf("%d messages, want %d", len(msgs), want)
	}
	return msgs
}

func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func unpublished(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func tracedContext() (context.Context, string) {
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(context.Background(), sc), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
}

func TestCommittedRowsArePublishedExactlyAndRolledBackNever(t *testing.T) {
	pool, brokers, ctx := setup(t, eventbus.TopicPortfolio, eventbus.TopicProfit)
	tctx, traceparent := tracedContext()

	committed := []pending{
		{eventbus.TopicPortfolio, "1", portfolioEvent(t, 1)},
		{eventbus.TopicPortfolio, "2", portfolioEvent(t, 2)},
		{eventbus.TopicProfit, "1", ratioEvent(t, 1)},
	}
	add(t, tctx, pool, true, committed...)
	add(t, tctx, pool, false, pending{eventbus.TopicPortfolio, "3", portfolioEvent(t, 3)},
		pending{eventbus.TopicProfit, "3", ratioEvent(t, 3)})
	// Written after the rolled-back ones, without a trace: once it is out,
	// anything the rolled-back transaction left would be out too.
	last := pending{eventbus.TopicPortfolio, "4", portfolioEvent(t, 4)}
	add(t, ctx, pool, true, last)
	committed = append(committed, last)

	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: brokers, PollInterval: 20 * time.Millisecond}, reg)
	if err != nil {
		t.Fatal(err)
	}
	stop := runRelay(t, relay)
	testkit.Eventually(t, 15*time.Second, "rows marked published", func() bool { return unpublished(t, pool) == 0 })
	testkit.Eventually(t, 5*time.Second, "backlog gauge at 0", func() bool {
		return metric(t, reg, "fund_outbox_backlog") == 0 && metric(t, reg, "fund_outbox_published_total") == 4
	})
	if err := relay.Ready(ctx); err != nil {
		t.Fatalf("Ready after publishing: %v", err)
	}
	stop()

	got := map[string]kafka.Message{}
	for _, topic := range []string{eventbus.TopicPortfolio, eventbus.TopicProfit} {
		// Ask for one more than can be there: a stray message would show.
		for _, m := range kafkatest.ReadAll(t, brokers, topic, 4, 2*time.Second) {
			env, err := eventbus.Decode(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := got[env.ID]; dup {
				t.Fatalf("event %s published twice", env.ID)
			}
			got[env.ID] = m
		}
	}
	if len(got) != len(committed) {
		t.Fatalf("published %d events, want %d", len(got), len(committed))
	}
	for i, e := range committed {
		m, ok := got[e.env.ID]
		if !ok {
			t.Fatalf("event %s (%s) not published", e.env.ID, e.env.Type)
		}
		want, _ := json.Marshal(e.env)
		if m.Topic != e.topic || string(m.Key) != e.key || string(m.Value) != string(want) {
			t.Fatalf("message = %s %s %s, want %s %s %s", m.Topic, m.Key, m.Value, e.topic, e.key, want)
		}
		wantTrace := traceparent
		if i == len(committed)-1 {
			wantTrace = ""
		}
		if eventbus.HeaderValue(m.Headers, "traceparent") != wantTrace ||
			eventbus.HeaderValue(m.Headers, "content-type") != "application/json" ||
			eventbus.HeaderValue(m.Headers, "event-type") != e.env.Type {
			t.Fatalf("headers of %s = %v", e.env.Type, m.Headers)
		}
		if err := eventbus.Validate(e.env.Type, m.Value); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRelayRepublishesWhenStoppedBeforeMarking(t *testing.T) {
	pool, brokers, ctx := setup(t, eventbus.TopicPortfolio)
	evs := []pending{
		{eventbus.TopicPortfolio, "1", portfolioEvent(t, 1)},
		{eventbus.TopicPortfolio, "2", portfolioEvent(t, 2)},
	}
	add(t, ctx, pool, true, evs...)

	// First relay: the process "dies" right after the Kafka write.
	first, err := outbox.NewRelay(pool, outbox.Config{Brokers: brokers, PollInterval: 20 * time.Millisecond}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, kill := context.WithCancel(ctx)
	defer kill()
	outbox.SetAfterPublish(first, func() error {
		kill() // nothing runs after this point in a dead process
		return errors.New("killed after publish")
	})
	done := make(chan error, 1)
	go func() { done <- first.Run(runCtx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("first relay never published")
	}
	if n := unpublished(t, pool); n != len(evs) {
		t.Fatalf("%d rows unpublished after the crash, want %d", n, len(evs))
	}
	if msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicPortfolio, len(evs), 10*time.Second); len(msgs) != len(evs) {
		t.Fatalf("%d messages on Kafka after the crash, want %d", len(msgs), len(evs))
	}

	// Restart: the batch goes out again and is marked this time.
	reg := prometheus.NewRegistry()
	second, err := outbox.NewRelay(pool, outbox.Config{Brokers: brokers, PollInterval: 20 * time.Millisecond}, reg)
	if err != nil {
		t.Fatal(err)
	}
	runRelay(t, second)
	testkit.Eventually(t, 15*time.Second, "rows marked published", func() bool { return unpublished(t, pool) == 0 })
	testkit.Eventually(t, 5*time.Second, "backlog gauge at 0", func() bool {
		return metric(t, reg, "fund_outbox_backlog") == 0 && metric(t, reg, "fund_outbox_oldest_unpublished_age_seconds") == 0
	})

	count := map[string]int{}
	msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicPortfolio, 2*len(evs)+1, 2*time.Second)
	for _, m := range msgs {
		env, err := eventbus.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		count[env.ID]++
	}
	for _, e := range evs {
		if count[e.env.ID] != 2 {
			t.Fatalf("event %s published %d times, want 2 (at-least-once after the crash): %v", e.env.ID, count[e.env.ID], count)
		}
	}
	if len(msgs) != 2*len(evs) {
		t.Fatalf("%d messages, want %d", len(msgs), 2*len(evs))
	}
}

func TestRelayRetriesUntilTheBrokerAccepts(t *testing.T) {
	pool := pgtest.New(t, migrations)
	// The topic does not exist yet: every write fails until it is created.
	cluster := kafkatest.StartCluster(t, eventbus.TopicPortfolio)
	brokers := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	env := ratioEvent(t, 5)
	add(t, ctx, pool, true, pending{eventbus.TopicProfit, "5", env})

	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(pool, outbox.Config{
		Brokers: brokers, PollInterval: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
	}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Ready(ctx); err != nil {
		t.Fatalf("Ready before the first attempt, broker up: %v", err)
	}
	runRelay(t, relay)
	testkit.Eventually(t, 15*time.Second, "a failed attempt", func() bool {
		return metric(t, reg, "fund_outbox_publish_errors_total") >= 1
	})
	if err := relay.Ready(ctx); err == nil {
		t.Fatal("Ready while publishing fails")
	}
	if n := unpublished(t, pool); n != 1 {
		t.Fatalf("%d rows unpublished, want 1", n)
	}
	testkit.Eventually(t, 5*time.Second, "backlog gauge at 1", func() bool { return metric(t, reg, "fund_outbox_backlog") == 1 })

	if err := cluster.CreateTopic(eventbus.TopicProfit, kafkatest.Partitions, nil); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, "row published after the topic exists", func() bool { return unpublished(t, pool) == 0 })
	if err := relay.Ready(ctx); err != nil {
		t.Fatalf("Ready after recovery: %v", err)
	}
	msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicProfit, 2, 2*time.Second)
	if len(msgs) != 1 || string(msgs[0].Key) != "5" {
		t.Fatalf("messages = %v", msgs)
	}
}

func TestAddRefusesWhatConsumersCouldNotRead(t *testing.T) {
	pool := pgtest.New(t, migrations)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := outbox.Add(ctx, tx, eventbus.TopicProfit, "1", portfolioEvent(t, 1)); err == nil {
			t.Error("accepted a portfolio event on the profit topic")
		}
		bad := portfolioEvent(t, 1)
		bad.Data = json.RawMessage(`{"portfolio_id": "1"}`)
		if err := outbox.Add(ctx, tx, eventbus.TopicPortfolio, "1", bad); err == nil {
			t.Error("accepted data that does not match the schema")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The same event id twice is refused (the outbox never holds two).
	env := portfolioEvent(t, 1)
	add(t, ctx, pool, true, pending{eventbus.TopicPortfolio, "1", env})
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return outbox.Add(ctx, tx, eventbus.TopicPortfolio, "1", env)
	})
	if err == nil {
		t.Fatal("accepted the same event id twice")
	}
}

// TestAddAllWritesEventsInOrderWithOneStatement: the events of AddAll are
// checked as Add checks one (a bad one fails the call and adds nothing)
// and published in the order given.
func TestAddAllWritesEventsInOrderWithOneStatement(t *testing.T) {
	pool, brokers, ctx := setup(t, eventbus.TopicPortfolio)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return outbox.AddAll(ctx, tx,
			outbox.Event{Topic: eventbus.TopicPortfolio, Key: "1", Envelope: portfolioEvent(t, 1)},
			outbox.Event{Topic: eventbus.TopicProfit, Key: "1", Envelope: portfolioEvent(t, 2)})
	})
	if err == nil {
		t.Fatal("accepted a portfolio event on the profit topic")
	}
	var evs []outbox.Event
	for i := range 5 {
		evs = append(evs, outbox.Event{Topic: eventbus.TopicPortfolio, Key: "same", Envelope: portfolioEvent(t, i+1)})
	}
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return outbox.AddAll(ctx, tx, evs...) }); err != nil {
		t.Fatal(err)
	}
	msgs := relayAll(t, pool, brokers, len(evs))
	for i, m := range msgs {
		env, err := eventbus.Decode(m.Value)
		if err != nil || env.ID != evs[i].Envelope.ID {
			t.Fatalf("message %d is %s (%v), want %s", i, env.ID, err, evs[i].Envelope.ID)
		}
	}
}

// TestQueueIsAddInABatch: an event queued in a batch is refused as Add
// refuses it, and once the batch is sent in the transaction it is written
// and published as Add's are.
func TestQueueIsAddInABatch(t *testing.T) {
	pool, brokers, ctx := setup(t, eventbus.TopicPortfolio)
	if err := outbox.Queue(ctx, &pgx.Batch{}, eventbus.TopicProfit, "1", portfolioEvent(t, 1)); err == nil {
		t.Fatal("queued a portfolio event on the profit topic")
	}
	evs := []eventbus.Envelope{portfolioEvent(t, 1), portfolioEvent(t, 2)}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT 1`)
		for _, env := range evs {
			if err := outbox.Queue(ctx, b, eventbus.TopicPortfolio, "k", env); err != nil {
				return err
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := relayAll(t, pool, brokers, len(evs))
	for i, m := range msgs {
		env, err := eventbus.Decode(m.Value)
		if err != nil || env.ID != evs[i].ID || string(m.Key) != "k" {
			t.Fatalf("message %d is %s key %q (%v), want %s", i, env.ID, m.Key, err, evs[i].ID)
		}
	}
}
