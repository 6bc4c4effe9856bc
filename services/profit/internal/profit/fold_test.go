package profit

import (
	"errors"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// day is a period_end in January 2026.
func day(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }

// profits are allocations still to be folded, one per amount, a day apart.
func profits(amounts ...string) []Allocation {
	out := make([]Allocation, len(amounts))
	for i, s := range amounts {
		out[i] = NewAllocation(NewProfit{PortfolioID: 1, Source: SourceNAV, PeriodEnd: day(1 + i), Amount: dec(s), UserID: 7, TeamID: 3})
	}
	return out
}

// folded is the expected outcome of one profit.
type folded struct {
	status, before, after, d, team, platform, user string
}

func checkFolded(t *testing.T, got []Allocation, want []folded, r *Ratio) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d allocations, want %d", len(got), len(want))
	}
	for i, w := range want {
		a := got[i]
		figures := []decimal.Decimal{a.LossCarryforwardBefore, a.LossCarryforwardAfter, a.Distributable, a.ToTeam, a.ToPlatform, a.ToUser}
		for j, s := range []string{w.before, w.after, w.d, w.team, w.platform, w.user} {
			if !figures[j].Equal(dec(s)) {
				t.Fatalf("profit %d: %+v, want %+v", i, a, w)
			}
		}
		if a.Status != w.status {
			t.Fatalf("profit %d: status %s, want %s", i, a.Status, w.status)
		}
		if a.Status == StatusAwaitingRatio {
			if a.RatioID != nil || a.RatioVersion != nil {
				t.Fatalf("profit %d waits with ratio %v/%v", i, a.RatioID, a.RatioVersion)
			}
		} else if a.RatioID == nil || *a.RatioID != r.ID || a.RatioVersion == nil || *a.RatioVersion != r.Version {
			t.Fatalf("profit %d: ratio %v/%v, want %d/%d", i, a.RatioID, a.RatioVersion, r.ID, r.Version)
		}
	}
}

func TestFold(t *testing.T) {
	r := &Ratio{ID: 5, Version: 2, ToTeam: dec("0.2"), ToPlatform: dec("0.1"), ToUser: dec("0.7")}
	thirds := &Ratio{ID: 6, Version: 3, ToTeam: dec("0.3333"), ToPlatform: dec("0.3334"), ToUser: dec("0.3333")}
	const a, n, w = StatusAllocated, StatusNoDistribution, StatusAwaitingRatio
	cases := []struct {
		name     string
		ledger   Ledger
		amounts  []string
		want     []folded
		carry    string
		awaiting bool
	}{
		{"profit", Ledger{Ratios: []Ratio{*r}}, []string{"100"},
			[]folded{{a, "0", "0", "100", "20", "10", "70"}}, "0", false},
		{"loss carried forward", Ledger{LossCarryforward: dec("5"), Ratios: []Ratio{*r}}, []string{"-40"},
			[]folded{{n, "5", "45", "0", "0", "0", "0"}}, "45", false},
		{"loss then a profit partly absorbing it", Ledger{Ratios: []Ratio{*r}}, []string{"-40", "30"},
			[]folded{{n, "0", "40", "0", "0", "0", "0"}, {n, "40", "10", "0", "0", "0", "0"}}, "10", false},
		{"loss then a profit exactly absorbing it", Ledger{Ratios: []Ratio{*r}}, []string{"-40", "40"},
			[]folded{{n, "0", "40", "0", "0", "0", "0"}, {n, "40", "0", "0", "0", "0", "0"}}, "0", false},
		{"loss then a profit absorbing it and more", Ledger{Ratios: []Ratio{*r}}, []string{"-40", "90"},
			[]folded{{n, "0", "40", "0", "0", "0", "0"}, {a, "40", "0", "50", "10", "5", "35"}}, "0", false},
		{"zero profit", Ledger{LossCarryforward: dec("3"), Ratios: []Ratio{*r}}, []string{"0"},
			[]folded{{n, "3", "3", "0", "0", "0", "0"}}, "3", false},
		{"no ratio yet: everything waits", Ledger{LossCarryforward: dec("7")}, []string{"100", "-20"},
			[]folded{{w, "7", "7", "0", "0", "0", "0"}, {w, "7", "7", "0", "0", "0", "0"}}, "7", true},
		{"a waiting profit holds back the later ones", Ledger{Ratios: []Ratio{*r}, Awaiting: true}, []string{"100"},
			[]folded{{w, "0", "0", "0", "0", "0", "0"}}, "0", true},
		{"rounding remainder to the platform", Ledger{Ratios: []Ratio{*thirds}}, []string{"100", "0.00000001"},
			[]folded{{a, "0", "0", "100", "33.33", "33.34", "33.33"}, {a, "0", "0", "0.00000001", "0", "0.00000001", "0"}}, "0", false},
		{"floored shares, remainder to the platform", Ledger{Ratios: []Ratio{*thirds}}, []string{"0.00000005"},
			[]folded{{a, "0", "0", "0.00000005", "0.00000001", "0.00000003", "0.00000001"}}, "0", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := profits(c.amounts...)
			got, l := Fold(c.ledger, in)
			r := RatioAt(c.ledger.Ratios, day(1))
			checkFolded(t, got, c.want, r)
			if !l.LossCarryforward.Equal(dec(c.carry)) || l.Awaiting != c.awaiting || len(l.Ratios) != len(c.ledger.Ratios) {
				t.Fatalf("ledger after %+v, want carry %s awaiting %v", l, c.carry, c.awaiting)
			}
			if l.LastPeriodEnd == nil || !l.LastPeriodEnd.Equal(day(len(c.amounts))) {
				t.Fatalf("last period end %v, want %v", l.LastPeriodEnd, day(len(c.amounts)))
			}
			if in[0].Status != "" {
				t.Fatal("Fold modified its input")
			}
		})
	}
}

