package store_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/profit/internal/profit"
	"github.com/fundplatform/platform/services/profit/internal/store"
)

// The business gauges read what the allocations say: a profit allocated
// (20/10/70), a loss carried forward, then a profit that only makes part of
// it good (no distribution).
func TestGaugesReadTheAllocations(t *testing.T) {
	st, pool := newStore(t)
	ctx := context.Background()
	portfolio42(t, st, pool, true)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	for i, amount := range []string{"100", "-50", "20"} {
		inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) {
			return st.RecordProfit(ctx, tx, navProfit(42, int64(i+1), day(i+1), amount))
		})
	}
	want := `
# HELP fund_profit_allocations Allocations (NAV and manual profits) by status — allocated, no_distribution, awaiting_ratio — and currency.
# TYPE fund_profit_allocations gauge
fund_profit_allocations{currency="USD",status="allocated"} 1
fund_profit_allocations{currency="USD",status="awaiting_ratio"} 0
fund_profit_allocations{currency="USD",status="no_distribution"} 2
# HELP fund_profit_loss_carryforward_amount Losses carried forward (not yet made good by later profits), summed over portfolios, by currency.
# TYPE fund_profit_loss_carryforward_amount gauge
fund_profit_loss_carryforward_amount{currency="USD"} 30
`
	g := pg.NewGauges(pool, slog.New(slog.DiscardHandler), 0, store.Gauges()...)
	if err := testutil.CollectAndCompare(g, strings.NewReader(want), "fund_profit_allocations", "fund_profit_loss_carryforward_amount"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(g); n != 3+1+3+1 {
		t.Fatalf("%d series, want 8 (every gauge for USD)", n)
	}
}
