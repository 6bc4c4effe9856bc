package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

// A reversal the balances cover is posted at once as the mirror of its
// credit; one they do not cover (the user withdrew the profit) is parked,
// changes no balance, and is applied by an admin once the balance covers
// it. A reversal delivered twice is applied once. The ledger verifies
// throughout.
func TestReversalPostedOrParked(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	d := decimal.RequireFromString
	user := ledger.Owner{Type: auth.OwnerUser, ID: 7}
	credit := func(id int64, amount string) ledger.Credit {
		a := d(amount)
		return ledger.Credit{AllocationID: id, Distributable: a, ToUser: a.Mul(d("0.7")), ToTeam: a.Mul(d("0.2")),
			ToPlatform: a.Mul(d("0.1")), UserID: 7, TeamID: 3, Currency: "USD"}
	}
	inTx := func(fn func(pgx.Tx) error) {
		t.Helper()
		if err := pg.InTx(ctx, pool, pgx.TxOptions{}, fn); err != nil {
			t.Fatal(err)
		}
	}
	available := func() decimal.Decimal {
		t.Helper()
		b, err := st.Balance(ctx, user, "USD", nil)
		if err != nil {
			t.Fatal(err)
		}
		return b.Available
	}
	inTx(func(tx pgx.Tx) error { return st.Credits(ctx, tx, []ledger.Credit{credit(1, "100"), credit(2, "100")}) })

	// Covered: posted, twice delivered, once applied.
	for range 2 {
		inTx(func(tx pgx.Tx) error {
			return ledger.ApplyReversal(ctx, st.ReversalsIn(tx), ledger.Reversal{ReversalID: 1, CorrectionID: 1, Credit: credit(1, "100")})
		})
	}
	if got := available(); !got.Equal(d("70")) {
		t.Fatalf("user available after the reversal: %s, want 70", got)
	}

	// The user withdraws 60 of the remaining 70: the reversal of 70 is parked.
	if _, err := st.RequestWithdrawal(ctx, ledger.NewWithdrawal{Owner: user, Currency: "USD", Amount: d("60")}, 7); err != nil {
		t.Fatal(err)
	}
	inTx(func(tx pgx.Tx) error {
		return ledger.ApplyReversal(ctx, st.ReversalsIn(tx), ledger.Reversal{ReversalID: 2, CorrectionID: 2, Credit: credit(2, "100")})
	})
	if got := available(); !got.Equal(d("10")) {
		t.Fatalf("a parked reversal moved the balance: %s", got)
	}
	parked, n, err := st.ListParked(ctx, ledger.ParkedFilter{Status: ledger.ReversalParked}, httpx.Pagination{Limit: 10})
	if err != nil || n != 1 || parked[0].AllocationID != 2 || !parked[0].ToUser.Equal(d("70")) || parked[0].CorrectionID != 2 {
		t.Fatalf("parked %+v %d %v", parked, n, err)
	}
	gauges := pg.NewGauges(pool, slog.New(slog.DiscardHandler), 0, store.Gauges()...)
	parkedGauge := func(n int) string {
		return fmt.Sprintf(`
# HELP fund_ledger_parked_reversals Reversals of a corrected allocation parked because an owner's available balance did not cover them, by currency.
# TYPE fund_ledger_parked_reversals gauge
fund_ledger_parked_reversals{currency="USD"} %d
`, n)
	}
	if err := testutil.CollectAndCompare(gauges, strings.NewReader(parkedGauge(1)), "fund_ledger_parked_reversals"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyParked(ctx, parked[0].ID, 1); !errors.Is(err, ledger.ErrInsufficientBalance) {
		t.Fatalf("apply while short: %v", err)
	}
	// The withdrawal fails: its 60 come back, and the reversal now applies.
	if _, err := st.TransitionWithdrawal(ctx, ledger.Transition{WithdrawalID: 1, To: ledger.StatusFailed, Reason: new("bank")}); err != nil {
		t.Fatal(err)
	}
	applied, err := st.ApplyParked(ctx, parked[0].ID, 1)
	if err != nil || applied.Status != ledger.ReversalApplied || applied.AppliedBy == nil {
		t.Fatalf("apply: %+v %v", applied, err)
	}
	if got := available(); !got.IsZero() {
		t.Fatalf("user available after both reversals: %s, want 0", got)
	}
	if err := testutil.CollectAndCompare(gauges, strings.NewReader(parkedGauge(0)), "fund_ledger_parked_reversals"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyParked(ctx, parked[0].ID, 1); !errors.Is(err, ledger.ErrNotParked) {
		t.Fatalf("second apply: %v", err)
	}
	if v, err := st.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("verify = %+v, %v", v, err)
	}
	var profit string
	if err := pool.QueryRow(ctx, `SELECT balance::text FROM accounts WHERE account = 'system:profit'`).Scan(&profit); err != nil || profit != "0.00000000" {
		t.Fatalf("system:profit = %s %v, want 0 (everything credited was reversed)", profit, err)
	}
}

// A withdrawal and a reversal of the same credit race: under the account
// locks exactly one of them gets the money — the withdrawal (and the
// reversal is parked) or the reversal (and the withdrawal is refused) —
// never both, and no balance goes below zero.
func TestReversalRacesAWithdrawal(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	d := decimal.RequireFromString
	user := ledger.Owner{Type: auth.OwnerUser, ID: 7}
	for i := range int64(20) {
		c := ledger.Credit{AllocationID: 100 + i, Distributable: d("10"), ToUser: d("7"), ToTeam: d("2"), ToPlatform: d("1"),
			UserID: 7, TeamID: 3, Currency: "USD"}
		if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return st.Credits(ctx, tx, []ledger.Credit{c}) }); err != nil {
			t.Fatal(err)
		}
		withdrew, reversed := make(chan error, 1), make(chan error, 1)
		go func() {
			_, err := st.RequestWithdrawal(ctx, ledger.NewWithdrawal{Owner: user, Currency: "USD", Amount: d("7")}, 7)
			withdrew <- err
		}()
		go func() {
			reversed <- pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
				return ledger.ApplyReversal(ctx, st.ReversalsIn(tx), ledger.Reversal{ReversalID: c.AllocationID, CorrectionID: 1, Credit: c})
			})
		}()
		wErr, rErr := <-withdrew, <-reversed
		if rErr != nil {
			t.Fatalf("round %d: reversal: %v", i, rErr)
		}
		var parked bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM parked_reversals WHERE allocation_id = $1)`, c.AllocationID).Scan(&parked); err != nil {
			t.Fatal(err)
		}
		switch {
		case wErr == nil && parked:
		case errors.Is(wErr, ledger.ErrInsufficientBalance) && !parked:
		default:
			t.Fatalf("round %d: withdrawal %v, reversal parked %v: want exactly one of them to get the 7", i, wErr, parked)
		}
		b, err := st.Balance(ctx, user, "USD", nil)
		if err != nil || !b.Available.IsZero() {
			t.Fatalf("round %d: user available %+v %v, want 0", i, b, err)
		}
	}
	if v, err := st.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("verify = %+v, %v", v, err)
	}
}

// A restored profit service records a credited allocation again under a
// new id (the same identity) and applies the correction again: its
// reversal, posted or parked before under the old id, is not applied a
// second time.
func TestReversalAppliedOncePerIdentity(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	d := decimal.RequireFromString
	user := ledger.Owner{Type: auth.OwnerUser, ID: 7}
	credit := func(id int64, key string) ledger.Credit {
		return ledger.Credit{AllocationID: id, AllocationKey: key, Distributable: d("100"), ToUser: d("70"), ToTeam: d("20"),
			ToPlatform: d("10"), UserID: 7, TeamID: 3, Currency: "USD"}
	}
	inTx := func(fn func(pgx.Tx) error) {
		t.Helper()
		if err := pg.InTx(ctx, pool, pgx.TxOptions{}, fn); err != nil {
			t.Fatal(err)
		}
	}
	available := func() decimal.Decimal {
		t.Helper()
		b, err := st.Balance(ctx, user, "USD", nil)
		if err != nil {
			t.Fatal(err)
		}
		return b.Available
	}
	const posted, parked = "00000000-0000-5000-8000-000000000001", "00000000-0000-5000-8000-000000000002"
	inTx(func(tx pgx.Tx) error {
		return st.Credits(ctx, tx, []ledger.Credit{credit(1, posted), credit(2, parked)})
	})

	// Posted under allocation 1, then again as allocation 101 (same identity).
	for _, id := range []int64{1, 101} {
		inTx(func(tx pgx.Tx) error {
			return ledger.ApplyReversal(ctx, st.ReversalsIn(tx), ledger.Reversal{ReversalID: id, CorrectionID: 1, Credit: credit(id, posted)})
		})
	}
	if got := available(); !got.Equal(d("70")) {
		t.Fatalf("user available after one reversal delivered under two ids: %s, want 70", got)
	}
	// The user withdraws 60: the next reversal is parked, under allocation 2
	// and again as allocation 102.
	if _, err := st.RequestWithdrawal(ctx, ledger.NewWithdrawal{Owner: user, Currency: "USD", Amount: d("60")}, 7); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{2, 102} {
		inTx(func(tx pgx.Tx) error {
			return ledger.ApplyReversal(ctx, st.ReversalsIn(tx), ledger.Reversal{ReversalID: id, CorrectionID: 2, Credit: credit(id, parked)})
		})
	}
	list, n, err := st.ListParked(ctx, ledger.ParkedFilter{}, httpx.Pagination{Limit: 10})
	if err != nil || n != 1 || list[0].AllocationID != 2 || list[0].AllocationKey != parked {
		t.Fatalf("parked %+v %d %v, want one (allocation 2, its identity)", list, n, err)
	}
	// Applied by an admin once the balance covers it, the posted reversal
	// names the identity: a later delivery changes nothing.
	if _, err := st.TransitionWithdrawal(ctx, ledger.Transition{WithdrawalID: 1, To: ledger.StatusFailed, Reason: new("bank")}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyParked(ctx, list[0].ID, 1); err != nil {
		t.Fatal(err)
	}
	inTx(func(tx pgx.Tx) error {
		return ledger.ApplyReversal(ctx, st.ReversalsIn(tx), ledger.Reversal{ReversalID: 203, CorrectionID: 2, Credit: credit(203, parked)})
	})
	var reversals int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM transfers WHERE kind = 'profit_reversal'`).Scan(&reversals); err != nil || reversals != 2 {
		t.Fatalf("%d reversal transfers (%v), want 2", reversals, err)
	}
	if got := available(); !got.IsZero() {
		t.Fatalf("user available: %s, want 0", got)
	}
	if v, err := st.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("verify = %+v, %v", v, err)
	}
}
