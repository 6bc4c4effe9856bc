package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
	"github.com/fundplatform/platform/services/portfolio/internal/store"
	"github.com/shopspring/decimal"
)

// A correction replaces the latest snapshot's values, keeps the old ones
// in nav_corrections and writes portfolio.nav_corrected to the outbox in
// the same transaction; an earlier snapshot, or another portfolio's, is
// refused and changes nothing.
func TestCorrectNAV(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	now := time.Now().UTC().Truncate(time.Microsecond)
	create := func() portfolio.Portfolio {
		p, err := st.CreatePortfolio(ctx, portfolio.Portfolio{Name: "p", UserID: 1, TeamID: 2, Currency: "EUR", CreatedAt: now, UpdatedAt: now},
			func(portfolio.Portfolio) []portfolio.Event { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	record := func(p portfolio.Portfolio, at time.Time, nav string) portfolio.Snapshot {
		s, err := st.RecordNAV(ctx, p.ID, func(p portfolio.Portfolio, prev *portfolio.Snapshot) (portfolio.Snapshot, error) {
			return portfolio.NewSnapshot(p, prev, portfolio.NAVInput{AsOf: at, NAV: decimal.RequireFromString(nav)}, now)
		}, func(*portfolio.Snapshot, portfolio.Snapshot) []portfolio.Event { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	correct := func(p portfolio.Portfolio, id int64, nav string) (portfolio.Correction, error) {
		return st.CorrectNAV(ctx, p.ID, id, func(s portfolio.Snapshot, prev *portfolio.Snapshot) (portfolio.Correction, error) {
			n, err := portfolio.CorrectSnapshot(s, prev, portfolio.NAVInput{NAV: decimal.RequireFromString(nav)})
			return portfolio.Correction{Old: s, New: n, Prev: prev, CreatedBy: 9, CreatedAt: now}, err
		}, portfolio.CorrectionEvents)
	}
	p, other := create(), create()
	first := record(p, now.Add(-2*time.Hour), "1000")
	second := record(p, now.Add(-time.Hour), "1100")
	record(other, now.Add(-time.Hour), "1")

	if _, err := correct(p, first.ID, "900"); !errors.Is(err, portfolio.ErrNAVNotLatest) {
		t.Fatalf("earlier snapshot: %v", err)
	}
	if _, err := correct(other, second.ID, "900"); !errors.Is(err, portfolio.ErrSnapshotNotFound) {
		t.Fatalf("another portfolio's snapshot: %v", err)
	}
	c, err := correct(p, second.ID, "1050")
	if err != nil {
		t.Fatal(err)
	}
	if c.New.ID != second.ID || c.New.Profit.String() != "50.00000000" || c.Old.Profit.String() != "100.00000000" || c.ID == 0 {
		t.Fatalf("correction %+v", c)
	}
	list, _, err := st.ListSnapshots(ctx, p.ID, portfolio.SnapshotFilter{}, httpx.Pagination{Limit: 10})
	if err != nil || len(list) != 2 || list[1].NAV.String() != "1050.00000000" || list[1].Profit.String() != "50.00000000" {
		t.Fatalf("snapshots after the correction: %+v %v", list, err)
	}
	var oldNAV, oldProfit, newProfit string
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) OVER (), old_nav::text, old_profit::text, new_profit::text FROM nav_corrections`).
		Scan(&n, &oldNAV, &oldProfit, &newProfit); err != nil || n != 1 || oldNAV != "1100.00000000" || oldProfit != "100.00000000" || newProfit != "50.00000000" {
		t.Fatalf("history: %d %s %s %s %v", n, oldNAV, oldProfit, newProfit, err)
	}
	var payload []byte
	if err := pool.QueryRow(ctx, `SELECT payload::text FROM outbox WHERE type = $1`, eventbus.TypePortfolioNAVCorrected).Scan(&payload); err != nil {
		t.Fatalf("no nav_corrected in the outbox: %v", err)
	}
	if err := eventbus.Validate(eventbus.TypePortfolioNAVCorrected, payload); err != nil {
		t.Fatal(err)
	}
	var env struct{ Data eventbus.NAVCorrectedData }
	if err := json.Unmarshal(payload, &env); err != nil {
		t.Fatal(err)
	}
	if d := env.Data; d.CorrectionID != c.ID || d.SnapshotID != second.ID || d.OldProfit.String() != "100.00000000" ||
		d.Profit.String() != "50.00000000" || d.Currency != "EUR" || d.UserID != 1 || d.TeamID != 2 {
		t.Fatalf("event %+v", d)
	}
}
