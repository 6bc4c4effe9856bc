package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/stats/internal/events"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
)

// TestConsumerReadsAllThreeTopics runs the service's consumer against an
// in-process Kafka broker: events on each of the three topics reach the
// read models, a message produced twice counts once, and an event that
// breaks its schema goes to the dead-letter topic while the consumer goes on.
func TestConsumerReadsAllThreeTopics(t *testing.T) {
	topics := append([]string{}, events.Topics...)
	for _, topic := range events.Topics {
		topics = append(topics, eventbus.DLQTopic(topic))
	}
	brokers := kafkatest.Start(t, topics...)
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx, _ := eventtest.Run(context.Background(), t, pool, eventtest.Consumer(brokers, events.GroupID, events.Topics, events.Handler(st)), false)

	publish := func(topic, key string, envs ...eventbus.Envelope) {
		t.Helper()
		eventtest.Publisher(ctx, t, brokers, topic, key)(envs...)
	}
	nav := alloc{1, 42, 7, 3, "nav", "2026-03-01T10:00:00Z", "10.00000000", "10.00000000", "2.00000000", "1.00000000", "7.00000000"}
	allocated := nav.envelope(t)
	bad := portfolioCreated(t, 43, 7, 3)
	bad.Data = []byte(`{"portfolio_id": 43}`)
	publish(eventbus.TopicPortfolio, "42", portfolioCreated(t, 42, 7, 3), bad, nav.recorded(t))
	publish(eventbus.TopicProfit, "42", allocated, allocated)
	publish(eventbus.TopicWithdrawal, "user:7",
		withdrawal(t, eventbus.TypeWithdrawalRequested, 1, "user", 7, "3.00000000"),
		withdrawal(t, eventbus.TypeWithdrawalCompleted, 1, "user", 7, "3.00000000"))

	deadline := time.Now().Add(30 * time.Second)
	var o stats.Overview
	for {
		var err error
		o, err = st.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if o.Counts.Portfolios == 1 && o.Counts.Allocations == 1 && o.In("USD").WithdrawalsCompleted.Equal(d("3")) && o.In("USD").TotalProfit.Equal(d("10")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; overview = %+v", o)
		}
		time.Sleep(50 * time.Millisecond)
	}
	eq(t, "total_profit", o.In("USD").TotalProfit, d("10"))
	eq(t, "pending", o.In("USD").WithdrawalsPending, d("0"))
	if o.Counts.Withdrawals != 1 {
		t.Errorf("withdrawals = %d", o.Counts.Withdrawals)
	}
	if got := kafkatest.ReadAll(t, brokers, eventbus.DLQTopic(eventbus.TopicPortfolio), 1, 20*time.Second); len(got) != 1 {
		t.Errorf("dead-lettered %d messages, want 1", len(got))
	}
	// The redelivered allocation was recorded once: portfolio.created,
	// profit_recorded, profit.allocated and two withdrawal events.
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM processed_events WHERE group_id = 'stats'`).Scan(&n); err != nil || n != 5 {
		t.Errorf("processed events = %d (%v), want 5", n, err)
	}
}
