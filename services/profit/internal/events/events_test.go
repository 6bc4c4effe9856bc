package events_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/profit/internal/events"
	"github.com/fundplatform/platform/services/profit/internal/profit"
	"github.com/fundplatform/platform/services/profit/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// envelope is an event about portfolio 42 as the portfolio service
// publishes it.
func envelope(t *testing.T, eventType string, data map[string]any) eventbus.Envelope {
	t.Helper()
	return eventtest.Envelope(t, "portfolio", eventType, "portfolio/42", data)
}

// TestProfitRecordedTwiceIsAllocatedOnce runs the service's consumer and
// relay against an in-process Kafka broker: portfolio.created builds the
// read model; a portfolio.profit_recorded produced twice (a redelivery)
// ends as one allocation and one profit.allocated message, both in the
// portfolio's currency (which its portfolio.created said; the
// profit_recorded event, as one from before currencies, says none); an
// event that breaks its schema goes to the dead-letter topic and the
// consumer goes on.
func TestProfitRecordedTwiceIsAllocatedOnce(t *testing.T) {
	brokers := kafkatest.Start(t, eventbus.TopicPortfolio, eventbus.DLQTopic(eventbus.TopicPortfolio), eventbus.TopicProfit)
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx, _ := eventtest.Run(context.Background(), t, pool, eventtest.Consumer(brokers, events.GroupID, events.Topics, events.Handler(st)), true)

	publish := eventtest.Publisher(ctx, t, brokers, eventbus.TopicPortfolio, "42")
	publish(envelope(t, eventbus.TypePortfolioCreated, map[string]any{
		"portfolio_id": 42, "name": "Growth", "user_id": 7, "team_id": 3, "currency": "JPY"}))
	eventtest.WaitFor(t, "the read model", 30*time.Second, func() bool {
		_, err := st.Portfolio(ctx, 42)
		return err == nil
	})
	if _, err := st.CreateRatio(ctx, profit.NewRatio{PortfolioID: 42, ToTeam: decimal.RequireFromString("0.2"),
		ToPlatform: decimal.RequireFromString("0.1"), ToUser: decimal.RequireFromString("0.7")}, 1); err != nil {
		t.Fatal(err)
	}

	recorded := envelope(t, eventbus.TypePortfolioProfitRecorded, map[string]any{
		"portfolio_id": 42, "snapshot_id": 900, "user_id": 7, "team_id": 3,
		"as_of": "2026-02-01T00:00:00Z", "period_end": "2026-02-01T00:00:00Z",
		"profit": "100.00000000", "nav": "1100.00000000", "prev_nav": "1000.00000000", "net_flow": "0.00000000"})
	publish(recorded)
	publish(recorded)
	broken := envelope(t, eventbus.TypePortfolioProfitRecorded, map[string]any{"portfolio_id": 42, "profit": "1"})
	publish(broken)
	publish(envelope(t, eventbus.TypePortfolioUpdated, map[string]any{
		"portfolio_id": 42, "name": "Growth", "user_id": 8, "team_id": 3, "currency": "JPY"}))

	eventtest.WaitFor(t, "the owner change after the broken event", 30*time.Second, func() bool {
		p, err := st.Portfolio(ctx, 42)
		return err == nil && p.UserID == 8
	})
	allocs, total, err := st.ListAllocations(ctx, profit.AllocationFilter{}, httpx.Pagination{Limit: 10})
	if err != nil || total != 1 {
		t.Fatalf("%d allocations, want 1 (%v)", total, err)
	}
	a := allocs[0]
	if a.Status != profit.StatusAllocated || a.SnapshotID == nil || *a.SnapshotID != 900 || a.UserID != 7 || a.Source != profit.SourceNAV ||
		a.Currency != "JPY" {
		t.Fatalf("allocation = %+v", a)
	}
	checkProfitTopic(ctx, t, pool, brokers, a)
	checkDeadLetter(t, brokers, broken)
}

// checkProfitTopic waits until everything in the outbox is published and
// checks the topic then holds the ratio change and exactly one
// profit.allocated, that of a.
func checkProfitTopic(ctx context.Context, t *testing.T, pool *pgxpool.Pool, brokers []string, a profit.Allocation) {
	t.Helper()
	eventtest.WaitFor(t, "the relay", 30*time.Second, func() bool {
		var pending int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&pending)
		return pending == 0
	})
	msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicProfit, 3, 3*time.Second)
	var allocated []eventbus.Envelope
	for _, m := range msgs {
		if string(m.Key) != "42" {
			t.Errorf("message key %q, want the portfolio id", m.Key)
		}
		typ := eventbus.HeaderValue(m.Headers, eventbus.HeaderEventType)
		if err := eventbus.Validate(typ, m.Value); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
		if typ == eventbus.TypeProfitAllocated {
			env, _ := eventbus.Decode(m.Value)
			allocated = append(allocated, env)
		}
	}
	if len(msgs) != 2 || len(allocated) != 1 {
		t.Fatalf("%d messages on %s (%d profit.allocated), want the ratio change and one allocation", len(msgs), eventbus.TopicProfit, len(allocated))
	}
	var data profit.AllocatedData
	if err := json.Unmarshal(allocated[0].Data, &data); err != nil || data.AllocationID != a.ID || data.ToUserAmount.String() != "70.00000000" ||
		data.Currency != a.Currency {
		t.Fatalf("profit.allocated data = %+v, %v", data, err)
	}
}

// checkDeadLetter checks the dead-letter topic holds exactly the broken
// event, with its error.
func checkDeadLetter(t *testing.T, brokers []string, broken eventbus.Envelope) {
	t.Helper()
	dead := kafkatest.ReadAll(t, brokers, eventbus.DLQTopic(eventbus.TopicPortfolio), 1, 10*time.Second)
	if len(dead) != 1 || eventbus.HeaderValue(dead[0].Headers, inbox.HeaderError) == "" {
		t.Fatalf("dead letters = %d, want the broken event with its error", len(dead))
	}
	if env, _ := eventbus.Decode(dead[0].Value); env.ID != broken.ID {
		t.Fatalf("dead letter %s, want %s", env.ID, broken.ID)
	}
}
