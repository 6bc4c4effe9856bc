package store_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/testkit"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

// The business gauges count withdrawals by status and currency, with every
// status of every currency present; the background verification reports
// a sound ledger as 1 and, once an account's last hash is rewritten, 0.
func TestGaugesAndBackgroundVerification(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	credit := ledger.Credit{AllocationID: 1, Distributable: decimal.NewFromInt(100), ToUser: decimal.NewFromInt(100),
		ToTeam: decimal.Zero, ToPlatform: decimal.Zero, UserID: 7, TeamID: 3, Currency: "JPY"}
	if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return st.Credit(ctx, tx, credit) }); err != nil {
		t.Fatal(err)
	}
	user := ledger.Owner{Type: auth.OwnerUser, ID: 7}
	for _, amount := range []int64{10, 15} {
		if _, err := st.RequestWithdrawal(ctx, ledger.NewWithdrawal{Owner: user, Currency: "JPY", Amount: decimal.NewFromInt(amount)}, 7); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP fund_withdrawals_amount The amount of the withdrawals by status and currency.
# TYPE fund_withdrawals_amount gauge
fund_withdrawals_amount{currency="JPY",status="completed"} 0
fund_withdrawals_amount{currency="JPY",status="failed"} 0
fund_withdrawals_amount{currency="JPY",status="pending"} 25
`
	g := pg.NewGauges(pool, slog.New(slog.DiscardHandler), 0, store.Gauges()...)
	if err := testutil.CollectAndCompare(g, strings.NewReader(want), "fund_withdrawals_amount"); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	done := make(chan error, 1)
	go func() {
		done <- store.VerifyLoop(ctx, st.Verify, 50*time.Millisecond, reg, slog.New(slog.DiscardHandler))
	}()
	verified := func(want float64) func() bool {
		return func() bool {
			mfs, _ := reg.Gather()
			for _, mf := range mfs {
				if mf.GetName() == "fund_ledger_verify_ok" {
					return mf.GetMetric()[0].GetGauge().GetValue() == want
				}
			}
			return false
		}
	}
	testkit.Poll(t, 10*time.Second, 20*time.Millisecond, "the ledger verified", verified(1))
	if _, err := pool.Exec(ctx, `UPDATE accounts SET last_hash = '\x00' WHERE account = 'user:7:JPY'`); err != nil {
		t.Fatal(err)
	}
	testkit.Poll(t, 10*time.Second, 20*time.Millisecond, "the rewritten ledger reported", verified(0))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("VerifyLoop: %v", err)
	}
}
