package events_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/withdrawal/internal/events"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

func reversed(t *testing.T, allocationID int64, toUser, toTeam, toPlatform, distributable string) eventbus.Envelope {
	t.Helper()
	return eventtest.Envelope(t, "profit", eventbus.TypeProfitAllocationReversed, "portfolio/42", map[string]any{
		"reversal_id": allocationID, "allocation_id": allocationID, "correction_id": 1, "portfolio_id": 42, "source": "nav",
		"status": "allocated", "snapshot_id": 900 + allocationID, "period_end": "2026-02-01T00:00:00Z",
		"profit_amount": distributable, "loss_carryforward_before": "0.00000000", "distributable": distributable,
		"to_team_amount": toTeam, "to_platform_amount": toPlatform, "to_user_amount": toUser, "user_id": 7, "team_id": 3,
	})
}

// A batch applies a reversal after the credits before it and before those
// after it: the credit it takes back is posted first, whatever else the
// batch holds.
func TestBatchAppliesAReversalInOrder(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	batch := []eventbus.Envelope{
		allocated(t, 1, "7.00000000", "2.00000000", "1.00000000", "10.00000000"),
		reversed(t, 1, "7.00000000", "2.00000000", "1.00000000", "10.00000000"),
		allocated(t, 2, "14.00000000", "4.00000000", "2.00000000", "20.00000000"),
	}
	if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return events.BatchHandler(st)(ctx, tx, batch) }); err != nil {
		t.Fatal(err)
	}
	b, err := st.Balance(ctx, ledger.Owner{Type: auth.OwnerUser, ID: 7}, "USD", nil)
	if err != nil || !b.Credited.Equal(decimal.RequireFromString("14")) || !b.Available.Equal(decimal.RequireFromString("14")) {
		t.Fatalf("user:7 = %+v, %v; want 14 credited (7 credited, taken back, 14)", b, err)
	}
	if v, err := st.Verify(ctx); err != nil || !v.OK || v.Entries != 12 {
		t.Fatalf("verify = %+v, %v; want OK with 12 entries", v, err)
	}
}
