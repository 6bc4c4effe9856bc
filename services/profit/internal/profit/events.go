package profit

import (
	"errors"
	"time"

	"github.com/fundplatform/platform/libs/money"
)

// Event types the service publishes on profit.events, keyed by the
// portfolio id (docs/api.md#events); their JSON Schemas are in
// libs/eventbus/schemas.
const (
	EventRatioChanged = "profit.ratio_changed"
	EventAllocated    = "profit.allocated"
)

// Event is an event to publish: its type, the portfolio it is about (its
// key and subject) and its data. The store writes it to the outbox in the
// transaction of the change.
type Event struct {
	Type        string
	PortfolioID int64
	Data        any
}

// RatioChangedData is the data of profit.ratio_changed.
type RatioChangedData struct {
	PortfolioID int64       `json:"portfolio_id"`
	RatioID     int64       `json:"ratio_id"`
	Version     int         `json:"version"`
	ToTeam      money.Ratio `json:"to_team"`
	ToPlatform  money.Ratio `json:"to_platform"`
	ToUser      money.Ratio `json:"to_user"`
}

// AllocatedData is the data of profit.allocated.
type AllocatedData struct {
	AllocationID     int64        `json:"allocation_id"`
	PortfolioID      int64        `json:"portfolio_id"`
	Source           string       `json:"source"`
	SnapshotID       *int64       `json:"snapshot_id"`
	PeriodEnd        time.Time    `json:"period_end"`
	ProfitAmount     money.Amount `json:"profit_amount"`
	Distributable    money.Amount `json:"distributable"`
	ToTeamAmount     money.Amount `json:"to_team_amount"`
	ToPlatformAmount money.Amount `json:"to_platform_amount"`
	ToUserAmount     money.Amount `json:"to_user_amount"`
	UserID           int64        `json:"user_id"`
	TeamID           int64        `json:"team_id"`
	RatioID          int64        `json:"ratio_id"`
	RatioVersion     int          `json:"ratio_version"`
}

// ErrAllocatedWithoutRatio is an allocated allocation that does not say
// which ratio split it (a broken invariant: Fold always records it).
var ErrAllocatedWithoutRatio = errors.New("an allocated row without its ratio")

// RatioChangedEvents are the events of a new ratio: one
// profit.ratio_changed.
func RatioChangedEvents(r Ratio) []Event {
	return []Event{{Type: EventRatioChanged, PortfolioID: r.PortfolioID, Data: RatioChangedData{
		PortfolioID: r.PortfolioID, RatioID: r.ID, Version: r.Version,
		ToTeam: money.Ratio{Decimal: r.ToTeam}, ToPlatform: money.Ratio{Decimal: r.ToPlatform}, ToUser: money.Ratio{Decimal: r.ToUser},
	}}}
}

// AllocatedEvents are the events of a recorded (or released) allocation:
// exactly one profit.allocated when it is allocated, none when it
// distributes nothing or waits for a ratio (docs/api.md#allocation-rule).
func AllocatedEvents(a Allocation) ([]Event, error) {
	if a.Status != StatusAllocated {
		return nil, nil
	}
	if a.RatioID == nil || a.RatioVersion == nil {
		return nil, ErrAllocatedWithoutRatio
	}
	return []Event{{Type: EventAllocated, PortfolioID: a.PortfolioID, Data: AllocatedData{
		AllocationID: a.ID, PortfolioID: a.PortfolioID, Source: a.Source, SnapshotID: a.SnapshotID,
		PeriodEnd:    a.PeriodEnd.UTC(),
		ProfitAmount: money.NewAmount(a.ProfitAmount), Distributable: money.NewAmount(a.Distributable),
		ToTeamAmount: money.NewAmount(a.ToTeam), ToPlatformAmount: money.NewAmount(a.ToPlatform), ToUserAmount: money.NewAmount(a.ToUser),
		UserID: a.UserID, TeamID: a.TeamID, RatioID: *a.RatioID, RatioVersion: *a.RatioVersion,
	}}}, nil
}
