package store_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"

	"testing"
	"time"

	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/profit/internal/store"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// A NAV correction of a loss into a profit, with a manual profit after it:
// both are reversed (never edited), their replacements are allocated from
// the carry-forward the loss started from, each reversal and replacement
// publishes its event, and a second delivery changes nothing.
func TestApplyNAVCorrection(t *testing.T) {
	ctx := context.Background()
	st, pool := newStore(t)
	portfolio42(t, st, pool, true)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	record := func(in profit.NewProfit) profit.Allocation {
		return inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) { return st.RecordProfit(ctx, tx, in) })
	}
	first := record(navProfit(42, 1, at, "100"))
	loss := record(navProfit(42, 2, at.Add(24*time.Hour), "-40"))
	manual := record(profit.NewProfit{PortfolioID: 42, Source: profit.SourceManual, PeriodEnd: at.Add(48 * time.Hour), Amount: dec("50")})
	if !manual.Distributable.Equal(dec("10")) {
		t.Fatalf("manual before the correction: %+v", manual)
	}
	outboxBefore := len(outboxRows(t, pool))

	c := profit.NAVCorrection{CorrectionID: 5, PortfolioID: 42, SnapshotID: 2, SourceEventID: uuid.NewString(),
		PeriodEnd: at.Add(24 * time.Hour), OldProfit: dec("-40"), Profit: dec("10"), UserID: 7, TeamID: 3, Currency: "USD"}
	for range 2 {
		inTx(t, pool, func(tx pgx.Tx) (any, error) { return nil, st.ApplyNAVCorrection(ctx, tx, c) })
	}
	all, _, err := st.ListAllocations(ctx, profit.AllocationFilter{}, httpx.Pagination{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]profit.Allocation{}
	standingUser := dec("0")
	for _, a := range all {
		byID[a.ID] = a
		if a.ReversedBy == nil {
			standingUser = standingUser.Add(a.ToUser)
		}
	}
	if len(all) != 5 {
		t.Fatalf("%d allocations, want 5 (two reversed, two replacements): %+v", len(all), all)
	}
	if byID[first.ID].ReversedBy != nil || byID[loss.ID].ReversedBy == nil || *byID[loss.ID].ReversedBy != 5 ||
		byID[manual.ID].ReversedBy == nil {
		t.Fatalf("reversed: %+v", all)
	}
	// History with +10 in place of −40: 100, 10, 50 all distributed.
	if !standingUser.Equal(dec("112")) {
		t.Fatalf("standing to_user %s, want 112", standingUser)
	}
	var replacement profit.Allocation
	for _, a := range all {
		if a.Corrects != nil && *a.Corrects == loss.ID {
			replacement = a
		}
	}
	if replacement.Source != profit.SourceCorrection || replacement.SnapshotID == nil || *replacement.SnapshotID != 2 ||
		replacement.CorrectionID != 5 || !replacement.ToUser.Equal(dec("7")) {
		t.Fatalf("replacement %+v", replacement)
	}
	p, err := st.Portfolio(ctx, 42)
	if err != nil || !p.LossCarryforward.IsZero() {
		t.Fatalf("carry-forward %s %v", p.LossCarryforward, err)
	}
	// The business gauges count the standing allocations only.
	g := pg.NewGauges(pool, slog.New(slog.DiscardHandler), 0, store.Gauges()...)
	distributed := `
# HELP fund_profit_distributed_amount Profit distributed so far, by currency and share (team, platform, user).
# TYPE fund_profit_distributed_amount gauge
fund_profit_distributed_amount{currency="USD",share="platform"} 16
fund_profit_distributed_amount{currency="USD",share="team"} 32
fund_profit_distributed_amount{currency="USD",share="user"} 112
`
	if err := testutil.CollectAndCompare(g, strings.NewReader(distributed), "fund_profit_distributed_amount"); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, row := range outboxRows(t, pool)[outboxBefore:] {
		if err := eventbus.Validate(row.Type, row.Payload); err != nil {
			t.Fatal(err)
		}
		types = append(types, row.Type)
		if row.Type == eventbus.TypeProfitAllocationReversed {
			var env struct {
				Data eventbus.AllocationReversedData
			}
			if err := json.Unmarshal(row.Payload, &env); err != nil || env.Data.CorrectionID != 5 {
				t.Fatalf("reversal event %s %v", row.Payload, err)
			}
		}
	}
	want := []string{eventbus.TypeProfitAllocationReversed, eventbus.TypeProfitAllocationReversed,
		eventbus.TypeProfitAllocated, eventbus.TypeProfitAllocated}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events %v, want %v", types, want)
		}
	}
}

// A correction of a portfolio's only profit that waits for a ratio:
// the waiting profit is reversed, so the first ratio releases the
// replacement only.
func TestNAVCorrectionOfAWaitingProfit(t *testing.T) {
	ctx := context.Background()
	st, pool := newStore(t)
	portfolio42(t, st, pool, false)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inTx(t, pool, func(tx pgx.Tx) (profit.Allocation, error) {
		return st.RecordProfit(ctx, tx, navProfit(42, 1, at, "100"))
	})
	c := profit.NAVCorrection{CorrectionID: 1, PortfolioID: 42, SnapshotID: 1, SourceEventID: uuid.NewString(),
		PeriodEnd: at, OldProfit: dec("100"), Profit: dec("60"), UserID: 7, TeamID: 3, Currency: "USD"}
	inTx(t, pool, func(tx pgx.Tx) (any, error) { return nil, st.ApplyNAVCorrection(ctx, tx, c) })
	if _, err := st.CreateRatio(ctx, profit.NewRatio{PortfolioID: 42, ToTeam: dec("0.2"), ToPlatform: dec("0.1"), ToUser: dec("0.7")}, 1); err != nil {
		t.Fatal(err)
	}
	all, _, err := st.ListAllocations(ctx, profit.AllocationFilter{}, httpx.Pagination{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	distributed := dec("0")
	for _, a := range all {
		distributed = distributed.Add(a.Distributable)
	}
	if len(all) != 2 || !distributed.Equal(dec("60")) {
		t.Fatalf("allocations %+v", all)
	}
}
