package profit

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// totals are what a portfolio's standing allocations add up to.
type totals struct{ profit, d, team, platform, user, carry decimal.Decimal }

func sum(live []Allocation, l Ledger) totals {
	t := totals{carry: l.LossCarryforward}
	for _, a := range live {
		t.profit, t.d = t.profit.Add(a.ProfitAmount), t.d.Add(a.Distributable)
		t.team, t.platform, t.user = t.team.Add(a.ToTeam), t.platform.Add(a.ToPlatform), t.user.Add(a.ToUser)
	}
	return t
}

func (t totals) equal(o totals) bool {
	return t.profit.Equal(o.profit) && t.d.Equal(o.d) && t.team.Equal(o.team) && t.platform.Equal(o.platform) &&
		t.user.Equal(o.user) && t.carry.Equal(o.carry)
}

// withIDs numbers folded allocations as the store would, from first, and
// gives the NAV ones their snapshot.
func withIDs(as []Allocation, first int64) []Allocation {
	for i := range as {
		id := first + int64(i)
		as[i].ID = id
		if as[i].Source == SourceNAV {
			s := 100 + id
			as[i].SnapshotID = &s
		}
	}
	return as
}

// The property of a correction: the portfolio's standing allocations and
// carry-forward after it equal those of a history in which the corrected
// profit had been recorded in the first place. The corrected profit is
// the last NAV profit, followed by none or some manual ones; the cases
// cover loss → profit, profit → loss, profit → 0 and 0 → profit.
func TestCorrectEqualsTheCorrectedHistory(t *testing.T) {
	r := Ratio{ID: 5, Version: 1, ToTeam: dec("0.2"), ToPlatform: dec("0.1"), ToUser: dec("0.7")}
	rng := rand.New(rand.NewPCG(1, 2))
	amount := func() string {
		return []string{"-100", "-30.5", "0", "20", "45.12345678", "100", "250"}[rng.IntN(7)]
	}
	for i := range 500 {
		n, manual := 1+rng.IntN(4), rng.IntN(3)
		amounts := make([]string, n+manual)
		for j := range amounts {
			amounts[j] = amount()
		}
		corrected := amount()
		history := profits(amounts...)
		for j := n; j < len(history); j++ {
			history[j].Source = SourceManual
		}
		// A zero NAV profit is never recorded: drop it from the histories.
		record := func(h []Allocation) []Allocation {
			var out []Allocation
			for _, a := range h {
				if !(a.Source == SourceNAV && a.ProfitAmount.IsZero()) {
					out = append(out, a)
				}
			}
			return out
		}
		start := Ledger{LossCarryforward: decimal.Zero, Ratios: []Ratio{r}}
		before, l := Fold(start, record(history))
		before = withIDs(before, 1)
		want := make([]Allocation, len(history))
		copy(want, history)
		want[n-1].ProfitAmount = dec(corrected)
		wantFolded, wantL := Fold(start, record(want))

		// The chain: the standing allocations from the corrected snapshot's on.
		snapshot := int64(100 + n) // the id withIDs gives it when it was recorded (no zero before it changes ids)
		var chain, kept []Allocation
		for _, a := range before {
			if a.PeriodEnd.Before(day(n)) {
				kept = append(kept, a)
			} else {
				chain = append(chain, a)
			}
		}
		if len(chain) > 0 && chain[0].Source == SourceNAV {
			snapshot = *chain[0].SnapshotID
		}
		redo, after := Correct(l, chain, NAVCorrection{CorrectionID: 9, PortfolioID: 1, SnapshotID: snapshot,
			PeriodEnd: day(n), Profit: dec(corrected), UserID: 7, TeamID: 3})
		if got, w := sum(append(kept, redo...), after), sum(wantFolded, wantL); !got.equal(w) {
			t.Fatalf("case %d %v corrected to %s: %+v, want %+v", i, amounts, corrected, got, w)
		}
		for _, a := range redo {
			if a.Source != SourceCorrection || a.CorrectionID != 9 {
				t.Fatalf("replacement %+v", a)
			}
		}
		if len(chain) > 0 && chain[0].Source == SourceNAV && !dec(corrected).IsZero() &&
			(redo[0].Corrects == nil || *redo[0].Corrects != chain[0].ID || *redo[0].SnapshotID != snapshot) {
			t.Fatalf("the corrected allocation %+v does not replace %+v", redo[0], chain[0])
		}
	}
}

// A loss corrected into a profit: the reversal gives back the
// carry-forward the loss added, and the corrected profit is distributed
// from the carry-forward as it was before the loss.
func TestCorrectLossIntoProfit(t *testing.T) {
	r := Ratio{ID: 5, Version: 1, ToTeam: dec("0.2"), ToPlatform: dec("0.1"), ToUser: dec("0.7")}
	folded, l := Fold(Ledger{Ratios: []Ratio{r}}, profits("100", "-40"))
	folded = withIDs(folded, 1)
	if !l.LossCarryforward.Equal(dec("40")) {
		t.Fatalf("carry %s", l.LossCarryforward)
	}
	redo, l := Correct(l, folded[1:], NAVCorrection{CorrectionID: 1, PortfolioID: 1, SnapshotID: *folded[1].SnapshotID,
		PeriodEnd: day(2), Profit: dec("10"), UserID: 7, TeamID: 3})
	if len(redo) != 1 || !l.LossCarryforward.IsZero() || redo[0].Status != StatusAllocated || !redo[0].ToUser.Equal(dec("7")) ||
		!redo[0].LossCarryforwardBefore.IsZero() || *redo[0].Corrects != folded[1].ID {
		t.Fatalf("redo %+v carry %s", redo, l.LossCarryforward)
	}
}

func TestReversedEvents(t *testing.T) {
	snapshot, ratio, version := int64(9), int64(5), 1
	a := Allocation{ID: 11, PortfolioID: 42, Source: SourceNAV, SnapshotID: &snapshot, PeriodEnd: day(1), ProfitAmount: dec("100"),
		Distributable: dec("100"), ToTeam: dec("20"), ToPlatform: dec("10"), ToUser: dec("70"), UserID: 7, TeamID: 3,
		Currency: "EUR", Status: StatusAllocated, RatioID: &ratio, RatioVersion: &version}
	events := ReversedEvents(Reversal{ID: 2, CorrectionID: 3, Allocation: a})
	if len(events) != 1 || events[0].Type != EventAllocationReversed || events[0].PortfolioID != 42 {
		t.Fatalf("events %+v", events)
	}
}
