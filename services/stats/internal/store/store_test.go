package store_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestMigrationsIncludeTheInboxTablesUnchanged(t *testing.T) {
	got, err := fs.ReadFile(store.Migrations(), "00002_inbox.sql")
	if err != nil || string(got) != inbox.Migration {
		t.Errorf("00002_inbox.sql differs from inbox.Migration (copy the library's file again): %v", err)
	}
	// Every step applies on an empty database (and the tables exist).
	pool := pgtest.New(t, store.Migrations())
	for _, table := range []string{"portfolio_owners", "portfolio_totals", "hourly_owner_profit", "summary_hourly",
		"withdrawal_states", "withdrawals_by_status", "overview", "processed_events", "consumer_offsets"} {
		var ok bool
		if err := pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing after migrations: %v", table, err)
		}
	}
}

// TestConcurrentApplyIsExact applies allocations and withdrawals from many
// transactions at once, as the consumer does for its partitions: nothing
// deadlocks, and every total is the exact sum.
func TestConcurrentApplyIsExact(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	const workers, each = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := int64(w*each + i + 1)
				err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
					if err := st.Touch(ctx, tx, time.Now()); err != nil {
						return err
					}
					if err := st.ApplyAllocated(ctx, tx, store.Allocation{AllocationID: id, PortfolioID: id%3 + 1, Manual: true,
						UserID: id%4 + 1, TeamID: id%2 + 1, PeriodEnd: time.Date(2026, 3, 1, int(id%24), 0, 0, 0, time.UTC),
						Profit: decimal.RequireFromString("1.00000001"), Distributable: decimal.RequireFromString("1.00000001"),
						ToTeam: decimal.RequireFromString("0.20000000"), ToPlatform: decimal.RequireFromString("0.10000001"),
						ToUser: decimal.RequireFromString("0.70000000")}, time.Now()); err != nil {
						return err
					}
					status := store.StatusPending
					if i%2 == 1 {
						status = store.StatusCompleted
					}
					return st.ApplyWithdrawal(ctx, tx, store.Withdrawal{ID: id % 10, FromType: stats.OwnerUser, OwnerID: 7,
						Amount: decimal.RequireFromString("0.00000001"), Status: status}, time.Now())
				})
				if err != nil {
					errs <- fmt.Errorf("allocation %d: %w", id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	o, err := st.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := decimal.NewFromInt(workers * each)
	if !o.TotalProfit.Equal(n.Mul(decimal.RequireFromString("1.00000001"))) || !o.ToPlatform.Equal(n.Mul(decimal.RequireFromString("0.10000001"))) {
		t.Errorf("totals = %s / %s", o.TotalProfit, o.ToPlatform)
	}
	if o.Counts.Allocations != workers*each || o.Counts.Withdrawals != 10 {
		t.Errorf("counts = %+v", o.Counts)
	}
	// Ten withdrawals of 0.00000001, each in exactly one status.
	if sum := o.WithdrawalsPending.Add(o.WithdrawalsCompleted).Add(o.WithdrawalsFailed); !sum.Equal(decimal.RequireFromString("0.0000001")) {
		t.Errorf("withdrawals by status sum to %s", sum)
	}
	rows, err := st.Summary(ctx, stats.GroupPortfolio, stats.Range{})
	if err != nil {
		t.Fatal(err)
	}
	total := decimal.Zero
	for _, r := range rows {
		total = total.Add(r.Profit)
	}
	if !total.Equal(o.TotalProfit) {
		t.Errorf("summary by portfolio sums to %s, overview says %s", total, o.TotalProfit)
	}
}
