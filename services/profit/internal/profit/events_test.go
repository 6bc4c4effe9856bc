package profit

import (
	"errors"
	"testing"

	"github.com/fundplatform/platform/libs/eventbus"
)

func TestEventTypesAreTheBusTypes(t *testing.T) {
	if EventRatioChanged != eventbus.TypeProfitRatioChanged || EventAllocated != eventbus.TypeProfitAllocated {
		t.Fatal("event types differ from libs/eventbus")
	}
}

// TestAllocatedEvents: exactly one profit.allocated per allocated
// allocation, none for the others (docs/api.md#allocation-rule).
func TestAllocatedEvents(t *testing.T) {
	r := &Ratio{ID: 5, Version: 2, ToTeam: dec("0.2"), ToPlatform: dec("0.1"), ToUser: dec("0.7")}
	folded, _ := Fold(Ledger{Ratios: []Ratio{*r}}, profits("100", "-50", "20"))
	folded[0].ID, folded[0].Currency = 11, "JPY"
	events, err := AllocatedEvents(folded[0])
	if err != nil || len(events) != 1 || events[0].Type != EventAllocated || events[0].PortfolioID != 1 {
		t.Fatalf("allocated: %+v, %v", events, err)
	}
	d := events[0].Data.(AllocatedData)
	if d.AllocationID != 11 || d.RatioID != 5 || d.RatioVersion != 2 || d.ToTeamAmount.String() != "20.00000000" ||
		d.ToPlatformAmount.String() != "10.00000000" || d.ToUserAmount.String() != "70.00000000" || d.UserID != 7 || d.TeamID != 3 ||
		d.Currency != "JPY" {
		t.Fatalf("profit.allocated data %+v", d)
	}
	folded[0].Currency = "USD" // the base currency is omitted (eventbus.EventCurrency)
	if events, _ := AllocatedEvents(folded[0]); events[0].Data.(AllocatedData).Currency != "" {
		t.Fatalf("profit.allocated in USD carries %q, want none", events[0].Data.(AllocatedData).Currency)
	}
	for _, a := range folded[1:] {
		if events, err := AllocatedEvents(a); err != nil || len(events) != 0 {
			t.Fatalf("%s: %+v, %v", a.Status, events, err)
		}
	}
	waiting, _ := Fold(Ledger{}, profits("100"))
	if events, err := AllocatedEvents(waiting[0]); err != nil || len(events) != 0 {
		t.Fatalf("awaiting_ratio: %+v, %v", events, err)
	}
	folded[0].RatioID = nil
	if _, err := AllocatedEvents(folded[0]); !errors.Is(err, ErrAllocatedWithoutRatio) {
		t.Fatalf("allocated without its ratio: %v", err)
	}
	if e := RatioChangedEvents(*r); len(e) != 1 || e[0].Type != EventRatioChanged || e[0].Data.(eventbus.RatioChangedData).Version != 2 {
		t.Fatalf("ratio changed: %+v", e)
	}
}