// TestFoldReleasesWaitingProfitsInOrder: profits recorded before the first
// ratio wait, carry-forward untouched; the ratio, when it arrives, releases
// them in order from the carry-forward they left, as if it had been there
// all along.
func TestFoldReleasesWaitingProfitsInOrder(t *testing.T) {
	r := &Ratio{ID: 1, Version: 1, ToTeam: dec("0.5"), ToPlatform: dec("0.5"), ToUser: dec("0")}
	waiting, l := Fold(Ledger{LossCarryforward: dec("10")}, profits("50", "-80", "100"))
	for i, a := range waiting {
		if a.Status != StatusAwaitingRatio || !a.LossCarryforwardAfter.Equal(dec("10")) {
			t.Fatalf("before any ratio, profit %d: %+v", i, a)
		}
	}
	if !l.Awaiting || !l.LossCarryforward.Equal(dec("10")) {
		t.Fatalf("ledger while waiting: %+v", l)
	}
	// The release: the new ratio, nothing waiting any more.
	released, after := Fold(Ledger{LossCarryforward: l.LossCarryforward, Ratios: []Ratio{*r}}, waiting)
	checkFolded(t, released, []folded{
		{StatusAllocated, "10", "0", "40", "20", "20", "0"},
		{StatusNoDistribution, "0", "80", "0", "0", "0", "0"},
		{StatusAllocated, "80", "0", "20", "10", "10", "0"},
	}, r)
	direct, _ := Fold(Ledger{LossCarryforward: dec("10"), Ratios: []Ratio{*r}}, profits("50", "-80", "100"))
	checkFolded(t, direct, []folded{
		{StatusAllocated, "10", "0", "40", "20", "20", "0"},
		{StatusNoDistribution, "0", "80", "0", "0", "0", "0"},
		{StatusAllocated, "80", "0", "20", "10", "10", "0"},
	}, r)
	if after.Awaiting || !after.LossCarryforward.IsZero() {
		t.Fatalf("ledger after the release: %+v", after)
	}
}

// TestFoldRunEqualsOneAtATime: a run over several portfolios, folded at
// once, gives what folding each profit on its own from the ledger the
// previous one left gives, in the run's order.
func TestFoldRunEqualsOneAtATime(t *testing.T) {
	r := &Ratio{ID: 1, Version: 1, ToTeam: dec("0.1234"), ToPlatform: dec("0.0567"), ToUser: dec("0.8199")}
	ledgers := map[int64]Ledger{1: {Ratios: []Ratio{*r}}, 2: {LossCarryforward: dec("30"), Ratios: []Ratio{*r}}, 3: {}, 4: {Ratios: []Ratio{*r}}}
	var run []Allocation
	for i, s := range []string{"10", "-5", "40", "7", "-50", "60.12345678", "1", "25"} {
		a := NewAllocation(NewProfit{PortfolioID: int64(1 + i%3), Source: SourceNAV, PeriodEnd: day(1 + i), Amount: dec(s)})
		run = append(run, a)
	}
	got, after, err := FoldRun(ledgers, run)
	if err != nil {
		t.Fatal(err)
	}
	one := map[int64]Ledger{}
	for id, l := range ledgers {
		one[id] = l
	}
	for i, a := range run {
		want, l := Fold(one[a.PortfolioID], []Allocation{a})
		one[a.PortfolioID] = l
		checkFolded(t, got[i:i+1], []folded{{want[0].Status, want[0].LossCarryforwardBefore.String(),
			want[0].LossCarryforwardAfter.String(), want[0].Distributable.String(), want[0].ToTeam.String(),
			want[0].ToPlatform.String(), want[0].ToUser.String()}}, r)
	}
	for id, l := range one {
		if a := after[id]; !a.LossCarryforward.Equal(l.LossCarryforward) || a.Awaiting != l.Awaiting ||
			(a.LastPeriodEnd == nil) != (l.LastPeriodEnd == nil) || (a.LastPeriodEnd != nil && !a.LastPeriodEnd.Equal(*l.LastPeriodEnd)) {
			t.Errorf("portfolio %d: ledger %+v, one at a time %+v", id, a, l)
		}
	}
	if ledgers[1].LastPeriodEnd != nil {
		t.Fatal("FoldRun modified its ledgers")
	}
	if _, _, err := FoldRun(map[int64]Ledger{}, run[:1]); err == nil {
		t.Fatal("a profit without its portfolio's ledger folded")
	}
}

