package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/testkit"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestMigrationsIncludeTheInboxTablesUnchanged(t *testing.T) {
	pgtest.RequireFiles(t, store.Migrations(), map[string]string{"00002_inbox.sql": inbox.Migration})
	// Every step applies on an empty database (and the tables exist).
	pgtest.RequireTables(t, pgtest.New(t, store.Migrations()), "portfolio_owners", "portfolio_totals", "hourly_owner_profit",
		"summary_hourly", "withdrawal_states", "withdrawals_by_status", "overview", "processed_events", "consumer_offsets")
}

// TestConcurrentApplyIsExact applies allocations and withdrawals from many
// transactions at once, as the consumer does for its partitions: nothing
// deadlocks, and every total is the exact sum.
func TestConcurrentApplyIsExact(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	const workers, each = 6, 20
	testkit.Concurrently(t, workers, func(w int) error {
		for i := range each {
			id := int64(w*each + i + 1)
			err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
				status := store.StatusPending
				if i%2 == 1 {
					status = store.StatusCompleted
				}
				return st.Apply(ctx, tx, []store.Event{
					{Time: time.Now(), Allocation: &store.Allocation{AllocationID: id, PortfolioID: id%3 + 1, Manual: true,
						UserID: id%4 + 1, TeamID: id%2 + 1, PeriodEnd: time.Date(2026, 3, 1, int(id%24), 0, 0, 0, time.UTC),
						Profit: decimal.RequireFromString("1.00000001"), Distributable: decimal.RequireFromString("1.00000001"),
						ToTeam: decimal.RequireFromString("0.20000000"), ToPlatform: decimal.RequireFromString("0.10000001"),
						ToUser: decimal.RequireFromString("0.70000000")}},
					{Time: time.Now(), Withdrawal: &store.Withdrawal{ID: id % 10, FromType: auth.OwnerUser, OwnerID: 7,
						Amount: decimal.RequireFromString("0.00000001"), Status: status}},
				})
			})
			if err != nil {
				return fmt.Errorf("allocation %d: %w", id, err)
			}
		}
		return nil
	})
	o, err := st.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := decimal.NewFromInt(workers * each)
	if !o.In("USD").TotalProfit.Equal(n.Mul(decimal.RequireFromString("1.00000001"))) || !o.In("USD").ToPlatform.Equal(n.Mul(decimal.RequireFromString("0.10000001"))) {
		t.Errorf("totals = %s / %s", o.In("USD").TotalProfit, o.In("USD").ToPlatform)
	}
	if o.Counts.Allocations != workers*each || o.Counts.Withdrawals != 10 {
		t.Errorf("counts = %+v", o.Counts)
	}
	// Ten withdrawals of 0.00000001, each in exactly one status.
	if sum := o.In("USD").WithdrawalsPending.Add(o.In("USD").WithdrawalsCompleted).Add(o.In("USD").WithdrawalsFailed); !sum.Equal(decimal.RequireFromString("0.0000001")) {
		t.Errorf("withdrawals by status sum to %s", sum)
	}
	rows, _, err := st.Summary(ctx, stats.GroupPortfolio, "", stats.Range{}, everything)
	if err != nil {
		t.Fatal(err)
	}
	total := decimal.Zero
	for _, r := range rows {
		total = total.Add(r.Profit)
	}
	if !total.Equal(o.In("USD").TotalProfit) {
		t.Errorf("summary by portfolio sums to %s, overview says %s", total, o.In("USD").TotalProfit)
	}
}

