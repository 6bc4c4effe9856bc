package portfolio

import (
	"time"

	"github.com/fundplatform/platform/libs/money"
)

// Event types this service publishes on portfolio.events (docs/api.md#events);
// their JSON Schemas are in libs/eventbus/schemas.
const (
	EventCreated        = "portfolio.created"
	EventUpdated        = "portfolio.updated"
	EventProfitRecorded = "portfolio.profit_recorded"
)

// PortfolioData is the data of portfolio.created and portfolio.updated:
// the portfolio as it now is.
type PortfolioData struct {
	PortfolioID int64  `json:"portfolio_id"`
	Name        string `json:"name"`
	UserID      int64  `json:"user_id"`
	TeamID      int64  `json:"team_id"`
	Currency    string `json:"currency"`
}

// ProfitRecordedData is the data of portfolio.profit_recorded: a snapshot's
// non-zero profit and the owners it belongs to (those at as_of).
type ProfitRecordedData struct {
	PortfolioID int64        `json:"portfolio_id"`
	SnapshotID  int64        `json:"snapshot_id"`
	UserID      int64        `json:"user_id"`
	TeamID      int64        `json:"team_id"`
	AsOf        time.Time    `json:"as_of"`
	PeriodEnd   time.Time    `json:"period_end"`
	Profit      money.Amount `json:"profit"`
	NAV         money.Amount `json:"nav"`
	PrevNAV     money.Amount `json:"prev_nav"`
	NetFlow     money.Amount `json:"net_flow"`
}

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
	}}}
}
