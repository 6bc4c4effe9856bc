package events_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/withdrawal/internal/events"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func allocated(t *testing.T, allocationID int64, toUser, toTeam, toPlatform, distributable string) eventbus.Envelope {
	t.Helper()
	return allocatedTo(t, allocationID, 7, 3, toUser, toTeam, toPlatform, distributable)
}

func allocatedTo(t *testing.T, allocationID, userID, teamID int64, toUser, toTeam, toPlatform, distributable string) eventbus.Envelope {
	t.Helper()
	return eventtest.Envelope(t, "profit", eventbus.TypeProfitAllocated, "portfolio/42", map[string]any{
		"allocation_id": allocationID, "portfolio_id": 42, "source": "nav", "snapshot_id": 900 + allocationID,
		"period_end": "2026-02-01T00:00:00Z", "profit_amount": distributable, "distributable": distributable,
		"to_team_amount": toTeam, "to_platform_amount": toPlatform, "to_user_amount": toUser,
		"user_id": userID, "team_id": teamID, "ratio_id": 1, "ratio_version": 1,
	})
}

// withCurrency is the data of env with currency.
func withCurrency(t *testing.T, env eventbus.Envelope, currency string) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(env.Data, &d); err != nil {
		t.Fatal(err)
	}
	d["currency"] = currency
	return d
}