func TestAdmit(t *testing.T) {
	last := day(10)
	p := Portfolio{ID: 1, UserID: 7, TeamID: 3, LastPeriodEnd: &last}
	manual := NewProfit{PortfolioID: 1, Source: SourceManual, PeriodEnd: day(9), Amount: dec("5")}
	if _, err := Admit(p, manual); !errors.Is(err, ErrPeriodOutOfOrder) {
		t.Fatalf("a manual profit before the last period end: %v", err)
	}
	manual.PeriodEnd = day(10)
	if a, err := Admit(p, manual); err != nil || a.UserID != 7 || a.TeamID != 3 || a.Status != "" {
		t.Fatalf("a manual profit in order: %+v, %v (beneficiaries: the current owners)", a, err)
	}
	snap := int64(4)
	nav := NewProfit{PortfolioID: 1, Source: SourceNAV, SnapshotID: &snap, SourceEventID: "e", PeriodEnd: day(2), Amount: dec("5"), UserID: 8, TeamID: 4}
	if a, err := Admit(p, nav); err != nil || a.UserID != 8 || a.TeamID != 4 || *a.SnapshotID != 4 {
		t.Fatalf("a NAV profit out of order is admitted with its event's owners: %+v, %v", a, err)
	}
	if err := CheckNAV(nav); err != nil {
		t.Fatal(err)
	}
	// The currency: the portfolio's, unless the NAV profit's event says.
	p.Currency = "JPY"
	if a, _ := Admit(p, manual); a.Currency != "JPY" {
		t.Fatalf("a manual profit in %q, want the portfolio's JPY", a.Currency)
	}
	if a, _ := Admit(p, nav); a.Currency != "JPY" {
		t.Fatalf("a NAV profit whose event has no currency in %q, want the portfolio's JPY", a.Currency)
	}
	nav.Currency = "EUR"
	if a, _ := Admit(p, nav); a.Currency != "EUR" {
		t.Fatalf("a NAV profit whose event says EUR in %q", a.Currency)
	}
	nav.SourceEventID = ""
	if err := CheckNAV(nav); !errors.Is(err, ErrIncompleteNAVProfit) {
		t.Fatalf("a NAV profit without its event id: %v", err)
	}
}

// TestFoldRunEqualsOneAtATimeRandom: random runs over random ledgers (with
// and without a ratio, some already waiting), folded at once, equal the
// chain of Allocate calls one profit at a time: the profits of a portfolio
// wait from the first one without a ratio (or behind a waiting one) on.
func TestFoldRunEqualsOneAtATimeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261206, 3))
	for seq := 0; seq < 500; seq++ {
		ledgers := map[int64]Ledger{}
		for id := int64(1); id <= 4; id++ {
			l := Ledger{LossCarryforward: randomProfit(rng).Abs()}
			if rng.IntN(3) > 0 {
				l.Ratios = []Ratio{*randomRatio(rng)}
			}
			l.Awaiting = rng.IntN(5) == 0
			ledgers[id] = l
		}
		var run []Allocation
		for i := 0; i < rng.IntN(40); i++ {
			run = append(run, NewAllocation(NewProfit{PortfolioID: 1 + rng.Int64N(4), Source: SourceNAV,
				PeriodEnd: day(1).Add(time.Duration(i) * time.Hour), Amount: randomProfit(rng)}))
		}
		got, after, err := FoldRun(ledgers, run)
		if err != nil {
			t.Fatal(err)
		}
		chain := maps.Clone(ledgers)
		for i, a := range run {
			l := chain[a.PortfolioID]
			r := RatioAt(l.Ratios, a.PeriodEnd)
			o := Allocate(a.ProfitAmount, l.LossCarryforward, r)
			if l.Awaiting || r == nil {
				o = Allocate(a.ProfitAmount, l.LossCarryforward, nil)
				l.Awaiting = true
			}
			l.LossCarryforward = o.LossCarryforwardAfter
			chain[a.PortfolioID] = l
			g := got[i]
			if g.Status != o.Status || !g.LossCarryforwardBefore.Equal(o.LossCarryforwardBefore) ||
				!g.LossCarryforwardAfter.Equal(o.LossCarryforwardAfter) || !g.Distributable.Equal(o.Distributable) ||
				!g.ToTeam.Equal(o.ToTeam) || !g.ToPlatform.Equal(o.ToPlatform) || !g.ToUser.Equal(o.ToUser) {
				t.Fatalf("seq %d profit %d: %+v, want %+v", seq, i, g, o)
			}
		}
		for id, l := range chain {
			if !after[id].LossCarryforward.Equal(l.LossCarryforward) || after[id].Awaiting != l.Awaiting {
				t.Fatalf("seq %d portfolio %d: ledger %+v, want %+v", seq, id, after[id], l)
			}
		}
	}
}
