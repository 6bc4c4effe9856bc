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

// TestOutcomeEvents: a manual loss and a manual profit absorbed by the
// carry-forward each publish one profit.outcome_recorded with the
// carry-forward before and after; a manual profit that waits publishes
// nothing until it is allocated (docs/decisions.md).
func TestOutcomeEvents(t *testing.T) {
	if EventOutcome != eventbus.TypeProfitOutcomeRecorded {
		t.Fatal("outcome event type differs from libs/eventbus")
	}
	manual := profits("-50", "20", "100")
	for i := range manual {
		manual[i].Source = SourceManual
	}
	r := Ratio{ID: 5, Version: 2, ToTeam: dec("0.2"), ToPlatform: dec("0.1"), ToUser: dec("0.7")}
	folded, _ := Fold(Ledger{Ratios: []Ratio{r}}, manual)
	want := []struct{ profit, before, after string }{{"-50.00000000", "0.00000000", "50.00000000"}, {"20.00000000", "50.00000000", "30.00000000"}}
	for i, w := range want {
		folded[i].ID, folded[i].Currency = int64(20+i), "JPY"
		events, err := AllocatedEvents(folded[i])
		if err != nil || len(events) != 1 || events[0].Type != EventOutcome || events[0].PortfolioID != 1 {
			t.Fatalf("manual %s: %+v, %v", w.profit, events, err)
		}
		d := events[0].Data.(eventbus.OutcomeRecordedData)
		if d.AllocationID != int64(20+i) || d.Source != SourceManual || d.Status != StatusNoDistribution || d.ProfitAmount.String() != w.profit ||
			d.LossCarryforwardBefore.String() != w.before || d.LossCarryforwardAfter.String() != w.after ||
			d.UserID != 7 || d.TeamID != 3 || d.Currency != "JPY" || !d.PeriodEnd.Equal(folded[i].PeriodEnd) {
			t.Fatalf("profit.outcome_recorded data %+v", d)
		}
	}
	if events, _ := AllocatedEvents(folded[2]); len(events) != 1 || events[0].Type != EventAllocated {
		t.Fatalf("an allocated manual profit: %+v", events)
	}
	waiting, _ := Fold(Ledger{}, manual)
	for _, a := range waiting {
		if events, err := AllocatedEvents(a); err != nil || len(events) != 0 {
			t.Fatalf("awaiting_ratio: %+v, %v", events, err)
		}
	}
}
