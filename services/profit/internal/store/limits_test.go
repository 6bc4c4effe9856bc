package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// TestLossCarriedForwardBeyondTenToTheTwelve: one loss has at most 12
// integer digits, but the carry-forward adds them up. Maximal losses, one
// alone and two in a NAV batch, carry 3 × 999 999 999 999.99999999 forward;
// a maximal profit then makes good a third of it and distributes nothing
// (docs/api.md#allocation-rule).
func TestLossCarriedForwardBeyondTenToTheTwelve(t *testing.T) {
	st, pool := newStore(t)
	ctx := context.Background()
	portfolio42(t, st, pool, true)
	maxAmount := money.Max.String()
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) {
		return st.RecordProfit(ctx, tx, navProfit(42, 1, day(1), "-"+maxAmount))
	})
	inTx(t, pool, func(tx pgx.Tx) (any, error) {
		return nil, st.RecordNAVProfits(ctx, tx, []profit.NewProfit{navProfit(42, 2, day(2), "-"+maxAmount), navProfit(42, 3, day(3), "-"+maxAmount)})
	})
	port, err := st.Portfolio(ctx, 42)
	if want := dec(maxAmount).Mul(dec("3")); err != nil || !port.LossCarryforward.Equal(want) {
		t.Fatalf("carry-forward = %s, %v; want %s", port.LossCarryforward, err, want)
	}
	a := inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) {
		return st.RecordProfit(ctx, tx, navProfit(42, 4, day(4), maxAmount))
	})
	if a.Status != profit.StatusNoDistribution || !a.Distributable.IsZero() ||
		!a.LossCarryforwardBefore.Equal(dec(maxAmount).Mul(dec("3"))) || !a.LossCarryforwardAfter.Equal(dec(maxAmount).Mul(dec("2"))) {
		t.Fatalf("the maximal profit = %+v; want no distribution, carry 3 → 2 maximal losses", a)
	}
}
