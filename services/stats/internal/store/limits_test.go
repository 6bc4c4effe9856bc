package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/stats/internal/store"
)

// TestTotalsOfALifetime: running totals are NUMERIC(38,8)
// (docs/api.md#money-and-rounding). Totals already at 10^20 − 1, the
// ceiling of the NUMERIC(28,8) they had, take one more maximal allocation
// and read back exactly.
func TestTotalsOfALifetime(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	maxAmount := money.Max
	apply := func(id int64) {
		t.Helper()
		err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			return st.Apply(ctx, tx, []store.Event{{Time: time.Now(), Allocation: &store.Allocation{
				AllocationID: id, PortfolioID: 1, Manual: true, UserID: 7, TeamID: 3,
				PeriodEnd: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
				Profit:    maxAmount, Distributable: maxAmount, ToUser: maxAmount, ToTeam: decimal.Zero, ToPlatform: decimal.Zero}}})
		})
		if err != nil {
			t.Fatalf("allocation %d: %v", id, err)
		}
	}
	apply(1)
	lifetime := decimal.RequireFromString("99999999999999999999")
	if _, err := pool.Exec(ctx, `UPDATE overview SET total_profit = $1, total_distributed = $1, to_user_total = $1`, lifetime.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE portfolio_totals SET acc_profit = $1, distributed = $1, to_user_total = $1`, lifetime.String()); err != nil {
		t.Fatal(err)
	}
	apply(2)
	want := lifetime.Add(maxAmount)
	o, err := st.Overview(ctx)
	if err != nil || !o.In("USD").TotalProfit.Equal(want) || !o.In("USD").TotalDistributed.Equal(want) || !o.In("USD").ToUser.Equal(want) {
		t.Errorf("overview = %+v, %v; want totals %s", o, err, want)
	}
	p, err := st.PortfolioTotals(ctx, 1)
	if err != nil || !p.AccProfit.Equal(want) || !p.Distributed.Equal(want) || !p.ToUser.Equal(want) {
		t.Errorf("portfolio totals = %+v, %v; want %s", p, err, want)
	}
}
