package stats_test

import (
	"testing"

	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/shopspring/decimal"
)

// A NAV correction as stats sees it — the reversal of the loss's
// allocation, then the corrected allocation — leaves the money, the
// portfolio's totals, the credits and the carry-forward as if the
// corrected NAV had been recorded in the first place.
func TestReversalEqualsTheCorrectedHistory(t *testing.T) {
	nav := func(snapshot int64, profit string) stats.Event {
		return stats.Event{Time: at10(1), ProfitRecorded: &stats.ProfitRecorded{PortfolioID: 42, SnapshotID: snapshot, UserID: 7,
			TeamID: 3, PeriodEnd: at10(int(snapshot)), Profit: dec(profit), Currency: "USD"}}
	}
	allocated := func(id int64, source string, minute int, profit, d string) stats.Event {
		x := dec(d)
		return stats.Event{Time: at10(2), Allocation: &stats.Allocation{AllocationID: id, PortfolioID: 42, UserID: 7, TeamID: 3,
			Manual: source != "nav", PeriodEnd: at10(minute), Profit: dec(profit), Distributable: x,
			ToTeam: x.Mul(dec("0.2")), ToPlatform: x.Mul(dec("0.1")), ToUser: x.Mul(dec("0.7")), Currency: "USD"}}
	}
	prior := func() stats.Prior {
		return stats.Prior{NewSnapshots: map[stats.SnapshotKey]bool{{42, 1}: true, {42, 2}: true},
			NewAllocations: map[int64]bool{1: true, 2: true, 3: true}, Carry: map[int64]decimal.Decimal{42: dec("0")}}
	}
	// Recorded: +100 (allocated), −40 (a loss: no allocation event).
	// Corrected: the loss's allocation 2 reversed, 3 replaces it with +10.
	reversal := stats.Event{Time: at10(3), Reversal: &stats.Reversal{Allocation: stats.Allocation{AllocationID: 2, PortfolioID: 42,
		UserID: 7, TeamID: 3, PeriodEnd: at10(2), Profit: dec("-40"), Distributable: dec("0"), ToTeam: dec("0"),
		ToPlatform: dec("0"), ToUser: dec("0"), Currency: "USD"}, CarryBefore: dec("0")}}
	got, err := stats.Accumulate(prior(), []stats.Event{nav(1, "100"), allocated(1, "nav", 1, "100", "100"), nav(2, "-40"),
		reversal, allocated(3, "correction", 2, "10", "10")})
	if err != nil {
		t.Fatal(err)
	}
	want, err := stats.Accumulate(prior(), []stats.Event{nav(1, "100"), allocated(1, "nav", 1, "100", "100"), nav(2, "10"),
		allocated(2, "nav", 2, "10", "10")})
	if err != nil {
		t.Fatal(err)
	}
	g, w := got.Currencies["USD"], want.Currencies["USD"]
	if !g.Profit.Equal(w.Profit) || !g.Distributed.Equal(w.Distributed) || !g.ToUser.Equal(w.ToUser) ||
		!g.ToTeam.Equal(w.ToTeam) || !g.ToPlatform.Equal(w.ToPlatform) || !g.LossCarry.Equal(w.LossCarry) {
		t.Fatalf("money %+v, want %+v", g, w)
	}
	gt, wt := got.Totals[42], want.Totals[42]
	if !gt.AccProfit.Equal(wt.AccProfit) || !gt.Distributed.Equal(wt.Distributed) || !gt.ToUser.Equal(wt.ToUser) {
		t.Fatalf("totals %+v, want %+v", gt, wt)
	}
	if !got.Carry[42].Equal(want.Carry[42]) || got.Overview.Allocations != want.Overview.Allocations {
		t.Fatalf("carry %s allocations %d, want %s %d", got.Carry[42], got.Overview.Allocations, want.Carry[42], want.Overview.Allocations)
	}
	sum := func(a *stats.Additions) (s [2]string) {
		user, team := dec("0"), dec("0")
		for k, v := range a.Hourly {
			if k.OwnerType == "user" {
				user = user.Add(v)
			} else if k.OwnerType == "team" {
				team = team.Add(v)
			}
		}
		return [2]string{user.String(), team.String()}
	}
	if sum(got) != sum(want) {
		t.Fatalf("credits %v, want %v", sum(got), sum(want))
	}
}
