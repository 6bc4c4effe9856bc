package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
)

// TestReDerivedAllocationIsCountedOnce: a profit the profit service
// recorded again after its database was restored (a new allocation id,
// the same allocation_key) is counted once, in a later run or within one
// run, for profit.allocated and profit.outcome_recorded alike; another
// identity, and events without one (deduped on the id), count as before.
func TestReDerivedAllocationIsCountedOnce(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	const keyA, keyB, keyC = "0b6f0c3e-7c1a-5d2e-9f4b-1a2b3c4d5e6f", "1c7a1d4f-8d2b-5e3f-8a5c-2b3c4d5e6f70", "2d8b2e50-9e3c-5f40-9b6d-3c4d5e6f7081"
	allocated := func(id int64, key string) store.Event {
		return store.Event{Time: time.Now(), Allocation: &store.Allocation{AllocationID: id, AllocationKey: key, PortfolioID: 1,
			Manual: true, UserID: 7, TeamID: 3, PeriodEnd: time.Date(2026, 3, 1, int(id%24), 0, 0, 0, time.UTC),
			Profit: decimal.RequireFromString("10"), Distributable: decimal.RequireFromString("10"),
			ToTeam: decimal.RequireFromString("2"), ToPlatform: decimal.RequireFromString("1"), ToUser: decimal.RequireFromString("7"),
			Currency: "USD"}}
	}
	outcome := func(id int64, key string) store.Event {
		return store.Event{Time: time.Now(), Outcome: &stats.Outcome{AllocationID: id, AllocationKey: key, PortfolioID: 1,
			UserID: 7, TeamID: 3, PeriodEnd: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Profit: decimal.RequireFromString("-4"),
			Currency: "USD"}}
	}
	apply := func(events ...store.Event) {
		t.Helper()
		if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return st.Apply(ctx, tx, events) }); err != nil {
			t.Fatal(err)
		}
	}
	apply(allocated(1, keyA))
	apply(allocated(101, keyA))                     // re-derived after a restore: a later run
	apply(allocated(2, keyB), allocated(102, keyB)) // … and within one run
	apply(allocated(3, ""), allocated(3, ""))       // no identity: deduped on the id
	apply(outcome(4, keyC))
	apply(outcome(104, keyC))

	o, err := st.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.Counts.Allocations != 3 {
		t.Errorf("%d allocations counted, want 3", o.Counts.Allocations)
	}
	if got := o.In("USD").TotalProfit; !got.Equal(decimal.RequireFromString("26")) {
		t.Errorf("total profit %s, want 26 (three allocations of 10 and one loss of 4, each once)", got)
	}
	if got := o.In("USD").ToUser; !got.Equal(decimal.RequireFromString("21")) {
		t.Errorf("to users %s, want 21", got)
	}
}
