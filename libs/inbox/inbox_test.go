package inbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
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
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/testkit"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const topic = eventbus.TopicProfit

var migrations = fstest.MapFS{
	"00001_inbox.sql": {Data: []byte(inbox.Migration)},
	// effects is what the test handler writes: one row per application,
	// deliberately without a unique key, so double applications show.
	"00002_effects.sql": {Data: []byte(`-- +goose Up
CREATE TABLE effects (event_id uuid NOT NULL, portfolio_id bigint NOT NULL, trace_id text NOT NULL);
-- +goose Down
DROP TABLE effects;
`)},
}

// record is a handler that applies an event by inserting an effects row.
func record(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
	var data struct {
		PortfolioID int64 `json:"portfolio_id"`
	}
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return err
	}
	traceID := ""
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		traceID = sc.TraceID().String()
	}
	_, err := tx.Exec(ctx, `INSERT INTO effects VALUES ($1, $2, $3)`, env.ID, data.PortfolioID, traceID)
	return err
}

func ratioEvent(t *testing.T, portfolio int) eventbus.Envelope {
	t.Helper()
	env, err := eventbus.NewEnvelope("profit", eventbus.TypeProfitRatioChanged, fmt.Sprintf("portfolio/%d", portfolio),
		map[string]any{"portfolio_id": portfolio, "ratio_id": 1, "version": 1, "to_team": "0.2000", "to_platform": "0.1000", "to_user": "0.7000"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// produce writes messages to topic in order, synchronously.
func produce(t *testing.T, ctx context.Context, brokers []string, msgs ...kafka.Message) {
	t.Helper()
	w := eventbus.NewWriter(brokers, topic)
	defer w.Close()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func message(t *testing.T, ctx context.Context, key string, env eventbus.Envelope) kafka.Message {
	t.Helper()
	m, err := eventbus.NewMessage(ctx, key, env)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// setup gives a test a fresh database with the inbox's tables, an
// in-process broker with topics, and a context that bounds the test.
func setup(t *testing.T, timeout time.Duration, topics ...string) (*pgxpool.Pool, []string, context.Context) {
	t.Helper()
	pool := pgtest.New(t, migrations)
	brokers := kafkatest.Start(t, topics...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return pool, brokers, ctx
}

type running struct {
	consumer *inbox.Consumer
	reg      *prometheus.Registry
	stop     func()
}

// start runs a consumer of topic in group until stop (or the test's end).
func start(t *testing.T, pool *pgxpool.Pool, brokers []string, group string, h inbox.Handler, tune func(*inbox.Config)) running {
	t.Helper()
	cfg := inbox.Config{
		Brokers: brokers, GroupID: group, Topics: []string{topic}, Handler: h,
		RetryBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}
	if tune != nil {
		tune(&cfg)
	}
	reg := prometheus.NewRegistry()
	c, err := inbox.NewConsumer(pool, cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	stop := testkit.Background(t, "consumer", 15*time.Second, c.Run)
	return running{consumer: c, reg: reg, stop: stop}
}

func counter(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "fund_consumer_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

func count(t *testing.T, pool *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// storedTotal is the sum of the group's next offsets over all partitions:
// the number of messages it has finished with.
func storedTotal(t *testing.T, pool *pgxpool.Pool, group string) int {
	return count(t, pool, `SELECT COALESCE(sum(next_offset), 0)::int FROM consumer_offsets WHERE group_id = $1`, group)
}

// restartMidStream produces total events on seven keys; a slow consumer of
// the group "stats", started with tune, is stopped once a quarter of them
// are applied, and a second one, started with tune, finishes. Each event
// must be applied once, and the second consumer must resume where the
// first stopped.
func restartMidStream(t *testing.T, ctx context.Context, pool *pgxpool.Pool, brokers []string, total int, tune func(*inbox.Config)) {
	t.Helper()
	var msgs []kafka.Message
	for i := range total {
		msgs = append(msgs, message(t, ctx, strconv.Itoa(i%7), ratioEvent(t, i+1)))
	}
	produce(t, ctx, brokers, msgs...)

	// A slow handler, so the first consumer is stopped mid-stream.
	slow := func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
		time.Sleep(5 * time.Millisecond)
		return record(ctx, tx, env)
	}
	first := start(t, pool, brokers, "stats", slow, tune)
	testkit.Eventually(t, 20*time.Second, "some messages applied", func() bool {
		return count(t, pool, `SELECT count(*) FROM effects`) >= total/4
	})
	first.stop()
	applied := count(t, pool, `SELECT count(*) FROM effects`)
	if applied == total {
		t.Fatal("the first consumer finished before it was stopped; the test proves nothing")
	}

	second := start(t, pool, brokers, "stats", record, tune)
	testkit.Eventually(t, 20*time.Second, "all messages applied", func() bool { return storedTotal(t, pool, "stats") == total })
	second.stop()

	appliedOnceEach(t, pool, total)
	// Resuming at the stored offsets means the second consumer saw none of
	// the messages the first had applied.
	if d := counter(t, second.reg, inbox.ResultDuplicate); d != 0 {
		t.Fatalf("the second consumer re-read %v applied messages", d)
	}
	if h := counter(t, second.reg, inbox.ResultHandled); int(h) != total-applied {
		t.Fatalf("the second consumer handled %v, want %d", h, total-applied)
	}
}

// failingOn is record, but for poison: that event's handling counts an
// attempt, uses the transaction (its work must vanish) and then fails
// with errText.
func failingOn(poison eventbus.Envelope, attempts *atomic.Int32, errText string) inbox.Handler {
	return func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
		if env.ID == poison.ID {
			attempts.Add(1)
			if err := record(ctx, tx, env); err != nil {
				return err
			}
			return errors.New(errText)
		}
		return record(ctx, tx, env)
	}
}

// appliedOnceEach checks that events distinct events were applied, each
// once.
func appliedOnceEach(t *testing.T, pool *pgxpool.Pool, events int) {
	t.Helper()
	if n := count(t, pool, `SELECT count(*) FROM effects`); n != events {
		t.Fatalf("%d effects, want %d", n, events)
	}
	if n := count(t, pool, `SELECT count(DISTINCT event_id) FROM effects`); n != events {
		t.Fatalf("%d distinct events applied, want %d", n, events)
	}
}

// oneDeadLetter reads the dead-letter topic (for up to wait) and checks
// that it holds one message, whose error header contains errPart.
func oneDeadLetter(t *testing.T, brokers []string, wait time.Duration, errPart string) kafka.Message {
	t.Helper()
	letters := kafkatest.ReadAll(t, brokers, eventbus.DLQTopic(topic), 1, wait)
	if len(letters) != 1 || !strings.Contains(eventbus.HeaderValue(letters[0].Headers, inbox.HeaderError), errPart) {
		t.Fatalf("dead letters = %v", letters)
	}
	return letters[0]
}

func TestDuplicateDeliveryIsAppliedOnce(t *testing.T) {
	pool, brokers, ctx := setup(t, 25*time.Second, topic, eventbus.DLQTopic(topic))

	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	tctx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	a, b := ratioEvent(t, 1), ratioEvent(t, 2)
	// a twice on one partition, then once more on another (another key).
	produce(t, ctx, brokers, message(t, tctx, "1", a), message(t, tctx, "1", a), message(t, tctx, "2", b), message(t, tctx, "3", a))

	c := start(t, pool, brokers, "stats", record, nil)
	testkit.Eventually(t, 20*time.Second, "all 4 messages done", func() bool { return storedTotal(t, pool, "stats") == 4 })
	if err := c.consumer.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	c.stop()

	if n := count(t, pool, `SELECT count(*) FROM effects WHERE event_id = $1`, a.ID); n != 1 {
		t.Fatalf("event a applied %d times", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM effects WHERE event_id = $1`, b.ID); n != 1 {
		t.Fatalf("event b applied %d times", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM effects WHERE trace_id = $1`, tid.String()); n != 2 {
		t.Fatalf("%d handlers saw the producer's trace, want 2", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE group_id = 'stats'`); n != 2 {
		t.Fatalf("processed_events has %d rows, want 2", n)
	}
	if h, d := counter(t, c.reg, inbox.ResultHandled), counter(t, c.reg, inbox.ResultDuplicate); h != 2 || d != 2 {
		t.Fatalf("handled %v, duplicate %v; want 2 and 2", h, d)
	}

	// Another group in the same database applies the same events itself.
	other := start(t, pool, brokers, "audit", record, nil)
	testkit.Eventually(t, 20*time.Second, "second group done", func() bool { return storedTotal(t, pool, "audit") == 4 })
	other.stop()
	if n := count(t, pool, `SELECT count(*) FROM effects`); n != 4 {
		t.Fatalf("%d effects after two groups, want 4", n)
	}
}

func TestRestartResumesFromTheDatabaseOffsets(t *testing.T) {
	pool, brokers, ctx := setup(t, 28*time.Second, topic, eventbus.DLQTopic(topic))

	const total = 60
	restartMidStream(t, ctx, pool, brokers, total, nil)

	// A restore from a backup taken before any of this: the consumer
	// rewinds with the database, whatever Kafka's committed offsets say.
	if _, err := pool.Exec(ctx, `TRUNCATE effects, processed_events, consumer_offsets`); err != nil {
		t.Fatal(err)
	}
	third := start(t, pool, brokers, "stats", record, nil)
	testkit.Eventually(t, 20*time.Second, "all messages applied again", func() bool { return storedTotal(t, pool, "stats") == total })
	third.stop()
	if n := count(t, pool, `SELECT count(DISTINCT event_id) FROM effects`); n != total {
		t.Fatalf("after the restore, %d distinct events applied, want %d", n, total)
	}
}

func TestFailingMessageGoesToTheDLQAndTheNextIsHandled(t *testing.T) {
	pool, brokers, ctx := setup(t, 25*time.Second, topic, eventbus.DLQTopic(topic))

	before, poison, after := ratioEvent(t, 1), ratioEvent(t, 2), ratioEvent(t, 3)
	var attempts atomic.Int32
	handler := failingOn(poison, &attempts, "portfolio 2 is not known here")
	// All on one key, so one partition, in this order.
	garbage := kafka.Message{Key: []byte("k"), Value: []byte(`not json`)}
	produce(t, ctx, brokers, message(t, ctx, "k", before), message(t, ctx, "k", poison), garbage, message(t, ctx, "k", after))

	c := start(t, pool, brokers, "withdrawal", handler, func(cfg *inbox.Config) { cfg.MaxAttempts = 3 })
	testkit.Eventually(t, 20*time.Second, "all 4 messages done", func() bool { return storedTotal(t, pool, "withdrawal") == 4 })
	c.stop()

	if n := attempts.Load(); n != 3 {
		t.Fatalf("poison message tried %d times, want 3", n)
	}
	for _, env := range []eventbus.Envelope{before, after} {
		if n := count(t, pool, `SELECT count(*) FROM effects WHERE event_id = $1`, env.ID); n != 1 {
			t.Fatalf("event %s applied %d times", env.ID, n)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM effects WHERE event_id = $1`, poison.ID); n != 0 {
		t.Fatalf("the failed handler's writes were kept (%d rows)", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE event_id = $1`, poison.ID); n != 0 {
		t.Fatal("the dead-lettered event is recorded as processed; it could not be replayed")
	}
	if f, d := counter(t, c.reg, inbox.ResultFailed), counter(t, c.reg, inbox.ResultDLQ); f != 3 || d != 2 {
		t.Fatalf("failed %v, dlq %v; want 3 and 2", f, d)
	}

	letters := kafkatest.ReadAll(t, brokers, eventbus.DLQTopic(topic), 3, 3*time.Second)
	if len(letters) != 2 {
		t.Fatalf("%d dead letters, want 2", len(letters))
	}
	first, second := letters[0], letters[1]
	if string(first.Value) != string(message(t, ctx, "k", poison).Value) || string(first.Key) != "k" {
		t.Fatalf("first dead letter = %s", first.Value)
	}
	if got := eventbus.HeaderValue(first.Headers, inbox.HeaderError); !strings.Contains(got, "portfolio 2 is not known here") {
		t.Fatalf("x-error = %q", got)
	}
	if eventbus.HeaderValue(first.Headers, inbox.HeaderOriginalTopic) != topic ||
		eventbus.HeaderValue(first.Headers, inbox.HeaderOriginalOffset) != "1" ||
		eventbus.HeaderValue(first.Headers, inbox.HeaderOriginalPartition) != strconv.Itoa(first.Partition) ||
		eventbus.HeaderValue(first.Headers, "event-type") != eventbus.TypeProfitRatioChanged {
		t.Fatalf("dead letter headers = %v", first.Headers)
	}
	if string(second.Value) != "not json" || eventbus.HeaderValue(second.Headers, inbox.HeaderError) == "" ||
		eventbus.HeaderValue(second.Headers, inbox.HeaderOriginalOffset) != "2" {
		t.Fatalf("second dead letter = %s %v", second.Value, second.Headers)
	}
}

func TestPermanentErrorIsDeadLetteredAtOnce(t *testing.T) {
	pool, brokers, ctx := setup(t, 25*time.Second, topic, eventbus.DLQTopic(topic))
	var attempts atomic.Int32
	handler := func(context.Context, pgx.Tx, eventbus.Envelope) error {
		attempts.Add(1)
		return inbox.Permanent(errors.New("ratio shares do not sum to 1"))
	}
	produce(t, ctx, brokers, message(t, ctx, "1", ratioEvent(t, 1)))
	c := start(t, pool, brokers, "profit", handler, nil)
	testkit.Eventually(t, 20*time.Second, "message done", func() bool { return storedTotal(t, pool, "profit") == 1 })
	c.stop()
	if n := attempts.Load(); n != 1 {
		t.Fatalf("tried %d times, want 1", n)
	}
	oneDeadLetter(t, brokers, 10*time.Second, "sum to 1")
}

func TestReadyBeforeJoining(t *testing.T) {
	pool := pgtest.New(t, migrations)
	c, err := inbox.NewConsumer(pool, inbox.Config{
		Brokers: []string{"127.0.0.1:1"}, GroupID: "g", Topics: []string{topic}, Handler: record,
	}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(context.Background()); err == nil {
		t.Fatal("ready before it ever joined its group")
	}
	if _, err := inbox.NewConsumer(pool, inbox.Config{Brokers: []string{"x"}}, nil); err == nil {
		t.Fatal("accepted a config without group, topics and handler")
	}
}

func TestSchemaValidationDeadLettersBadEvents(t *testing.T) {
	pool, brokers, ctx := setup(t, 25*time.Second, topic, eventbus.DLQTopic(topic))
	bad := ratioEvent(t, 1)
	bad.Data = json.RawMessage(`{"portfolio_id": 1, "ratio_id": 1, "version": 1, "to_team": "0.2", "to_platform": "0.1", "to_user": "0.7"}`)
	good := ratioEvent(t, 2)
	produce(t, ctx, brokers, message(t, ctx, "k", bad), message(t, ctx, "k", good))
	c := start(t, pool, brokers, "stats", record, func(cfg *inbox.Config) { cfg.ValidateSchema = true })
	testkit.Eventually(t, 20*time.Second, "both messages done", func() bool { return storedTotal(t, pool, "stats") == 2 })
	c.stop()
	if n := count(t, pool, `SELECT count(*) FROM effects`); n != 1 {
		t.Fatalf("%d effects, want 1 (the valid event only)", n)
	}
	oneDeadLetter(t, brokers, 10*time.Second, "schema")
}

func TestNothingIsSkippedWhileTheDLQCannotBeWritten(t *testing.T) {
	// No dead-letter topic: the bad message can go nowhere.
	pool, brokers, ctx := setup(t, 25*time.Second, topic)
	produce(t, ctx, brokers, kafka.Message{Key: []byte("k"), Value: []byte("not json")}, message(t, ctx, "k", ratioEvent(t, 1)))
	c := start(t, pool, brokers, "stats", record, nil)
	testkit.Eventually(t, 20*time.Second, "Ready to report the stall", func() bool {
		err := c.consumer.Ready(ctx)
		return err != nil && strings.Contains(err.Error(), "dead-letter")
	})
	c.stop()
	if n := storedTotal(t, pool, "stats"); n != 0 {
		t.Fatalf("offset moved to %d past a message that was neither applied nor dead-lettered", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM effects`); n != 0 {
		t.Fatalf("%d effects: a later message was applied before the stuck one", n)
	}
}

func TestPanickingHandlerIsDeadLettered(t *testing.T) {
	pool, brokers, ctx := setup(t, 25*time.Second, topic, eventbus.DLQTopic(topic))
	var attempts atomic.Int32
	handler := func(context.Context, pgx.Tx, eventbus.Envelope) error {
		attempts.Add(1)
		var m map[string]int
		// A runtime panic, as a real handler bug would raise, rather than
		// an explicit panic call.
		//lint:ignore SA5000 deliberate: the write to a nil map is the panic under test
		m["boom"]++
		return nil
	}
	produce(t, ctx, brokers, message(t, ctx, "1", ratioEvent(t, 1)))
	c := start(t, pool, brokers, "profit", handler, func(cfg *inbox.Config) { cfg.MaxAttempts = 2 })
	testkit.Eventually(t, 20*time.Second, "message done", func() bool { return storedTotal(t, pool, "profit") == 1 })
	c.stop()
	if n := attempts.Load(); n != 2 {
		t.Fatalf("tried %d times, want 2", n)
	}
	oneDeadLetter(t, brokers, 10*time.Second, "panicked")
}
