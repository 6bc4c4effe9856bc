package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

// TestTotalsBeyondTenToTheTwelve: an amount has at most 12 integer digits,
// but the totals of an account do not: three maximal credits (one alone,
// two in a batch) and a maximal withdrawal take the user's, the team's and
// the system accounts' totals past 10^12, and the ledger still balances
// and verifies (docs/api.md#money-and-rounding).
func TestTotalsBeyondTenToTheTwelve(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	maxAmount := money.Max
	toUser, toTeam := decimal.RequireFromString("600000000000"), decimal.RequireFromString("399999999999.99999999")
	credit := func(id int64) ledger.Credit {
		return ledger.Credit{AllocationID: id, Distributable: maxAmount,
			ToUser: toUser, ToTeam: toTeam, ToPlatform: decimal.Zero, UserID: 7, TeamID: 3, Currency: "USD"}
	}
	if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return st.Credit(ctx, tx, credit(1)) }); err != nil {
		t.Fatal(err)
	}
	if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return st.Credits(ctx, tx, []ledger.Credit{credit(2), credit(3)})
	}); err != nil {
		t.Fatal(err)
	}
	user := ledger.Owner{Type: auth.OwnerUser, ID: 7}
	w, err := st.RequestWithdrawal(ctx, ledger.NewWithdrawal{Owner: user, Currency: "USD", Amount: maxAmount}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.TransitionWithdrawal(ctx, ledger.Transition{WithdrawalID: w.ID, To: ledger.StatusCompleted}); err != nil {
		t.Fatal(err)
	}

	three := decimal.NewFromInt(3)
	for _, c := range []struct {
		owner               ledger.Owner
		credited, withdrawn decimal.Decimal
		available           decimal.Decimal
	}{
		{user, toUser.Mul(three), maxAmount, toUser.Mul(three).Sub(maxAmount)},
		{ledger.Owner{Type: auth.OwnerTeam, ID: 3}, toTeam.Mul(three), decimal.Zero, toTeam.Mul(three)},
	} {
		for _, at := range []*time.Time{nil, ptr(time.Now().Add(time.Hour))} {
			b, err := st.Balance(ctx, c.owner, "USD", at)
			if err != nil || !b.Credited.Equal(c.credited) || !b.Withdrawn.Equal(c.withdrawn) || !b.Available.Equal(c.available) {
				t.Errorf("%v at %v = %+v, %v; want credited %s, withdrawn %s, available %s",
					c.owner, at, b, err, c.credited, c.withdrawn, c.available)
			}
		}
	}
	for account, want := range map[string]string{
		"system:profit": maxAmount.Mul(three).Neg().StringFixed(8),
		"system:payout": maxAmount.StringFixed(8),
	} {
		var got string
		if err := pool.QueryRow(ctx, `SELECT balance::text FROM accounts WHERE account = $1`, account).Scan(&got); err != nil || got != want {
			t.Errorf("%s balance = %s, %v; want %s", account, got, err, want)
		}
	}
	if v, err := st.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("verify = %+v, %v", v, err)
	}
}

func ptr[T any](v T) *T { return &v }
