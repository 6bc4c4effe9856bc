package portfolio

import "github.com/fundplatform/platform/libs/eventbus"

// Event types this service publishes on portfolio.events (docs/api.md#events);
// their JSON Schemas are in libs/eventbus/schemas.
const (
	EventCreated        = eventbus.TypePortfolioCreated
	EventUpdated        = eventbus.TypePortfolioUpdated
	EventProfitRecorded = eventbus.TypePortfolioProfitRecorded
)

// The data of the events, declared once in libs/eventbus for the producer
// and its consumers; the aliases keep the names the service's tests use.
type (
	PortfolioData      = eventbus.PortfolioData
	ProfitRecordedData = eventbus.ProfitRecordedData
)

func portfolioEvent(eventType string, p Portfolio) Event {
	return Event{Type: eventType, PortfolioID: p.ID, Data: PortfolioData{
		PortfolioID: p.ID, Name: p.Name, UserID: p.UserID, TeamID: p.TeamID, Currency: p.Currency,
	}}
}

// CreatedEvents are the events of a new portfolio.
func CreatedEvents(p Portfolio) []Event { return []Event{portfolioEvent(EventCreated, p)} }

// UpdatedEvents are the events of a changed portfolio.
func UpdatedEvents(p Portfolio) []Event { return []Event{portfolioEvent(EventUpdated, p)} }

// SnapshotEvents are the events of a recorded snapshot: exactly one
// portfolio.profit_recorded when its profit is not zero, none otherwise
// (the baseline and a period without profit distribute nothing). prev is
// the snapshot s follows.
func SnapshotEvents(prev *Snapshot, s Snapshot) []Event {
	if prev == nil || s.Profit.IsZero() {
		return nil
	}
	return []Event{{Type: EventProfitRecorded, PortfolioID: s.PortfolioID, Data: ProfitRecordedData{
		PortfolioID: s.PortfolioID,
		SnapshotID:  s.ID,
		UserID:      s.UserID,
		TeamID:      s.TeamID,
		AsOf:        s.AsOf.UTC(),
		PeriodEnd:   s.AsOf.UTC(),
		Profit:      s.Profit,
		NAV:         s.NAV,
		PrevNAV:     prev.NAV,
		NetFlow:     s.NetFlow,
		Currency:    eventbus.EventCurrency(s.Currency),
	}}}
}
