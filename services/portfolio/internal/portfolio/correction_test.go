package portfolio

import (
	"errors"
	"testing"
	"time"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
)

// A correction derives the snapshot's figures again from its predecessor
// with the new values; as_of, id and owners stay.
func TestCorrectSnapshot(t *testing.T) {
	prev := prevSnapshot("1000")
	at := t0.Add(24 * time.Hour)
	s := Snapshot{ID: 8, PortfolioID: 1, AsOf: at, NAV: money.MustAmount("1100"), Profit: money.MustAmount("100"),
		PrevSnapshotID: &prev.ID, UserID: 5, TeamID: 6}
	got, err := CorrectSnapshot(s, prev, NAVInput{NAV: dec("950"), NetFlow: dec("-10"), Units: decPtr("100")})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != 8 || !got.AsOf.Equal(at) || got.UserID != 5 || got.TeamID != 6 {
		t.Fatalf("identity changed: %+v", got)
	}
	if got.Profit.String() != "-40.00000000" || got.NAV.String() != "950.00000000" || got.NetFlow.String() != "-10.00000000" {
		t.Fatalf("profit %s nav %s net_flow %s", got.Profit, got.NAV, got.NetFlow)
	}
	if got.NAVPerUnit == nil || got.NAVPerUnit.String() != "9.50000000" || got.PeriodReturn == nil || got.PeriodReturn.String() != "-0.04040404" {
		t.Fatalf("per unit %v return %v", got.NAVPerUnit, got.PeriodReturn)
	}
	if s.Profit.String() != "100.00000000" {
		t.Fatal("the old snapshot was modified")
	}
	// as_of may be repeated, never moved.
	if _, err := CorrectSnapshot(s, prev, NAVInput{AsOf: at, NAV: dec("1")}); err != nil {
		t.Fatalf("same as_of: %v", err)
	}
	_, err = CorrectSnapshot(s, prev, NAVInput{AsOf: at.Add(time.Second), NAV: dec("1")})
	if ve, ok := errors.AsType[*httpx.ValidationError](err); !ok || ve.Field != "as_of" {
		t.Fatalf("moved as_of: %v", err)
	}
	// The baseline stays a baseline: profit 0 whatever its NAV.
	base, err := CorrectSnapshot(*prev, nil, NAVInput{NAV: dec("5")})
	if err != nil || !base.Profit.IsZero() || base.NAV.String() != "5.00000000" {
		t.Fatalf("baseline: %+v %v", base, err)
	}
}

// A correction publishes portfolio.nav_corrected only when the profit
// changed, with the old and the new profit.
func TestCorrectionEvents(t *testing.T) {
	prev := prevSnapshot("1000")
	old := Snapshot{ID: 8, PortfolioID: 1, AsOf: t0.Add(time.Hour), NAV: money.MustAmount("1100"), Profit: money.MustAmount("100"),
		UserID: 5, TeamID: 6, Currency: "EUR"}
	n := old
	n.NAV, n.Profit = money.MustAmount("900"), money.MustAmount("-100")
	events := CorrectionEvents(Correction{ID: 3, Old: old, New: n, Prev: prev})
	if len(events) != 1 || events[0].Type != eventbus.TypePortfolioNAVCorrected {
		t.Fatalf("events %+v", events)
	}
	d := events[0].Data.(NAVCorrectedData)
	if d.CorrectionID != 3 || d.SnapshotID != 8 || d.OldProfit.String() != "100.00000000" || d.Profit.String() != "-100.00000000" ||
		d.PrevNAV.String() != "1000.00000000" || d.UserID != 5 || d.TeamID != 6 || d.Currency != "EUR" {
		t.Fatalf("data %+v", d)
	}
	same := n
	same.Profit = old.Profit
	if e := CorrectionEvents(Correction{ID: 4, Old: old, New: same, Prev: prev}); len(e) != 0 {
		t.Fatalf("unchanged profit published %+v", e)
	}
	if e := CorrectionEvents(Correction{ID: 5, Old: *prev, New: *prev}); len(e) != 0 {
		t.Fatalf("baseline published %+v", e)
	}
}