// The roll-ups answer exactly what summing the hours answers: the whole
// history (summary_totals), whole days (summary_daily) and any other range
// (summary_hourly) agree for every dimension.
func TestSummaryRollupsEqualTheHours(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		id := int64(i + 1)
		err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			at := start.Add(time.Duration(i*5) * time.Hour)
			return st.Apply(ctx, tx, []store.Event{
				{Time: time.Now(), Allocation: &store.Allocation{AllocationID: id, PortfolioID: id%4 + 1, Manual: true,
					UserID: id%3 + 1, TeamID: id%2 + 1, PeriodEnd: at,
					Profit: decimal.NewFromInt(id), Distributable: decimal.NewFromInt(id),
					ToTeam: decimal.NewFromInt(id).Shift(-1), ToPlatform: decimal.Zero, ToUser: decimal.NewFromInt(id).Mul(decimal.RequireFromString("0.9"))}},
				{Time: at, Withdrawal: &store.Withdrawal{ID: id, FromType: auth.OwnerUser, OwnerID: id%3 + 1,
					Amount: decimal.RequireFromString("0.5"), Status: store.StatusCompleted}},
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	all := start.AddDate(0, 0, 20)
	for _, groupBy := range []string{stats.GroupPortfolio, stats.GroupTeam, stats.GroupUser} {
		rows, _, err := st.Summary(ctx, groupBy, "", stats.Range{}, everything)
		if err != nil {
			t.Fatal(err)
		}
		equalRows(t, groupBy+" without a range", rows, summedHours(t, st, groupBy, start, all))
		from, to := start.AddDate(0, 0, 2), start.AddDate(0, 0, 7)
		if rows, _, err = st.Summary(ctx, groupBy, "", stats.Range{From: &from, To: &to}, everything); err != nil {
			t.Fatal(err)
		}
		equalRows(t, groupBy+" over whole days", rows, summedHours(t, st, groupBy, from, to))
	}
	checkDaysEqualTheHours(t, st, start.AddDate(0, 0, 1), start.AddDate(0, 0, 9))
}

// summedHours is the summary over [from, to) by the hour: ranges that are
// not whole days read summary_hourly.
func summedHours(t *testing.T, st *store.Store, groupBy string, from, to time.Time) map[string]stats.SummaryRow {
	t.Helper()
	out := map[string]stats.SummaryRow{}
	// Split [from, to) at 03:00, so no call has two midnight bounds.
	for _, r := range []stats.Range{{From: &from, To: ptr(from.Add(3 * time.Hour))}, {From: ptr(from.Add(3 * time.Hour)), To: &to}} {
		rows, _, err := st.Summary(context.Background(), groupBy, "", r, everything)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			o := out[row.Key]
			o.Key = row.Key
			o.Profit, o.Distributed = o.Profit.Add(row.Profit), o.Distributed.Add(row.Distributed)
			o.ToTeam, o.ToUser, o.Withdrawn = o.ToTeam.Add(row.ToTeam), o.ToUser.Add(row.ToUser), o.Withdrawn.Add(row.Withdrawn)
			out[row.Key] = o
		}
	}
	return out
}

// equalRows fails unless got has exactly want's keys with want's amounts.
func equalRows(t *testing.T, what string, got []stats.SummaryRow, want map[string]stats.SummaryRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for _, g := range got {
		w := want[g.Key]
		if !g.Profit.Equal(w.Profit) || !g.Distributed.Equal(w.Distributed) || !g.ToTeam.Equal(w.ToTeam) ||
			!g.ToUser.Equal(w.ToUser) || !g.Withdrawn.Equal(w.Withdrawn) {
			t.Errorf("%s: key %s = %+v, want %+v", what, g.Key, g, w)
		}
	}
}

// checkDaysEqualTheHours: the summary by day over whole days [from, to)
// (from summary_daily) has a row per day, each the sum of its hours and
// not zero.
func checkDaysEqualTheHours(t *testing.T, st *store.Store, from, to time.Time) {
	t.Helper()
	days, _, err := st.Summary(context.Background(), stats.GroupDay, "", stats.Range{From: &from, To: &to}, everything)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(to.Sub(from) / (24 * time.Hour)); len(days) != want {
		t.Fatalf("%d days, want %d", len(days), want)
	}
	for _, day := range days {
		d0, err := time.Parse("2006-01-02", day.Key)
		if err != nil {
			t.Fatal(err)
		}
		var sum stats.SummaryRow
		for _, h := range summedHours(t, st, stats.GroupDay, d0, d0.AddDate(0, 0, 1)) {
			sum.Profit, sum.Withdrawn = sum.Profit.Add(h.Profit), sum.Withdrawn.Add(h.Withdrawn)
		}
		if !day.Profit.Equal(sum.Profit) || !day.Withdrawn.Equal(sum.Withdrawn) || day.Profit.IsZero() {
			t.Errorf("day %s = %s profit / %s withdrawn from summary_daily, %s / %s from the hours", day.Key, day.Profit, day.Withdrawn, sum.Profit, sum.Withdrawn)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// rollupsDiff lists the rows of summary_daily and summary_totals that differ
// from summing summary_hourly (empty when the roll-ups are right).
func rollupsDiff(t *testing.T, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) []string {
	t.Helper()
	const amounts = `sum(profit) p, sum(distributed) d, sum(to_team) tt, sum(to_platform) tp, sum(to_user) tu, sum(withdrawn) w`
	rows, err := pool.Query(context.Background(), `
		WITH want_daily AS (SELECT dimension, key, date_trunc('day', hour, 'UTC') AS day, `+amounts+`
		                      FROM summary_hourly GROUP BY 1, 2, 3),
		     want_totals AS (SELECT dimension, key, `+amounts+` FROM summary_hourly GROUP BY 1, 2)
		SELECT 'daily ' || coalesce(w.dimension, s.dimension) || '/' || coalesce(w.key, s.key) || ' ' || coalesce(w.day, s.day)::text
		  FROM want_daily w FULL JOIN summary_daily s USING (dimension, key, day)
		 WHERE (w.p, w.d, w.tt, w.tp, w.tu, w.w) IS DISTINCT FROM (s.profit, s.distributed, s.to_team, s.to_platform, s.to_user, s.withdrawn)
		UNION ALL
		SELECT 'totals ' || coalesce(w.dimension, s.dimension) || '/' || coalesce(w.key, s.key)
		  FROM want_totals w FULL JOIN summary_totals s USING (dimension, key)
		 WHERE (w.p, w.d, w.tt, w.tp, w.tu, w.w) IS DISTINCT FROM (s.profit, s.distributed, s.to_team, s.to_platform, s.to_user, s.withdrawn)`)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return diff
}

// TestApplyWritesTheRollups: runs of several events, over hours and days
// that runs share, leave summary_daily and summary_totals equal to summing
// summary_hourly, as the trigger of any other writer does.
func TestApplyWritesTheRollups(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)
	id := int64(0)
	for run := range 12 {
		var events []store.Event
		for i := range 7 {
			id++
			at := start.Add(time.Duration((run*7+i)%9) * 3 * time.Hour) // crosses midnights, repeats hours
			events = append(events,
				store.Event{Time: at, Allocation: &store.Allocation{AllocationID: id, PortfolioID: id%5 + 1, Manual: i%2 == 0,
					UserID: id%3 + 1, TeamID: id%2 + 1, PeriodEnd: at,
					Profit: decimal.NewFromInt(id), Distributable: decimal.NewFromInt(id),
					ToTeam: decimal.NewFromInt(id).Shift(-1), ToPlatform: decimal.NewFromInt(id).Shift(-2),
					ToUser: decimal.NewFromInt(id).Mul(decimal.RequireFromString("0.89"))}},
				store.Event{Time: at, Withdrawal: &store.Withdrawal{ID: id, FromType: auth.OwnerUser, OwnerID: id%3 + 1,
					Amount: decimal.RequireFromString("0.25"), Status: store.StatusCompleted}})
		}
		if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return st.Apply(ctx, tx, events) }); err != nil {
			t.Fatal(err)
		}
	}
	var days int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT day) FROM summary_daily`).Scan(&days); err != nil || days < 2 {
		t.Fatalf("%d days in summary_daily (%v), want several", days, err)
	}
	if diff := rollupsDiff(t, pool); len(diff) > 0 {
		t.Fatalf("roll-ups differ from the hours: %v", diff)
	}

	// Any other writer of summary_hourly still has its roll-ups kept by
	// the trigger.
	if _, err := pool.Exec(ctx, `INSERT INTO summary_hourly (dimension, key, hour, profit) VALUES ('team', '9', '2026-05-05 05:00Z', 3)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE summary_hourly SET withdrawn = withdrawn + 1 WHERE dimension = 'all'`); err != nil {
		t.Fatal(err)
	}
	if diff := rollupsDiff(t, pool); len(diff) > 0 {
		t.Fatalf("after a plain write, roll-ups differ from the hours: %v", diff)
	}
}

// TestConcurrentRunsNeverDeadlock: runs applied at once, as the consumer's
// partitions apply them, over the same portfolios (their NAV profits from
// one topic, their allocations from another), owners and platform rows,
// each portfolio list in its own order. Each run is one transaction with no
// retry: a deadlock between two runs (PostgreSQL aborts one of them) fails
// the test, as it does when the runs stop queueing on the overview row
// first. The sums must come out exact.
func TestConcurrentRunsNeverDeadlock(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	const workers, runs, perRun, portfolios = 6, 15, 12, 9
	one := decimal.RequireFromString("1")
	testkit.Concurrently(t, workers, func(w int) error {
		for r := range runs {
			var events []store.Event
			for i := range perRun {
				n := int64((w*runs+r)*perRun + i + 1) // unique per event
				// A different walk over the portfolios in every run.
				p := int64((i*(w+2)+r*5)%portfolios + 1)
				at := time.Date(2026, 3, 1, int(n%24), 0, 0, 0, time.UTC)
				if w%2 == 0 {
					events = append(events, store.Event{Time: at, ProfitRecorded: &store.ProfitRecorded{PortfolioID: p,
						SnapshotID: n, UserID: p%4 + 1, TeamID: p%2 + 1, PeriodEnd: at, Profit: one}})
				} else {
					// Every third a manual profit: it moves the carry-forward.
					events = append(events, store.Event{Time: at, Allocation: &store.Allocation{AllocationID: n, PortfolioID: p, Manual: i%3 == 0,
						UserID: p%4 + 1, TeamID: p%2 + 1, PeriodEnd: at, Profit: one, Distributable: one,
						ToTeam: decimal.RequireFromString("0.2"), ToPlatform: decimal.RequireFromString("0.1"),
						ToUser: decimal.RequireFromString("0.7")}})
				}
			}
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return st.Apply(ctx, tx, events) }); err != nil {
				return fmt.Errorf("worker %d, run %d: %w", w, r, err)
			}
		}
		return nil
	})
	o, err := st.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	half := decimal.NewFromInt(workers / 2 * runs * perRun)
	if !o.In("USD").TotalDistributed.Equal(half) || !o.In("USD").ToPlatform.Equal(half.Mul(decimal.RequireFromString("0.1"))) {
		t.Errorf("distributed %s, to platform %s; want %s and a tenth of it", o.In("USD").TotalDistributed, o.In("USD").ToPlatform, half)
	}
	if o.Counts.Allocations != workers/2*runs*perRun {
		t.Errorf("counts = %+v", o.Counts)
	}
}

// TestApplyErrorsStayRetryable: a serialization failure comes back with
// the store's context and is still recognised as one (pg.Retryable), so
// the consumer retries the run.
func TestApplyErrorsStayRetryable(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	serializable := pgx.TxOptions{IsoLevel: pgx.Serializable}
	late, err := pool.BeginTx(ctx, serializable)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = late.Rollback(ctx) }()
	if _, err := late.Exec(ctx, `SELECT events_applied FROM overview WHERE id = 1`); err != nil { // takes its snapshot
		t.Fatal(err)
	}
	ratio := []store.Event{{Time: time.Now(), RatioChanged: true}}
	if err := pg.InTx(ctx, pool, serializable, func(tx pgx.Tx) error { return st.Apply(ctx, tx, ratio) }); err != nil {
		t.Fatal(err)
	}
	err = st.Apply(ctx, late, ratio)
	if err == nil || !pg.Retryable(err) || !strings.HasPrefix(err.Error(), "store: ") {
		t.Errorf("Apply after a concurrent update = %v; want a retryable error with the store's context", err)
	}
}

// TestReadErrorsKeepTheirSentinels: the read side's not-found answers stay
// matchable with errors.Is; failures carry the store's context.
func TestReadErrorsKeepTheirSentinels(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	if _, err := st.PortfolioOwners(ctx, 42); !errors.Is(err, stats.ErrPortfolioNotFound) {
		t.Errorf("owners of an unknown portfolio: %v, want ErrPortfolioNotFound", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.Overview(cancelled); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "store: ") {
		t.Errorf("overview with a cancelled context: %v, want context.Canceled with the store's context", err)
	}
}

// everything is a page that holds every row of these small tests.
var everything = httpx.Pagination{Limit: 1000}
