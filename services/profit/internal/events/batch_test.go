package events_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/profit/internal/events"
	"github.com/fundplatform/platform/services/profit/internal/profit"
	"github.com/fundplatform/platform/services/profit/internal/store"
)

// TestBatchEqualsOneByOne: a stream of NAV profits and losses over six
// portfolios (two of them without a ratio, so their profits wait), with
// redeliveries, a snapshot republished under a new event id and owner
// changes, applied in runs of random length by BatchHandler leaves the
// allocations, the portfolios and the outbox's profit.allocated events
// exactly as one event per transaction through Handler does.
func TestBatchEqualsOneByOne(t *testing.T) {
	eventtest.BatchEqualsOneByOne(t, 7, func(t *testing.T, rng *rand.Rand) []eventbus.Envelope { return navStream(t, rng, 250) }, newDB,
		[]string{
			`SELECT id, portfolio_id, source, snapshot_id, source_event_id, period_end, profit_amount, loss_carryforward_before,
			        loss_carryforward_after, distributable, ratio_id, ratio_version, to_team_amount, to_platform_amount,
			        to_user_amount, user_id, team_id, status, allocated_at IS NULL AS waiting FROM allocations`,
			`SELECT portfolio_id, user_id, team_id, loss_carryforward, last_period_end FROM portfolios`,
			`SELECT type, key, payload::jsonb -> 'data' AS data FROM outbox WHERE type = 'profit.allocated'`,
		},
		func(t *testing.T, single *eventtest.Inbox) {
			var waiting, allocated int
			_ = single.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE status = 'awaiting_ratio'),
				count(*) FILTER (WHERE status = 'allocated') FROM allocations`).Scan(&waiting, &allocated)
			if waiting == 0 || allocated == 0 {
				t.Errorf("%d waiting, %d allocated: the stream tests too little", waiting, allocated)
			}
		})
}

// newDB is a fresh profit database with six portfolios, four of them with
// a ratio, and the service's handlers over it.
func newDB(t *testing.T) eventtest.Fed {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	for p := int64(1); p <= 6; p++ {
		if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			return st.ApplyPortfolio(ctx, tx, store.Owners{PortfolioID: p, UserID: 10 + p, TeamID: 3})
		}); err != nil {
			t.Fatal(err)
		}
		if p > 4 {
			continue
		}
		if _, err := st.CreateRatio(ctx, profit.NewRatio{PortfolioID: p, ToTeam: decimal.RequireFromString("0.1234"),
			ToPlatform: decimal.RequireFromString("0.0567"), ToUser: decimal.RequireFromString("0.8199")}, 1); err != nil {
			t.Fatal(err)
		}
	}
	return eventtest.Fed{Inbox: &eventtest.Inbox{Pool: pool, GroupID: events.GroupID}, Handler: events.Handler(st), Batch: events.BatchHandler(st)}
}

// navStream is n portfolio events: NAV profits and losses (period ends in
// order per portfolio), repeats of earlier events, a snapshot under a new
// event id, owner changes.
func navStream(t *testing.T, rng *rand.Rand, n int) []eventbus.Envelope {
	var out []eventbus.Envelope
	periodEnd := map[int64]time.Time{}
	snapshot := int64(0)
	for len(out) < n {
		p := int64(1 + rng.IntN(6))
		switch k := rng.IntN(12); {
		case k == 0 && len(out) > 0:
			out = append(out, out[rng.IntN(len(out))]) // a redelivery
		case k == 1 && len(out) > 0: // republished under a new event id
			prev := out[rng.IntN(len(out))]
			env, err := eventbus.NewEnvelope("portfolio", prev.Type, prev.Subject, prev.Data)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, env)
		case k == 2:
			out = append(out, envelope(t, eventbus.TypePortfolioUpdated, map[string]any{
				"portfolio_id": p, "name": "P", "user_id": 20 + rng.IntN(3), "team_id": 3 + rng.IntN(2), "currency": "USD"}))
		default:
			snapshot++
			if periodEnd[p].IsZero() {
				periodEnd[p] = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			periodEnd[p] = periodEnd[p].Add(time.Duration(1+rng.IntN(48)) * time.Hour)
			amount := decimal.New(int64(rng.IntN(2_000_000_000_000))-600_000_000_000, -8)
			at := periodEnd[p].Format(time.RFC3339)
			out = append(out, envelope(t, eventbus.TypePortfolioProfitRecorded, map[string]any{
				"portfolio_id": p, "snapshot_id": snapshot, "user_id": 10 + p, "team_id": 3, "as_of": at, "period_end": at,
				"profit": amount.StringFixed(8), "nav": "100000.00000000", "prev_nav": "100000.00000000", "net_flow": "0.00000000"}))
		}
	}
	return out
}
