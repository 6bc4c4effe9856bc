package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/profit/internal/profit"
	"github.com/fundplatform/platform/services/profit/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func newStore(t *testing.T) (*store.Store, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.New(t, store.Migrations())
	return store.New(pool), pool
}

func inTx[T any](t *testing.T, pool *pgxpool.Pool, fn func(pgx.Tx) (T, error)) T {
	t.Helper()
	var out T
	err := pg.InTx(context.Background(), pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		v, err := fn(tx)
		out = v
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// portfolio42 registers portfolio 42 (user 7, team 3) as its events do,
// with a first ratio of 0.2 / 0.1 / 0.7 when withRatio.
func portfolio42(t *testing.T, st *store.Store, pool *pgxpool.Pool, withRatio bool) {
	t.Helper()
	ctx := context.Background()
	inTx(t, pool, func(tx pgx.Tx) (any, error) {
		return nil, st.ApplyPortfolio(ctx, tx, store.Owners{PortfolioID: 42, UserID: 7, TeamID: 3})
	})
	if !withRatio {
		return
	}
	if _, err := st.CreateRatio(ctx, profit.NewRatio{PortfolioID: 42, ToTeam: dec("0.2"), ToPlatform: dec("0.1"), ToUser: dec("0.7")}, 1); err != nil {
		t.Fatal(err)
	}
}

// navProfit is a profit as the portfolio.profit_recorded consumer records it.
func navProfit(portfolioID, snapshotID int64, periodEnd time.Time, amount string) profit.NewProfit {
	id := snapshotID
	return profit.NewProfit{PortfolioID: portfolioID, Source: profit.SourceNAV, SnapshotID: &id,
		SourceEventID: uuid.NewString(), PeriodEnd: periodEnd, Amount: dec(amount), UserID: 7, TeamID: 3}
}

type outboxRow struct {
	Topic, Key, Type string
	Payload          []byte
}

func outboxRows(t *testing.T, pool *pgxpool.Pool) []outboxRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT topic, key, type, payload::text FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		var payload string
		err := r.Scan(&o.Topic, &o.Key, &o.Type, &payload)
		o.Payload = []byte(payload)
		return o, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrationsIncludeTheLibrariesTablesUnchanged(t *testing.T) {
	pgtest.RequireFiles(t, store.Migrations(), map[string]string{
		"00002_outbox.sql":             outbox.Migration,
		"00003_inbox.sql":              inbox.Migration,
		store.IdempotencyMigrations[0]: idempotency.MigrationSQL,
		store.IdempotencyMigrations[1]: idempotency.MigrationEffectSQL,
	})
	// Every step applies on an empty database (and the tables exist).
	_, pool := newStore(t)
	pgtest.RequireTables(t, pool, "portfolios", "ratios", "allocations", "outbox", "processed_events", "consumer_offsets", "idempotency_keys")
}

// TestRecordProfitTwiceAllocatesOnce: the same portfolio.profit_recorded
// (same event id), recorded twice, makes one allocation and one
// profit.allocated; so does the same snapshot under another event id.
func TestRecordProfitTwiceAllocatesOnce(t *testing.T) {
	st, pool := newStore(t)
	ctx := context.Background()
	portfolio42(t, st, pool, true)
	p := navProfit(42, 1001, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), "100")
	first := inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) { return st.RecordProfit(ctx, tx, p) })
	again := inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) { return st.RecordProfit(ctx, tx, p) })
	other := p
	other.SourceEventID = uuid.NewString()
	sameSnapshot := inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) { return st.RecordProfit(ctx, tx, other) })
	if first.ID == 0 || again.ID != first.ID || sameSnapshot.ID != first.ID || first.Status != profit.StatusAllocated {
		t.Fatalf("allocations %d, %d, %d (status %s), want one", first.ID, again.ID, sameSnapshot.ID, first.Status)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM allocations`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d allocation rows, want 1 (%v)", n, err)
	}
	port, err := st.Portfolio(ctx, 42)
	if err != nil || !port.LossCarryforward.IsZero() {
		t.Fatalf("portfolio %+v, %v", port, err)
	}

	allocated := 0
	for _, o := range outboxRows(t, pool) {
		if o.Type != eventbus.TypeProfitAllocated {
			continue
		}
		allocated++
		if o.Topic != eventbus.TopicProfit || o.Key != "42" {
			t.Errorf("profit.allocated on %s key %s, want profit.events key 42", o.Topic, o.Key)
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
		d := env.Data
		if d.AllocationID != first.ID || d.Source != "nav" || d.SnapshotID == nil || *d.SnapshotID != 1001 ||
			d.ToTeamAmount.String() != "20.00000000" || d.ToPlatformAmount.String() != "10.00000000" ||
			d.ToUserAmount.String() != "70.00000000" || d.UserID != 7 || d.TeamID != 3 || d.RatioVersion != 1 {
			t.Errorf("profit.allocated data = %+v", d)
		}
	}
	if allocated != 1 {
		t.Fatalf("%d profit.allocated events, want 1", allocated)
	}
}

// TestOneEventPerAllocatedRow runs a sequence through both paths (waiting,
// then allocated by the first ratio; then allocated on arrival) and checks
// the outbox holds exactly one valid profit.allocated per allocated row and
// none for the others.
func TestOneEventPerAllocatedRow(t *testing.T) {
	st, pool := newStore(t)
	ctx := context.Background()
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	// The portfolio is first seen through a profit: its row is made from
	// the event's owners.
	for i, amount := range []string{"50", "-80", "100"} {
		p := navProfit(9, int64(100+i), day(1+i), amount)
		a := inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) { return st.RecordProfit(ctx, tx, p) })
		if a.Status != profit.StatusAwaitingRatio || a.RatioID != nil {
			t.Fatalf("before any ratio: %+v", a)
		}
	}
	port, err := st.Portfolio(ctx, 9)
	if err != nil || port.UserID != 7 || port.TeamID != 3 {
		t.Fatalf("read model row from the event: %+v, %v", port, err)
	}
	if _, err := st.CreateRatio(ctx, profit.NewRatio{PortfolioID: 9, ToTeam: dec("0.5"), ToPlatform: dec("0.5"), ToUser: dec("0")}, 1); err != nil {
		t.Fatal(err)
	}
	for i, amount := range []string{"-10", "40"} {
		p := navProfit(9, int64(200+i), day(10+i), amount)
		inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) { return st.RecordProfit(ctx, tx, p) })
	}
	all, total, err := st.ListAllocations(ctx, profit.AllocationFilter{}, httpx.Pagination{Limit: 100})
	if err != nil || total != 5 {
		t.Fatalf("%d allocations, %v", total, err)
	}
	// Oldest first: 50 → 50; −80 → carry 80; 100 → 20; −10 → carry 10; 40 → 30.
	want := []struct{ status, d, after string }{
		{"allocated", "50", "0"}, {"no_distribution", "0", "80"}, {"allocated", "20", "0"},
		{"no_distribution", "0", "10"}, {"allocated", "30", "0"},
	}
	allocatedIDs := map[int64]bool{}
	for i, w := range want {
		a := all[len(all)-1-i]
		if a.Status != w.status || !a.Distributable.Equal(dec(w.d)) || !a.LossCarryforwardAfter.Equal(dec(w.after)) || a.RatioID == nil {
			t.Errorf("profit %d: %s d=%s after=%s ratio %v, want %+v", i, a.Status, a.Distributable, a.LossCarryforwardAfter, a.RatioID, w)
		}
		if a.Status == profit.StatusAllocated {
			allocatedIDs[a.ID] = true
		}
	}
	seen := map[int64]int{}
	ratioEvents := 0
	for _, o := range outboxRows(t, pool) {
		if err := eventbus.Validate(o.Type, o.Payload); err != nil {
			t.Errorf("%s payload does not match the schema: %v", o.Type, err)
		}
		switch o.Type {
		case eventbus.TypeProfitRatioChanged:
			ratioEvents++
		case eventbus.TypeProfitAllocated:
			var env struct {
				Data profit.AllocatedData `json:"data"`
			}
			_ = json.Unmarshal(o.Payload, &env)
			seen[env.Data.AllocationID]++
		}
	}
	if ratioEvents != 1 || len(seen) != len(allocatedIDs) {
		t.Fatalf("%d ratio events, profit.allocated for %v; allocated rows %v", ratioEvents, seen, allocatedIDs)
	}
	for id, n := range seen {
		if n != 1 || !allocatedIDs[id] {
			t.Errorf("allocation %d: %d events (allocated row: %v)", id, n, allocatedIDs[id])
		}
	}
}

// TestErrorsKeepTheirSentinels: the store's errors say where they come
// from and still match the domain's sentinels.
func TestErrorsKeepTheirSentinels(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	_, err := st.RecordManualProfit(ctx, profit.NewProfit{PortfolioID: 404, Source: profit.SourceManual,
		PeriodEnd: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Amount: dec("1")})
	if !errors.Is(err, profit.ErrPortfolioNotFound) || !strings.HasPrefix(err.Error(), "store: ") {
		t.Fatalf("manual profit of an unknown portfolio: %v", err)
	}
	if _, err := st.CreateRatio(ctx, profit.NewRatio{PortfolioID: 404, ToTeam: dec("1"), ToPlatform: dec("0"), ToUser: dec("0")}, 1); !errors.Is(err, profit.ErrPortfolioNotFound) {
		t.Fatalf("ratio of an unknown portfolio: %v", err)
	}
	if _, err := st.CurrentRatio(ctx, 404); !errors.Is(err, profit.ErrRatioNotFound) {
		t.Fatalf("current ratio of an unknown portfolio: %v", err)
	}
	if _, err := st.Allocation(ctx, 404); !errors.Is(err, profit.ErrAllocationNotFound) {
		t.Fatalf("unknown allocation: %v", err)
	}
}

// TestAllocationsAreInThePortfolioCurrency: an allocation and its
// profit.allocated are in the portfolio's currency; a row recorded before
// the read model kept currencies reads as USD until a NAV profit's event
// says the portfolio's currency, which corrects it (one profit at a time
// and in a run alike); a run's event without a currency takes the row's.
func TestAllocationsAreInThePortfolioCurrency(t *testing.T) {
	st, pool := newStore(t)
	ctx := context.Background()
	// Portfolio 5 as the previous release recorded it: no currency.
	if _, err := pool.Exec(ctx, `INSERT INTO portfolios (portfolio_id, user_id, team_id) VALUES (5, 7, 3)`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateRatio(ctx, profit.NewRatio{PortfolioID: 5, ToTeam: dec("0.2"), ToPlatform: dec("0.1"), ToUser: dec("0.7")}, 1); err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 4, d, 0, 0, 0, 0, time.UTC) }
	before, err := st.RecordManualProfit(ctx, profit.NewProfit{PortfolioID: 5, Source: profit.SourceManual, PeriodEnd: day(1), Amount: dec("10")})
	if err != nil || before.Currency != eventbus.BaseCurrency {
		t.Fatalf("a profit of a row without a currency: %q, %v", before.Currency, err)
	}
	eur := navProfit(5, 501, day(2), "20")
	eur.Currency = "EUR"
	if a := inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) { return st.RecordProfit(ctx, tx, eur) }); a.Currency != "EUR" {
		t.Fatalf("a NAV profit whose event says EUR: %q", a.Currency)
	}
	jpy := navProfit(6, 601, day(3), "30") // portfolio 6 first seen through this run
	jpy.Currency = "JPY"
	run := []profit.NewProfit{navProfit(5, 502, day(4), "40"), jpy}
	inTx(t, pool, func(tx pgx.Tx) (any, error) { return nil, st.RecordNAVProfits(ctx, tx, run) })

	want := map[int64]string{5: "EUR", 6: "JPY"}
	for id, cur := range want {
		if p, err := st.Portfolio(ctx, id); err != nil || p.Currency != cur {
			t.Errorf("portfolio %d in %q (%v), want %s", id, p.Currency, err, cur)
		}
	}
	all, _, err := st.ListAllocations(ctx, profit.AllocationFilter{}, httpx.Pagination{Limit: 10})
	if err != nil || len(all) != 4 {
		t.Fatalf("%d allocations, %v", len(all), err)
	}
	currencyOf := map[int64]string{}
	for _, a := range all {
		currencyOf[a.ID] = a.Currency
		if w := map[bool]string{true: want[a.PortfolioID], false: "USD"}[a.ID != before.ID]; a.Currency != w {
			t.Errorf("allocation %d of portfolio %d in %q, want %s", a.ID, a.PortfolioID, a.Currency, w)
		}
	}
	events := 0
	for _, o := range outboxRows(t, pool) {
		if o.Type != eventbus.TypeProfitAllocated {
			continue
		}
		var env struct {
			Data profit.AllocatedData `json:"data"`
		}
		// The base currency's events omit it (eventbus.EventCurrency).
		if err := json.Unmarshal(o.Payload, &env); err != nil || eventbus.CurrencyOf(env.Data.Currency) != currencyOf[env.Data.AllocationID] ||
			env.Data.Currency == eventbus.BaseCurrency {
			t.Errorf("profit.allocated of allocation %d in %q, want %q (%v)", env.Data.AllocationID, env.Data.Currency, currencyOf[env.Data.AllocationID], err)
		}
		events++
	}
	if events != 3 { // portfolio 6 has no ratio: its profit waits
		t.Fatalf("%d profit.allocated, want 3", events)
	}
}
