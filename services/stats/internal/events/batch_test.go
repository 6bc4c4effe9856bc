package events_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/services/stats/internal/events"
)

// TestBatchEqualsOneByOne: a stream of every event type — redeliveries, an
// allocation, snapshot or reallocation republished under a new event id,
// withdrawal outcomes before their request or after the other outcome,
// losses and profits moving the carry-forward — applied in runs of random
// length by BatchHandler leaves every table exactly as applying each event
// in its own transaction does.
func TestBatchEqualsOneByOne(t *testing.T) {
	var queries []string
	for _, table := range []string{"overview", "portfolio_owners", "portfolio_totals", "hourly_owner_profit", "summary_hourly",
		"summary_daily", "summary_totals", "withdrawal_states", "withdrawals_by_status", "applied_allocations",
		"applied_snapshots", "applied_reallocations"} {
		queries = append(queries, tableRows(table))
	}
	eventtest.BatchEqualsOneByOne(t, 42, func(t *testing.T, rng *rand.Rand) []eventbus.Envelope { return randomStream(t, rng, 300) },
		func(t *testing.T) eventtest.Fed {
			f := newFixture(t)
			return eventtest.Fed{Inbox: f.Inbox, Handler: f.handler, Batch: events.BatchHandler(f.store)}
		},
		queries,
		func(t *testing.T, single *eventtest.Inbox) {
			var n int
			_ = single.Pool.QueryRow(context.Background(), `SELECT count(*) FROM withdrawal_states WHERE status <> 'pending'`).Scan(&n)
			if n == 0 {
				t.Error("the stream moved no withdrawal out of pending: it tests too little")
			}
		})
}

// tableRows is the query of a table's rows; updated_at is left out where
// it is the time of the write (now()), not of an event.
func tableRows(table string) string {
	if table == "portfolio_owners" || table == "withdrawal_states" {
		return "SELECT to_jsonb(t) - 'updated_at' AS row FROM " + table + " t"
	}
	return "SELECT * FROM " + table
}

// randomStream is n events of every type over 6 portfolios, 8 withdrawals
// and 4 reallocations, with repeats.
func randomStream(t *testing.T, rng *rand.Rand, n int) []eventbus.Envelope {
	amount := func(maxCents int) decimal.Decimal { return decimal.New(int64(rng.IntN(maxCents)+1), -8) }
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func() string {
		return start.Add(time.Duration(rng.IntN(72*60)) * time.Minute).Format(time.RFC3339)
	}
	owners := map[int64][2]int64{}
	var out []eventbus.Envelope
	for p := int64(1); p <= 6; p++ {
		owners[p] = [2]int64{7 + p%3, 3 + p%2}
		out = append(out, portfolioCreated(t, p, owners[p][0], owners[p][1]))
	}
	var snapshot, allocation int64
	for len(out) < n {
		p := int64(1 + rng.IntN(6))
		user, team := owners[p][0], owners[p][1]
		switch k := rng.IntN(10); {
		case k == 0 && len(out) > 0: // a redelivery of an earlier event, or it republished
			prev := out[rng.IntN(len(out))]
			if rng.IntN(2) == 0 {
				out = append(out, prev)
			} else {
				env, err := eventbus.NewEnvelope("test", prev.Type, prev.Subject, prev.Data)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, env)
			}
		case k <= 3: // a NAV profit or loss, and the allocation of a profit
			snapshot++
			profit := amount(1_000_000_000)
			if rng.IntN(3) == 0 {
				profit = profit.Neg()
			}
			periodEnd := at()
			out = append(out, envelope(t, eventbus.TypePortfolioProfitRecorded, fmt.Sprintf("portfolio/%d", p), map[string]any{
				"portfolio_id": p, "snapshot_id": snapshot, "user_id": user, "team_id": team,
				"as_of": periodEnd, "period_end": periodEnd, "profit": profit.StringFixed(8),
				"nav": "1000.00000000", "prev_nav": "1000.00000000", "net_flow": "0.00000000"}))
			if profit.IsPositive() {
				allocation++
				out = append(out, split(allocation, p, user, team, "nav", periodEnd, profit, profit).envelope(t))
			}
		case k <= 4: // a manual profit
			allocation++
			profit := amount(500_000_000)
			out = append(out, split(allocation, p, user, team, "manual", at(), profit, profit.Sub(amount(int(profit.Shift(8).IntPart())))).envelope(t))
		case k <= 7:
			types := []string{eventbus.TypeWithdrawalRequested, eventbus.TypeWithdrawalRequested, eventbus.TypeWithdrawalCompleted, eventbus.TypeWithdrawalFailed}
			id := int64(1 + rng.IntN(8))
			fromType, owner := "user", user
			if id%3 == 0 {
				fromType, owner = "team", team
			}
			out = append(out, withdrawal(t, types[rng.IntN(len(types))], id, fromType, owner, decimal.New(id*1_000_001, -8).StringFixed(8)))
		case k == 8:
			id := int64(1 + rng.IntN(4))
			out = append(out, envelope(t, eventbus.TypeFundsReallocated, fmt.Sprintf("reallocation/%d", id), map[string]any{
				"reallocation_id": id, "from_account": "platform", "to_account": "team:3",
				"amount": decimal.New(id*333, -8).StringFixed(8), "reason": "bonus"}))
		default:
			out = append(out, envelope(t, eventbus.TypeProfitRatioChanged, fmt.Sprintf("portfolio/%d", p), map[string]any{
				"ratio_id": int64(len(out)), "portfolio_id": p, "version": 2, "to_team": "0.1000", "to_platform": "0.0500",
				"to_user": "0.8500"}))
		}
	}
	return out
}

// split is an allocation of distributable (≤ profit) as team 10 %,
// platform 5 % (both rounded down to 8 places), the user the rest.
func split(id, portfolio, user, team int64, source, periodEnd string, profit, distributable decimal.Decimal) alloc {
	toTeam := distributable.Mul(decimal.RequireFromString("0.1")).Truncate(8)
	toPlatform := distributable.Mul(decimal.RequireFromString("0.05")).Truncate(8)
	return alloc{id, portfolio, user, team, source, periodEnd, profit.StringFixed(8), distributable.StringFixed(8),
		toTeam.StringFixed(8), toPlatform.StringFixed(8), distributable.Sub(toTeam).Sub(toPlatform).StringFixed(8)}
}
