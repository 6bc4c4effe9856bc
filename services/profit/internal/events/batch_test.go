package events_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
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
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			stream := navStream(t, rng, 250)

			single, batched := newDB(t), newDB(t)
			for _, env := range stream {
				applyRun(t, single, []eventbus.Envelope{env}, func(ctx context.Context, tx pgx.Tx, envs []eventbus.Envelope) error {
					return events.Handler(store.New(single))(ctx, tx, envs[0])
				})
			}
			batch := events.BatchHandler(store.New(batched))
			for rest := stream; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(60))
				applyRun(t, batched, rest[:n], batch)
				rest = rest[n:]
			}

			for _, q := range []string{
				`SELECT id, portfolio_id, source, snapshot_id, source_event_id, period_end, profit_amount, loss_carryforward_before,
				        loss_carryforward_after, distributable, ratio_id, ratio_version, to_team_amount, to_platform_amount,
				        to_user_amount, user_id, team_id, status, allocated_at IS NULL AS waiting FROM allocations`,
				`SELECT portfolio_id, user_id, team_id, loss_carryforward, last_period_end FROM portfolios`,
				`SELECT type, key, payload::jsonb -> 'data' AS data FROM outbox WHERE type = 'profit.allocated'`,
			} {
				want, got := dump(t, single, q), dump(t, batched, q)
				if got != want {
					t.Errorf("%.60s…\nafter the runs:\n%s\nafter one event per transaction:\n%s", q, got, want)
				}
			}
			var waiting, allocated int
			_ = single.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE status = 'awaiting_ratio'),
				count(*) FILTER (WHERE status = 'allocated') FROM allocations`).Scan(&waiting, &allocated)
			if waiting == 0 || allocated == 0 {
				t.Errorf("%d waiting, %d allocated: the stream tests too little", waiting, allocated)
			}
		})
	}
}

// newDB is a fresh profit database with six portfolios, four of them with
// a ratio.
func newDB(t *testing.T) *pgxpool.Pool {
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
	return pool
}

// applyRun applies envs in one transaction as the inbox does: each event
// id once.
func applyRun(t *testing.T, pool *pgxpool.Pool, envs []eventbus.Envelope, h inbox.BatchHandler) {
	t.Helper()
	ctx := context.Background()
	err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var fresh []eventbus.Envelope
		for _, env := range envs {
			tag, err := tx.Exec(ctx, `INSERT INTO processed_events (group_id, event_id, topic, partition, "offset")
				VALUES ($1, $2, $3, 0, 0) ON CONFLICT DO NOTHING`, events.GroupID, env.ID, eventbus.TopicPortfolio)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				fresh = append(fresh, env)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		return h(ctx, tx, fresh)
	})
	if err != nil {
		t.Fatalf("run of %d: %v", len(envs), err)
	}
}

func dump(t *testing.T, pool *pgxpool.Pool, query string) string {
	t.Helper()
	var out string
	if err := pool.QueryRow(context.Background(), `SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY to_jsonb(r)::text), '[]')::text
		FROM (`+query+`) r`).Scan(&out); err != nil {
		t.Fatal(err)
	}
	return out
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
