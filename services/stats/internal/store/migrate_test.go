package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
)

// TestMigrationsStepBack: every migration's Down undoes its Up (development
// and tests step back with them).
func TestMigrationsStepBack(t *testing.T) {
	pool, n := pgtest.UpDownUp(t, store.Migrations())
	if n != 7 {
		t.Errorf("%d migrations applied, want 7", n)
	}
	pgtest.RequireTables(t, pool, "applied_allocation_keys", "currency_totals", "hourly_currency_profit", "summary_currency_hourly",
		"summary_currency_daily", "summary_currency_totals")
}

// TestUpgradeKeepsTheFiguresAsUSD: read models written before migration
// 00006 (by the previous release) read the same after it, as USD's.
func TestUpgradeKeepsTheFiguresAsUSD(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, nil)
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, store.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	// What the previous release leaves: a portfolio, its totals, an hour of
	// credit, a summary hour (rolled up by the trigger of 00003), the
	// overview and a completed withdrawal.
	for _, sql := range []string{
		`INSERT INTO portfolio_owners (portfolio_id, user_id, team_id) VALUES (1, 7, 3)`,
		`INSERT INTO portfolio_totals (portfolio_id, acc_profit, distributed, to_user_total, updated_at) VALUES (1, 100, 100, 70, now())`,
		`INSERT INTO hourly_owner_profit (owner_type, owner_id, hour, profit) VALUES ('user', 7, '2026-03-01T10:00:00Z', 70)`,
		`INSERT INTO summary_hourly (dimension, key, hour, profit, to_user, withdrawn) VALUES ('user', '7', '2026-03-01T10:00:00Z', 100, 70, 20)`,
		`UPDATE overview SET total_profit = 100, total_distributed = 100, to_user_total = 70, portfolios = 1, allocations = 1,
		        withdrawals = 1, events_applied = 3, last_event_at = now()`,
		`UPDATE withdrawals_by_status SET amount = 20, count = 1 WHERE status = 'completed'`,
		`INSERT INTO withdrawal_states (withdrawal_id, status, amount) VALUES (1, 'completed', 20)`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}

	st := store.New(pool)
	o, err := st.Overview(ctx)
	if err != nil || len(o.Totals) != 1 || o.Totals[0].Currency != "USD" || !o.Totals[0].TotalProfit.Equal(decimal.NewFromInt(100)) ||
		!o.Totals[0].ToUser.Equal(decimal.NewFromInt(70)) || !o.Totals[0].WithdrawalsCompleted.Equal(decimal.NewFromInt(20)) ||
		o.Counts.Portfolios != 1 {
		t.Errorf("overview = %+v, %v", o, err)
	}
	acc, err := st.PortfolioTotals(ctx, 1)
	if err != nil || acc.Currency != "USD" || !acc.AccProfit.Equal(decimal.NewFromInt(100)) {
		t.Errorf("totals = %+v, %v", acc, err)
	}
	hours, _, err := st.Hourly(ctx, stats.Owner{Type: auth.OwnerUser, ID: 7}, "", stats.Range{}, everything)
	if err != nil || len(hours) != 1 || hours[0].Currency != "USD" || !hours[0].Profit.Equal(decimal.NewFromInt(70)) {
		t.Errorf("hourly = %+v, %v", hours, err)
	}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	next := day.AddDate(0, 0, 1)
	for _, r := range []stats.Range{{}, {From: &day, To: &next}} {
		rows, _, err := st.Summary(ctx, stats.GroupUser, "USD", r, everything)
		if err != nil || len(rows) != 1 || rows[0].Key != "7" || rows[0].Currency != "USD" ||
			!rows[0].Profit.Equal(decimal.NewFromInt(100)) || !rows[0].Withdrawn.Equal(decimal.NewFromInt(20)) {
			t.Errorf("summary by user in %+v = %+v, %v", r, rows, err)
		}
	}
}
