package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/testkit"
)

// insertRaw writes a row as an older release (or a broker whose limit was
// lowered since) could have left it: bypassing Add's checks.
func insertRaw(t *testing.T, pool *pgxpool.Pool, topic, key string, env eventbus.Envelope) int64 {
	t.Helper()
	payload, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	err = pool.QueryRow(context.Background(), `INSERT INTO outbox (event_id, topic, key, type, payload)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, env.ID, topic, key, env.Type, string(payload)).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// logLines are the JSON log lines in buf whose msg starts with prefix.
func logLines(t *testing.T, buf *testkit.SyncBuffer, prefix string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// TestARowTheBrokerRefusesBlocksTheRelayUntilSkipped: the topic accepts
// messages of at most 20 000 bytes and the second row is larger. The row
// before it is published; the relay then reports the row (the gauges, one
// ERROR log naming it however many attempts fail) and keeps the rows after
// it waiting, those of its key and the others. Once the row is skipped, the
// rest is published in order, the gauges return to 0 and the skipped
// event was never published.
func TestARowTheBrokerRefusesBlocksTheRelayUntilSkipped(t *testing.T) {
	pool := pgtest.New(t, migrations)
	cluster := kafkatest.StartCluster(t)
	if err := cluster.CreateTopic(eventbus.TopicPortfolio, kafkatest.Partitions, map[string]string{"max.message.bytes": "20000"}); err != nil {
		t.Fatal(err)
	}
	brokers := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	first := portfolioEvent(t, 1)
	add(t, ctx, pool, true, pending{eventbus.TopicPortfolio, "1", first})
	big, err := eventbus.NewEnvelope("portfolio", eventbus.TypePortfolioCreated, "portfolio/2",
		map[string]any{"portfolio_id": 2, "name": strings.Repeat("x", 30_000), "user_id": 7, "team_id": 3, "currency": "USD"})
	if err != nil {
		t.Fatal(err)
	}
	bigID := insertRaw(t, pool, eventbus.TopicPortfolio, "2", big)
	later := []pending{
		{eventbus.TopicPortfolio, "2", portfolioEvent(t, 2)}, // the blocked row's key
		{eventbus.TopicPortfolio, "3", portfolioEvent(t, 3)},
		{eventbus.TopicPortfolio, "2", portfolioEvent(t, 4)},
	}
	add(t, ctx, pool, true, later...)

	var logs testkit.SyncBuffer
	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(pool, outbox.Config{
		Brokers: brokers, PollInterval: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if metric(t, reg, "fund_outbox_blocked") != 0 {
		t.Fatal("blocked before the first attempt")
	}
	runRelay(t, relay)
	testkit.Eventually(t, 15*time.Second, "the relay blocked", func() bool { return metric(t, reg, "fund_outbox_blocked") == 1 })
	if got := metric(t, reg, "fund_outbox_blocked_row_id"); got != float64(bigID) {
		t.Fatalf("fund_outbox_blocked_row_id = %v, want %d", got, bigID)
	}
	// Let a few more attempts fail on it: still one ERROR line.
	errs := metric(t, reg, "fund_outbox_publish_errors_total")
	testkit.Eventually(t, 15*time.Second, "more failed attempts", func() bool {
		return metric(t, reg, "fund_outbox_publish_errors_total") >= errs+3
	})
	lines := logLines(t, &logs, "outbox blocked")
	if len(lines) != 1 {
		t.Fatalf("%d 'outbox blocked' log lines, want 1 (once per blocked row): %s", len(lines), logs.String())
	}
	l := lines[0]
	want := map[string]any{"level": "ERROR", "row_id": float64(bigID), "event_id": big.ID, "type": big.Type,
		"topic": eventbus.TopicPortfolio, "key": "2"}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("log %s = %v, want %v", k, l[k], v)
		}
	}
	if size, _ := l["size"].(float64); size <= 30_000 {
		t.Errorf("log size = %v, want the message's size, above 30000", l["size"])
	}
	if msg, _ := l["error"].(string); !strings.Contains(msg, kafka.MessageSizeTooLarge.Error()) {
		t.Errorf("log error = %q, want the broker's %q", msg, kafka.MessageSizeTooLarge.Error())
	}
	if warns := logLines(t, &logs, "outbox publish failed"); len(warns) > 1 {
		t.Errorf("%d WARN lines for a blocked relay, want at most the first attempt's", len(warns))
	}
	// The row before it is out; it and the rows of its key after it wait.
	// (The attempt that found it may have written rows of other keys, on
	// other partitions: those are published.)
	total, rows, err := outbox.Pending(ctx, pool, 10)
	if err != nil {
		t.Fatal(err)
	}
	waiting := map[string]bool{}
	for _, r := range rows {
		waiting[r.EventID] = true
	}
	if total != int64(len(rows)) || len(rows) == 0 || rows[0].ID != bigID || rows[0].EventID != big.ID || rows[0].Key != "2" ||
		rows[0].Type != big.Type || rows[0].Size <= 30_000 || waiting[first.ID] || !waiting[later[0].env.ID] || !waiting[later[2].env.ID] {
		t.Fatalf("Pending = %d, %+v; want the blocked row first, then the rows of its key", total, rows)
	}
	for _, m := range kafkatest.ReadAll(t, brokers, eventbus.TopicPortfolio, 2+len(later), 2*time.Second) {
		if string(m.Key) == "2" {
			t.Fatalf("a row of the blocked row's key was published while blocked: %s", m.Value)
		}
	}

	var kept outbox.PendingRow
	if err := outbox.Skip(ctx, pool, bigID, func(r outbox.PendingRow) error { kept = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if wantPayload, _ := json.Marshal(big); kept.ID != bigID || string(kept.Payload) != string(wantPayload) {
		t.Fatalf("Skip kept row %d with payload of %d bytes, want row %d and its payload", kept.ID, len(kept.Payload), bigID)
	}

	testkit.Eventually(t, 15*time.Second, "the later rows published", func() bool { return unpublished(t, pool) == 0 })
	testkit.Eventually(t, 5*time.Second, "the gauges back to 0", func() bool {
		return metric(t, reg, "fund_outbox_blocked") == 0 && metric(t, reg, "fund_outbox_blocked_row_id") == 0
	})
	if len(logLines(t, &logs, "outbox unblocked")) != 1 {
		t.Errorf("no 'outbox unblocked' log line: %s", logs.String())
	}
	// Every event but the skipped one, each key's in row order (counting
	// an event's first copy: the attempt that found the row may have
	// written rows of other partitions twice).
	byKey := map[string][]string{}
	seen := map[string]bool{}
	for _, m := range kafkatest.ReadAll(t, brokers, eventbus.TopicPortfolio, 2*(2+len(later)), 3*time.Second) {
		env, err := eventbus.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if !seen[env.ID] {
			seen[env.ID] = true
			byKey[string(m.Key)] = append(byKey[string(m.Key)], env.ID)
		}
	}
	wantByKey := map[string][]string{"1": {first.ID}, "2": {later[0].env.ID, later[2].env.ID}, "3": {later[1].env.ID}}
	if fmt.Sprint(byKey) != fmt.Sprint(wantByKey) {
		t.Fatalf("events by key %v, want %v (the skipped %s never)", byKey, wantByKey, big.ID)
	}
}

// TestABrokerThatIsDownNeverBlocks: connection failures are retried
// without end but never reported as a blocking row, however many there
// are (more than a topic that does not exist needs to count as blocking).
func TestABrokerThatIsDownNeverBlocks(t *testing.T) {
	pool := pgtest.New(t, migrations)
	brokers := []string{testkit.FreeAddr(t)} // nothing listens there
	ctx := context.Background()
	add(t, ctx, pool, true, pending{eventbus.TopicPortfolio, "1", portfolioEvent(t, 1)})
	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: brokers, PollInterval: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}, reg)
	if err != nil {
		t.Fatal(err)
	}
	runRelay(t, relay)
	testkit.Eventually(t, 20*time.Second, "failed attempts", func() bool {
		return metric(t, reg, "fund_outbox_publish_errors_total") >= 2*outbox.BlockAfterAttempts
	})
	if metric(t, reg, "fund_outbox_blocked") != 0 {
		t.Fatal("a broker that is down blocked the relay")
	}
}

// TestRowsAreClassifiedByTheirErrors: what blocks the relay at once, what
// after it lasts, and what never.
func TestRowsAreClassifiedByTheirErrors(t *testing.T) {
	cases := map[string]struct {
		err  error
		want string
	}{
		"too large for the writer":  {fmt.Errorf("write: %w", kafka.MessageTooLargeError{}), "permanent"},
		"too large for the broker":  {kafka.WriteErrors{nil, fmt.Errorf("%w: too big", kafka.MessageSizeTooLarge)}, "permanent"},
		"not authorised":            {kafka.TopicAuthorizationFailed, "permanent"},
		"invalid record":            {kafka.WriteErrors{kafka.InvalidRecord}, "permanent"},
		"unknown topic":             {fmt.Errorf("x: %w", kafka.UnknownTopicOrPartition), "suspect"},
		"corrupt message":           {kafka.WriteErrors{kafka.InvalidMessage, nil}, "suspect"},
		"the worst of a batch":      {kafka.WriteErrors{kafka.LeaderNotAvailable, kafka.MessageSizeTooLarge}, "permanent"},
		"no leader":                 {kafka.LeaderNotAvailable, "transient"},
		"not enough replicas":       {kafka.WriteErrors{kafka.NotEnoughReplicas}, "transient"},
		"timed out":                 {kafka.RequestTimedOut, "transient"},
		"connection refused":        {errors.New("dial tcp 127.0.0.1:9092: connect: connection refused"), "transient"},
		"context deadline exceeded": {context.DeadlineExceeded, "transient"},
	}
	for name, c := range cases {
		if got := outbox.Classify(c.err); got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
}

// TestATopicThatNeverAppearsBlocksAfterRetries: a missing topic is first
// retried (it may be being created), then reported as blocking once the
// row has failed BlockAfterAttempts times; creating it unblocks the relay.
func TestATopicThatNeverAppearsBlocksAfterRetries(t *testing.T) {
	pool := pgtest.New(t, migrations)
	cluster := kafkatest.StartCluster(t, eventbus.TopicPortfolio)
	brokers := cluster.ListenAddrs()
	ctx := context.Background()
	add(t, ctx, pool, true, pending{eventbus.TopicProfit, "5", ratioEvent(t, 5)})
	var logs testkit.SyncBuffer
	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: brokers, PollInterval: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, reg)
	if err != nil {
		t.Fatal(err)
	}
	runRelay(t, relay)
	testkit.Eventually(t, 15*time.Second, "the relay blocked", func() bool { return metric(t, reg, "fund_outbox_blocked") == 1 })
	lines := logLines(t, &logs, "outbox blocked")
	if len(lines) != 1 || lines[0]["attempts"] != float64(outbox.BlockAfterAttempts) || lines[0]["topic"] != eventbus.TopicProfit {
		t.Fatalf("'outbox blocked' lines %v, want one, after %d attempts, naming the topic", lines, outbox.BlockAfterAttempts)
	}
	if warns := logLines(t, &logs, "outbox publish failed"); len(warns) != outbox.BlockAfterAttempts-1 {
		t.Fatalf("%d WARN lines before blocking, want one per retry (%d)", len(warns), outbox.BlockAfterAttempts-1)
	}
	if err := cluster.CreateTopic(eventbus.TopicProfit, kafkatest.Partitions, nil); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, "published once the topic exists", func() bool { return unpublished(t, pool) == 0 })
	testkit.Eventually(t, 5*time.Second, "unblocked", func() bool { return metric(t, reg, "fund_outbox_blocked") == 0 })
}

// TestSkipRefusesARowThatIsNotPending: an unknown id, a published row, and
// a keep that fails (nothing changes then).
func TestSkipRefusesARowThatIsNotPending(t *testing.T) {
	pool := pgtest.New(t, migrations)
	ctx := context.Background()
	id := insertRaw(t, pool, eventbus.TopicPortfolio, "1", portfolioEvent(t, 1))
	keep := func(outbox.PendingRow) error { return nil }
	if err := outbox.Skip(ctx, pool, id+1, keep); !errors.Is(err, outbox.ErrNotPending) {
		t.Fatalf("Skip of an unknown row: %v, want ErrNotPending", err)
	}
	failing := errors.New("cannot write the copy")
	if err := outbox.Skip(ctx, pool, id, func(outbox.PendingRow) error { return failing }); !errors.Is(err, failing) {
		t.Fatalf("Skip with a failing keep: %v", err)
	}
	if n := unpublished(t, pool); n != 1 {
		t.Fatalf("%d rows unpublished after a failed Skip, want 1", n)
	}
	if err := outbox.Skip(ctx, pool, id, keep); err != nil {
		t.Fatal(err)
	}
	if err := outbox.Skip(ctx, pool, id, keep); !errors.Is(err, outbox.ErrNotPending) {
		t.Fatalf("Skip of a published row: %v, want ErrNotPending", err)
	}
	total, rows, err := outbox.Pending(ctx, pool, 10)
	if err != nil || total != 0 || len(rows) != 0 {
		t.Fatalf("Pending = %d, %v, %v; want none", total, rows, err)
	}
}