// TestAllocatedTwiceIsCreditedOnce runs the service's consumer and relay
// against an in-process Kafka broker: a profit.allocated produced twice (a
// redelivery) credits the accounts once; an event that breaks its schema,
// and one whose shares do not add up, go to the dead-letter topic and the
// consumer goes on; a withdrawal's event reaches withdrawal.events keyed by
// its account and matching its schema.
func TestAllocatedTwiceIsCreditedOnce(t *testing.T) {
	brokers := kafkatest.Start(t, eventbus.TopicProfit, eventbus.DLQTopic(eventbus.TopicProfit), eventbus.TopicWithdrawal)
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx, _ := eventtest.Run(context.Background(), t, pool, eventtest.Consumer(brokers, events.GroupID, events.Topics, events.Handler(st)), true)

	publish := eventtest.Publisher(ctx, t, brokers, eventbus.TopicProfit, "42")
	first := allocated(t, 1, "70.00000000", "20.00000000", "10.00000000", "100.00000000")
	publish(first)
	publish(first)
	broken, _ := eventbus.NewEnvelope("profit", eventbus.TypeProfitAllocated, "portfolio/42", map[string]any{"allocation_id": 2})
	publish(broken)
	publish(allocated(t, 3, "70.00000000", "20.00000000", "10.00000000", "99.00000000"))
	jpy := allocated(t, 5, "1000.00000000", "0.00000000", "0.00000000", "1000.00000000")
	jpy = eventtest.Envelope(t, "profit", eventbus.TypeProfitAllocated, "portfolio/42", withCurrency(t, jpy, "JPY"))
	publish(jpy) // before allocation 4: credited once allocation 4 is
	publish(allocated(t, 4, "7.00000000", "2.00000000", "1.00000000", "10.00000000"))

	user := ledger.Owner{Type: auth.OwnerUser, ID: 7}
	eventtest.WaitFor(t, "the credit after the broken events", 30*time.Second, func() bool {
		b, err := st.Balance(ctx, user, "USD", nil)
		return err == nil && b.Credited.Equal(decimal.RequireFromString("77"))
	})
	// Give a late duplicate a chance to show up, then check every account.
	time.Sleep(200 * time.Millisecond)
	for o, want := range map[ledger.Owner]string{
		user: "77", {Type: auth.OwnerTeam, ID: 3}: "22", {Type: auth.OwnerPlatform}: "11",
	} {
		b, err := st.Balance(ctx, o, "USD", nil)
		if err != nil || !b.Credited.Equal(decimal.RequireFromString(want)) || !b.Available.Equal(b.Credited) {
			t.Fatalf("%s: %+v, %v; want credited %s", o.Account(), b, err, want)
		}
	}
	// The JPY allocation credits user 7's JPY account, apart from its USD one.
	if b, err := st.Balance(ctx, user, "JPY", nil); err != nil || !b.Credited.Equal(decimal.RequireFromString("1000")) {
		t.Fatalf("user:7 in JPY: %+v, %v; want credited 1000", b, err)
	}
	var transfers int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM transfers WHERE ref_type = 'allocation'`).Scan(&transfers); err != nil || transfers != 3 {
		t.Fatalf("%d credit transfers, want 3 (%v)", transfers, err)
	}
	if v, err := st.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("verify = %+v, %v", v, err)
	}

	dead := kafkatest.ReadAll(t, brokers, eventbus.DLQTopic(eventbus.TopicProfit), 2, 10*time.Second)
	if len(dead) != 2 || eventbus.HeaderValue(dead[0].Headers, inbox.HeaderError) == "" {
		t.Fatalf("dead letters = %d, want the two broken events with their error", len(dead))
	}

	// A withdrawal goes out on withdrawal.events keyed by its account.
	if _, err := st.RequestWithdrawal(ctx, ledger.NewWithdrawal{Owner: user, Currency: "USD", Amount: decimal.RequireFromString("5")}, 7); err != nil {
		t.Fatal(err)
	}
	msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicWithdrawal, 1, 10*time.Second)
	if len(msgs) != 1 || string(msgs[0].Key) != "user:7" {
		t.Fatalf("%d messages on %s, want one keyed user:7", len(msgs), eventbus.TopicWithdrawal)
	}
	typ := eventbus.HeaderValue(msgs[0].Headers, eventbus.HeaderEventType)
	if err := eventbus.Validate(typ, msgs[0].Value); err != nil || typ != eventbus.TypeWithdrawalRequested {
		t.Fatalf("%s: %v", typ, err)
	}
}

// TestBatchOfAllocationsIsCreditedOnceEach delivers many profit.allocated
// events (redeliveries among them) at once to the service's consumer in
// batch mode, configured as the service runs it: each allocation is
// credited once, several credits share a transaction, and the hash chains
// of the accounts they all touch (platform, system:profit) hold across the
// credits of one transaction.
func TestBatchOfAllocationsIsCreditedOnceEach(t *testing.T) {
	brokers := kafkatest.Start(t, eventbus.TopicProfit, eventbus.DLQTopic(eventbus.TopicProfit))
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx, cancel := context.WithTimeout(context.Background(), 28*time.Second)
	defer cancel()

	// 150 allocations over 5 users and 3 teams, keyed by user (so spread
	// over the partitions), every fifth one delivered twice.
	const n = 150
	var msgs []kafka.Message
	for i := int64(1); i <= n; i++ {
		env := allocatedTo(t, i, 1+i%5, 1+i%3, "7.00000000", "2.00000000", "1.00000000", "10.00000000")
		m, err := eventbus.NewMessage(ctx, strconv.FormatInt(1+i%5, 10), env)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
		if i%5 == 0 {
			msgs = append(msgs, m)
		}
	}
	w := eventbus.NewWriter(brokers, eventbus.TopicProfit)
	defer w.Close()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	// The consumer as the service runs it (BatchHandler, store.Credits).
	eventtest.Run(ctx, t, pool, eventtest.Retrying(events.ConsumerConfig(brokers, st, nil)), false)

	count := func(query string) int {
		t.Helper()
		var c int
		if err := pool.QueryRow(ctx, query).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	eventtest.WaitFor(t, "every message done", 20*time.Second, func() bool {
		return count(`SELECT COALESCE(sum(next_offset), 0)::int FROM consumer_offsets`) == len(msgs)
	})

	if c := count(`SELECT count(*) FROM transfers WHERE ref_type = 'allocation'`); c != n {
		t.Fatalf("%d credit transfers, want %d", c, n)
	}
	txs := count(`SELECT count(DISTINCT xmin::text) FROM transfers`)
	if txs*2 > n {
		t.Fatalf("%d credits were applied in %d transactions: they were not batched", n, txs)
	}
	t.Logf("%d credits applied in %d transactions", n, txs)
	for o, want := range map[ledger.Owner]string{
		{Type: auth.OwnerUser, ID: 1}: "210", {Type: auth.OwnerUser, ID: 3}: "210",
		{Type: auth.OwnerTeam, ID: 1}: "100", {Type: auth.OwnerTeam, ID: 2}: "100",
		{Type: auth.OwnerPlatform}: "150",
	} {
		b, err := st.Balance(ctx, o, "USD", nil)
		if err != nil || !b.Credited.Equal(decimal.RequireFromString(want)) {
			t.Fatalf("%s: %+v, %v; want credited %s", o.Account(), b, err, want)
		}
	}
	var sum string
	if err := pool.QueryRow(ctx, `SELECT sum(amount)::text FROM entries`).Scan(&sum); err != nil || !decimal.RequireFromString(sum).IsZero() {
		t.Fatalf("the entries sum to %s (%v), want 0", sum, err)
	}
	v, err := st.Verify(ctx)
	if err != nil || !v.OK || v.Entries != 4*n {
		t.Fatalf("verify = %+v, %v; want OK with %d entries", v, err, 4*n)
	}
}
