package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
)

// TestCurrencyTablesAndTheOldOnes: the current release writes the tables
// keyed by currency and the tables without one (summed over currencies, as
// the previous release reads them), and the triggers of migration 00006
// stand down for it; a write of another writer to the old tables (the
// previous release during a rolling update) reaches the new ones as USD.
func TestCurrencyTablesAndTheOldOnes(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	d := decimal.RequireFromString
	at := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
	alloc := func(id, portfolio int64, currency, profit string) store.Event {
		p := d(profit)
		return store.Event{Time: at, Allocation: &store.Allocation{AllocationID: id, PortfolioID: portfolio, UserID: 7, TeamID: 3,
			PeriodEnd: at, Profit: p, Distributable: p, ToTeam: p.Div(d("10")), ToPlatform: p.Div(d("10")),
			ToUser: p.Mul(d("0.8")), Currency: currency}}
	}
	err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return st.Apply(ctx, tx, []store.Event{
			{Time: at, Portfolio: &stats.Owners{PortfolioID: 1, UserID: 7, TeamID: 3, Currency: "JPY"}},
			{Time: at, Portfolio: &stats.Owners{PortfolioID: 2, UserID: 7, TeamID: 3, Currency: "USD"}},
			alloc(1, 1, "", "1000"), // no currency: portfolio 1's, JPY
			alloc(2, 2, "USD", "10"),
			{Time: at, Withdrawal: &store.Withdrawal{ID: 1, FromType: auth.OwnerUser, OwnerID: 7, Amount: d("300"),
				Status: store.StatusPending, Currency: "JPY"}},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The withdrawal's outcome names no currency: it stays JPY's.
	if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return st.Apply(ctx, tx, []store.Event{{Time: at, Withdrawal: &store.Withdrawal{ID: 1, FromType: auth.OwnerUser,
			OwnerID: 7, Amount: d("300"), Status: store.StatusCompleted}}})
	}); err != nil {
		t.Fatal(err)
	}
	// The previous release's writes, without the mark.
	if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		for _, sql := range []string{
			`UPDATE overview SET total_profit = total_profit + 5, to_user_total = to_user_total + 4, events_applied = events_applied + 1`,
			`UPDATE overview SET events_applied = events_applied + 1`, // moves no money
			`UPDATE withdrawals_by_status SET amount = amount + 2 WHERE status = 'failed'`,
			`INSERT INTO hourly_owner_profit (owner_type, owner_id, hour, profit) VALUES ('user', 7, '2026-03-01T10:00:00Z', 4)
			 ON CONFLICT (owner_type, owner_id, hour) DO UPDATE SET profit = hourly_owner_profit.profit + EXCLUDED.profit`,
			`INSERT INTO summary_hourly (dimension, key, hour, profit) VALUES ('user', '7', '2026-03-01T10:00:00Z', 5)
			 ON CONFLICT (dimension, key, hour) DO UPDATE SET profit = summary_hourly.profit + EXCLUDED.profit`,
		} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	queries := map[string]string{
		"currency_totals": `SELECT string_agg(currency || ' ' || trim_scale(total_profit) || ' ' || trim_scale(to_user_total) || ' ' ||
			trim_scale(withdrawals_pending_amount) || ' ' || trim_scale(withdrawals_completed_amount) || ' ' || trim_scale(withdrawals_failed_amount),
			', ' ORDER BY currency) FROM currency_totals`,
		"overview":  `SELECT trim_scale(total_profit) || ' ' || trim_scale(to_user_total) FROM overview`,
		"by status": `SELECT string_agg(status || ' ' || trim_scale(amount), ', ' ORDER BY status) FROM withdrawals_by_status`,
		"hourly_currency_profit": `SELECT string_agg(currency || ' ' || trim_scale(profit), ', ' ORDER BY currency)
			FROM hourly_currency_profit WHERE owner_type = 'user' AND owner_id = 7`,
		"hourly_owner_profit": `SELECT string_agg(trim_scale(profit)::text, ', ') FROM hourly_owner_profit WHERE owner_type = 'user'`,
		"summary_currency_totals": `SELECT string_agg(currency || ' ' || trim_scale(profit) || ' ' || trim_scale(withdrawn), ', ' ORDER BY currency)
			FROM summary_currency_totals WHERE dimension = 'user' AND key = '7'`,
		"summary_currency_daily": `SELECT string_agg(currency || ' ' || trim_scale(profit), ', ' ORDER BY currency)
			FROM summary_currency_daily WHERE dimension = 'user' AND key = '7'`,
		"summary_totals": `SELECT trim_scale(profit) || ' ' || trim_scale(withdrawn) FROM summary_totals WHERE dimension = 'user' AND key = '7'`,
		"portfolio currencies": `SELECT string_agg(t.portfolio_id || ' ' || t.currency || ' ' || o.currency, ', ' ORDER BY t.portfolio_id)
			FROM portfolio_totals t JOIN portfolio_owners o USING (portfolio_id)`,
		"withdrawal_states": `SELECT status || ' ' || currency FROM withdrawal_states`,
	}
	want := map[string]string{
		"currency_totals":         "JPY 0 800 0 300 0, USD 5 12 0 0 2",
		"overview":                "5 812",
		"by status":               "completed 300, failed 2, pending 0",
		"hourly_currency_profit":  "JPY 800, USD 12",
		"hourly_owner_profit":     "812",
		"summary_currency_totals": "JPY 0 300, USD 5 0",
		"summary_currency_daily":  "JPY 0, USD 5",
		"summary_totals":          "5 300",
		"portfolio currencies":    "1 JPY JPY, 2 USD USD",
		"withdrawal_states":       "completed JPY",
	}
	for name, q := range queries {
		var got string
		if err := pool.QueryRow(ctx, q).Scan(&got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want[name] {
			t.Errorf("%s = %q, want %q", name, got, want[name])
		}
	}
	o, err := st.Overview(ctx)
	if err != nil || len(o.Totals) != 2 || !o.In("JPY").WithdrawalsCompleted.Equal(d("300")) || !o.In("USD").TotalProfit.Equal(d("5")) {
		t.Errorf("overview = %+v, %v", o, err)
	}
}
