package profit

import (
	"errors"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/money"
)

// Event types the service publishes on profit.events, keyed by the
// portfolio id (docs/api.md#events); their JSON Schemas are in
// libs/eventbus/schemas.
const (
	EventRatioChanged = eventbus.TypeProfitRatioChanged
	EventAllocated    = eventbus.TypeProfitAllocated
	EventOutcome      = eventbus.TypeProfitOutcomeRecorded
)

// Event is an event to publish: its type, the portfolio it is about (its
// key and subject) and its data. The store writes it to the outbox in the
// transaction of the change.
type Event struct {
	Type        string
	PortfolioID int64
	Data        any
}

// AllocatedData is the data of profit.allocated, declared once in
// libs/eventbus for the producer and its consumers; the alias keeps the
// name the service's tests use.
type AllocatedData = eventbus.AllocatedData

// ErrAllocatedWithoutRatio is an allocated allocation that does not say
// which ratio split it (a broken invariant: Fold always records it).
var ErrAllocatedWithoutRatio = errors.New("an allocated row without its ratio")

// RatioChangedEvents are the events of a new ratio: one
// profit.ratio_changed.
func RatioChangedEvents(r Ratio) []Event {
	return []Event{{Type: EventRatioChanged, PortfolioID: r.PortfolioID, Data: eventbus.RatioChangedData{
		PortfolioID: r.PortfolioID, RatioID: r.ID, Version: r.Version,
		ToTeam: money.Ratio{Decimal: r.ToTeam}, ToPlatform: money.Ratio{Decimal: r.ToPlatform}, ToUser: money.Ratio{Decimal: r.ToUser},
	}}}
}

// AllocatedEvents are the events of a recorded (or released) allocation:
// exactly one profit.allocated when it is allocated, one
// profit.outcome_recorded when a manual profit or loss, or the replacement
// of a reversed allocation (source correction), distributes nothing (a NAV
// one reaches stats through portfolio.profit_recorded), none while it
// waits for a ratio (docs/api.md#allocation-rule, docs/decisions.md,
// docs/api.md#nav-corrections).
func AllocatedEvents(a Allocation) ([]Event, error) {
	if a.Status == StatusNoDistribution && (a.Source == SourceManual || a.Source == SourceCorrection) {
		return []Event{{Type: EventOutcome, PortfolioID: a.PortfolioID, Data: eventbus.OutcomeRecordedData{
			AllocationID: a.ID, AllocationKey: a.Key, PortfolioID: a.PortfolioID, Source: a.Source, Status: a.Status,
			PeriodEnd: a.PeriodEnd.UTC(), ProfitAmount: money.NewAmount(a.ProfitAmount),
			LossCarryforwardBefore: money.NewAmount(a.LossCarryforwardBefore),
			LossCarryforwardAfter:  money.NewAmount(a.LossCarryforwardAfter),
			UserID:                 a.UserID, TeamID: a.TeamID, Currency: eventbus.EventCurrency(a.Currency),
		}}}, nil
	}
	if a.Status != StatusAllocated {
		return nil, nil
	}
	if a.RatioID == nil || a.RatioVersion == nil {
		return nil, ErrAllocatedWithoutRatio
	}
	return []Event{{Type: EventAllocated, PortfolioID: a.PortfolioID, Data: AllocatedData{
		AllocationID: a.ID, AllocationKey: eventKey(a), PortfolioID: a.PortfolioID, Source: a.Source, SnapshotID: a.SnapshotID,
		PeriodEnd:    a.PeriodEnd.UTC(),
		ProfitAmount: money.NewAmount(a.ProfitAmount), Distributable: money.NewAmount(a.Distributable),
		ToTeamAmount: money.NewAmount(a.ToTeam), ToPlatformAmount: money.NewAmount(a.ToPlatform), ToUserAmount: money.NewAmount(a.ToUser),
		UserID: a.UserID, TeamID: a.TeamID, RatioID: *a.RatioID, RatioVersion: *a.RatioVersion,
		Currency: eventbus.EventCurrency(a.Currency),
	}}}, nil
}

// eventKey is the allocation_key a profit.allocated carries: a manual
// profit's identity; none for a NAV profit, whose consumers derive it from
// the portfolio and snapshot (eventbus.AllocatedData.Key) — so the
// previous release's consumers, which refuse a data field they do not
// know, still take every NAV profit's event during a rolling upgrade.
func eventKey(a Allocation) string {
	if a.Source == SourceNAV {
		return ""
	}
	return a.Key
}
