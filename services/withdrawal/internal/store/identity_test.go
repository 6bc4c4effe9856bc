package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

// TestReDerivedAllocationIsCreditedOnce: the profit service, its database
// restored, records a profit again under a new allocation id with the same
// allocation identity; the ledger credits that identity once, whether the
// second event comes in a later batch or in the same one, while an
// allocation with another identity, and events without one (published
// before identities existed: deduped on the allocation id), are credited
// as before. The credit's entries carry the identity.
func TestReDerivedAllocationIsCreditedOnce(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	const keyA, keyB = "0b6f0c3e-7c1a-5d2e-9f4b-1a2b3c4d5e6f", "1c7a1d4f-8d2b-5e3f-8a5c-2b3c4d5e6f70"
	credit := func(id int64, key string) ledger.Credit {
		return ledger.Credit{AllocationID: id, AllocationKey: key, Distributable: decimal.RequireFromString("10"),
			ToUser: decimal.RequireFromString("6"), ToTeam: decimal.RequireFromString("3"), ToPlatform: decimal.RequireFromString("1"),
			UserID: 7, TeamID: 3, Currency: "USD"}
	}
	apply := func(cs ...ledger.Credit) {
		t.Helper()
		if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return st.Credits(ctx, tx, cs) }); err != nil {
			t.Fatal(err)
		}
	}
	apply(credit(1, keyA))
	apply(credit(101, keyA))                  // re-derived after a restore: a later batch
	apply(credit(2, keyB), credit(102, keyB)) // … and within one batch
	apply(credit(3, ""), credit(3, ""))       // no identity: deduped on the id
	apply(credit(4, ""))                      // another allocation without one

	b, err := st.Balance(ctx, ledger.Owner{Type: auth.OwnerUser, ID: 7}, "USD", nil)
	if err != nil || !b.Credited.Equal(decimal.RequireFromString("24")) {
		t.Fatalf("user:7 = %+v, %v; want 24 credited (allocations 1, 2, 3, 4 once each)", b, err)
	}
	entries, _, err := st.ListEntries(ctx, ledger.EntryFilter{Account: "user:7"}, httpx.Pagination{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	for _, e := range entries {
		got[e.RefID] = e.AllocationKey
	}
	want := map[int64]string{1: keyA, 2: keyB, 3: "", 4: ""}
	if len(got) != len(want) {
		t.Fatalf("credited allocations %v, want %v", got, want)
	}
	for id, key := range want {
		if k, ok := got[id]; !ok || k != key {
			t.Fatalf("credited allocations %v, want %v", got, want)
		}
	}
	// The database itself refuses a second transfer of one identity.
	if _, err := pool.Exec(ctx, `INSERT INTO transfers (kind, ref_type, ref_id, created_at, allocation_key)
		VALUES ('profit_credit', 'allocation', 999, now(), $1)`, keyA); err == nil {
		t.Fatal("the database accepted a second transfer of one allocation identity")
	}
	if v, err := st.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("verify = %+v, %v", v, err)
	}
}

// TestCreditWithAMalformedIdentityIsRefused: an allocation_key that is not
// a UUID is a permanent error, not a retry.
func TestCreditWithAMalformedIdentityIsRefused(t *testing.T) {
	c := ledger.Credit{AllocationID: 1, AllocationKey: "not-a-uuid", Distributable: decimal.RequireFromString("1"),
		ToUser: decimal.RequireFromString("1"), UserID: 7, TeamID: 3, Currency: "USD"}
	if err := ledger.CheckCredit(c); err == nil {
		t.Fatal("a malformed allocation_key was accepted")
	}
}
