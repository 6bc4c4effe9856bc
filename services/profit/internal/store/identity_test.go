package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// allocatedEvents are the data of the profit.allocated events in the outbox.
func allocatedEvents(t *testing.T, pool *pgxpool.Pool) []profit.AllocatedData {
	t.Helper()
	var out []profit.AllocatedData
	for _, o := range outboxRows(t, pool) {
		if o.Type != eventbus.TypeProfitAllocated {
			continue
		}
		if err := eventbus.Validate(o.Type, o.Payload); err != nil {
			t.Errorf("payload does not match the schema: %v\n%s", err, o.Payload)
		}
		var env struct {
			Data profit.AllocatedData `json:"data"`
		}
		if err := json.Unmarshal(o.Payload, &env); err != nil {
			t.Fatal(err)
		}
		out = append(out, env.Data)
	}
	return out
}

// TestReconsumedSnapshotKeepsItsIdentity: a NAV profit recorded once, then
// recorded again by a restored database (the backup's, from before the
// profit, its id sequence moved forward as the restore does) re-consuming
// the same portfolio.profit_recorded, gets a new allocation id but the same
// allocation_key, derived from the portfolio and snapshot — on the single
// path and on the run path alike — so the ledger and stats, which dedupe on
// it, apply it once.
func TestReconsumedSnapshotKeepsItsIdentity(t *testing.T) {
	ctx := context.Background()
	p := navProfit(42, 900, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), "100")

	live, livePool := newStore(t)
	portfolio42(t, live, livePool, true)
	first := inTx(t, livePool, func(tx pgx.Tx) (profit.Allocation, error) { return live.RecordProfit(ctx, tx, p) })

	restored, restoredPool := newStore(t)
	portfolio42(t, restored, restoredPool, true)
	if _, err := restoredPool.Exec(ctx, `SELECT setval(pg_get_serial_sequence('allocations', 'id'), $1)`, first.ID+100); err != nil {
		t.Fatal(err)
	}
	inTx(t, restoredPool, func(tx pgx.Tx) (any, error) { return nil, restored.RecordNAVProfits(ctx, tx, []profit.NewProfit{p}) })

	want := profit.NAVKey(42, 900)
	if first.Key != want {
		t.Fatalf("allocation key %q, want %q", first.Key, want)
	}
	before, after := allocatedEvents(t, livePool), allocatedEvents(t, restoredPool)
	if len(before) != 1 || len(after) != 1 {
		t.Fatalf("%d and %d profit.allocated events, want 1 and 1", len(before), len(after))
	}
	if before[0].AllocationID == after[0].AllocationID {
		t.Fatalf("both allocations have id %d: the test does not re-derive", before[0].AllocationID)
	}
	// The event carries no allocation_key (the previous release's consumers
	// refuse a field they do not know): its consumers derive it.
	if before[0].AllocationKey != "" || after[0].AllocationKey != "" {
		t.Fatalf("a NAV profit's events carry allocation_key %q, %q", before[0].AllocationKey, after[0].AllocationKey)
	}
	if before[0].Key() != want || after[0].Key() != want {
		t.Fatalf("allocation keys %q then %q, want %q both", before[0].Key(), after[0].Key(), want)
	}
	got, err := restored.Allocation(ctx, after[0].AllocationID)
	if err != nil || got.Key != want {
		t.Fatalf("stored allocation %+v, %v: want key %q", got, err, want)
	}
	if profit.NAVKey(42, 901) == want || profit.NAVKey(43, 900) == want {
		t.Fatal("another snapshot or portfolio has the same identity")
	}
}

// TestManualProfitOfTheSameRequestIsRecordedOnce: a manual profit with the
// identity of one recorded before (the same Idempotency-Key request
// repeated after its stored answer expired) returns that allocation rather
// than recording a second one; another identity records a new one.
func TestManualProfitOfTheSameRequestIsRecordedOnce(t *testing.T) {
	st, pool := newStore(t)
	ctx := context.Background()
	portfolio42(t, st, pool, true)
	in := profit.NewProfit{PortfolioID: 42, Source: profit.SourceManual, PeriodEnd: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC),
		Amount: dec("50"), Key: profit.ManualKey(42, "admin\x00k1\x00abc", true)}
	first, err := st.RecordManualProfit(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := st.RecordManualProfit(ctx, in)
	if err != nil || again.ID != first.ID || again.Key != in.Key {
		t.Fatalf("repeat: %+v, %v; want allocation %d", again, err, first.ID)
	}
	other := in
	other.Key = profit.ManualKey(42, "admin\x00k2\x00abc", true)
	second, err := st.RecordManualProfit(ctx, other)
	if err != nil || second.ID == first.ID || second.Key != other.Key {
		t.Fatalf("another request: %+v, %v", second, err)
	}
	events := allocatedEvents(t, pool)
	if len(events) != 2 || events[0].AllocationKey != in.Key || events[1].AllocationKey != other.Key {
		t.Fatalf("profit.allocated events %+v, want 2 carrying their identities", events)
	}
	if a, b := profit.ManualKey(42, "", false), profit.ManualKey(42, "", false); a == b {
		t.Fatal("two requests without a key have one identity")
	}
}
