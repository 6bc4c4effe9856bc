package events_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/profit/internal/events"
	"github.com/fundplatform/platform/services/profit/internal/profit"
	"github.com/fundplatform/platform/services/profit/internal/store"
)

// TestConsumerRestartMidStream stops the profit service's consumer while a
// stream of profits is being applied and starts a new one: every profit is
// allocated exactly once, in order, so the carry-forward and the amounts are
// those of one uninterrupted pass.
func TestConsumerRestartMidStream(t *testing.T) {
	brokers := kafkatest.Start(t, eventbus.TopicPortfolio, eventbus.DLQTopic(eventbus.TopicPortfolio), eventbus.TopicProfit)
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()

	// The portfolio and its ratio exist before the stream starts.
	w := eventbus.NewWriter(brokers, eventbus.TopicPortfolio)
	defer w.Close()
	const limit = 15
	stop := startConsumer(t, pool, st, brokers, limit)
	if err := w.Publish(ctx, "42", envelope(t, eventbus.TypePortfolioCreated, map[string]any{
		"portfolio_id": 42, "name": "Growth", "user_id": 7, "team_id": 3, "currency": "USD"})); err != nil {
		t.Fatal(err)
	}
	eventtest.WaitFor(t, "the read model", 30*time.Second, func() bool { _, err := st.Portfolio(ctx, 42); return err == nil })
	ratio, err := st.CreateRatio(ctx, profit.NewRatio{PortfolioID: 42, ToTeam: decimal.RequireFromString("0.3333"),
		ToPlatform: decimal.RequireFromString("0.3334"), ToUser: decimal.RequireFromString("0.3333")}, 1)
	if err != nil {
		t.Fatal(err)
	}

	const n = 40
	profits := publishProfits(t, w, n)
	count := func() int64 {
		_, total, err := st.ListAllocations(ctx, profit.AllocationFilter{}, profit.Page{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return total
	}
	// Stop in the middle of the stream, then resume with a new consumer.
	eventtest.WaitFor(t, "the first part of the stream", 30*time.Second, func() bool { return count() >= limit })
	time.Sleep(100 * time.Millisecond)
	stop()
	mid := count()
	if mid != limit {
		t.Fatalf("%d allocations when the consumer stopped, want %d", mid, limit)
	}
	stop = startConsumer(t, pool, st, brokers, 0)
	defer stop()
	eventtest.WaitFor(t, "every allocation", 30*time.Second, func() bool { return count() >= n })
	time.Sleep(300 * time.Millisecond) // a duplicate would show up now
	if got := count(); got != n {
		t.Fatalf("%d allocations after the restart (stopped at %d), want exactly %d", got, mid, n)
	}
	checkOnePass(t, st, ratio, profits)
}

// startConsumer runs a consumer; with a limit, its handler applies that
// many profit events and then hangs in the middle of the next one (in its
// open transaction) until the consumer is stopped.
func startConsumer(t *testing.T, pool *pgxpool.Pool, st *store.Store, brokers []string, limit int) (stop func()) {
	t.Helper()
	handle := events.Handler(st)
	var applied atomic.Int32
	gated := func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
		if limit > 0 && env.Type == eventbus.TypePortfolioProfitRecorded {
			if applied.Load() == int32(limit) {
				<-ctx.Done()
				return ctx.Err()
			}
			applied.Add(1)
		}
		return handle(ctx, tx, env)
	}
	_, stop = eventtest.Run(context.Background(), t, pool, eventtest.Consumer(brokers, events.GroupID, events.Topics, gated), false)
	return stop
}

// publishProfits publishes n profits of portfolio 42, losses among them,
// in one go, and returns their amounts.
func publishProfits(t *testing.T, w *eventbus.Writer, n int) []decimal.Decimal {
	t.Helper()
	profits := make([]decimal.Decimal, n)
	for i := range n {
		profits[i] = decimal.New(int64((i*7919)%2000-600), -2) // -6.00 … 13.99
		day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(time.RFC3339)
		env := envelope(t, eventbus.TypePortfolioProfitRecorded, map[string]any{
			"portfolio_id": 42, "snapshot_id": 1000 + i, "user_id": 7, "team_id": 3, "as_of": day, "period_end": day,
			"profit": profits[i].StringFixed(8), "nav": "1000.00000000", "prev_nav": "1000.00000000", "net_flow": "0.00000000"})
		if err := w.Publish(context.Background(), "42", env); err != nil {
			t.Fatal(err)
		}
	}
	return profits
}

// checkOnePass checks the allocations are those of one uninterrupted pass
// of the rule over profits (snapshots 1000, 1001, …) with ratio.
func checkOnePass(t *testing.T, st *store.Store, ratio profit.Ratio, profits []decimal.Decimal) {
	t.Helper()
	allocs, _, err := st.ListAllocations(context.Background(), profit.AllocationFilter{}, profit.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	bySnapshot := map[int64]profit.Allocation{}
	for _, a := range allocs {
		bySnapshot[*a.SnapshotID] = a
	}
	r := &ratio
	carry := decimal.Zero
	for i, p := range profits {
		want := profit.Allocate(p, carry, r)
		carry = want.LossCarryforwardAfter
		got, ok := bySnapshot[int64(1000+i)]
		if !ok {
			t.Fatalf("snapshot %d was not allocated", 1000+i)
		}
		if got.Status != want.Status || !got.ToUser.Equal(want.ToUser) || !got.LossCarryforwardAfter.Equal(want.LossCarryforwardAfter) {
			t.Fatalf("snapshot %d: %s user %s carry %s, want %s", 1000+i, got.Status, got.ToUser,
				got.LossCarryforwardAfter, fmt.Sprint(want.Status, " ", want.ToUser, " ", want.LossCarryforwardAfter))
		}
	}
}
