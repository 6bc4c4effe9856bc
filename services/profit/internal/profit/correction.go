package profit

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/money"
)

// SourceCorrection is an allocation that replaces one a NAV correction
// reversed (docs/api.md#nav-corrections).
const SourceCorrection = "correction"

// EventAllocationReversed is published for each allocation a NAV
// correction reverses.
const EventAllocationReversed = eventbus.TypeProfitAllocationReversed

// NAVCorrection is a portfolio.nav_corrected event: the snapshot's profit
// is now Profit (it was OldProfit).
type NAVCorrection struct {
	CorrectionID, PortfolioID, SnapshotID int64
	SourceEventID                         string
	PeriodEnd                             time.Time
	OldProfit, Profit                     decimal.Decimal
	UserID, TeamID                        int64
	Currency                              string
}

// Reversal is the reversal of an allocation by a NAV correction.
type Reversal struct {
	ID           int64
	CorrectionID int64
	Allocation   Allocation
}

// carries reports whether a is the allocation of snapshot id's profit
// (its NAV allocation, or the correction that replaced it).
func carries(a Allocation, id int64) bool { return a.SnapshotID != nil && *a.SnapshotID == id }

// Correct is what NAV correction c does to a portfolio's allocations
// (docs/api.md#nav-corrections). chain are the portfolio's live (not
// reversed) allocations from the corrected snapshot's on, in the order
// the rule applied them (period_end, then id): the snapshot's own first
// when it has one (a zero profit had none), then every later one. Each of
// them is reversed, and Correct returns their replacements, folded by the
// allocation rule from the carry-forward the first of them started from
// (l's when chain is empty): the corrected profit (none when it is 0,
// as a zero profit is never recorded), then each later profit again. So
// the portfolio ends as if the corrected NAV had been recorded in the
// first place. l carries the portfolio's ratio versions and whether a
// profit before the chain waits; the returned ledger is the portfolio's
// after the replacements.
func Correct(l Ledger, chain []Allocation, c NAVCorrection) ([]Allocation, Ledger) {
	if len(chain) > 0 {
		l.LossCarryforward = chain[0].LossCarryforwardBefore
	}
	var redo []Allocation
	rest := chain
	var own *int64
	if len(chain) > 0 && carries(chain[0], c.SnapshotID) {
		own, rest = &chain[0].ID, chain[1:]
	}
	if !c.Profit.IsZero() {
		snapshot := c.SnapshotID
		redo = append(redo, Allocation{PortfolioID: c.PortfolioID, Source: SourceCorrection, SnapshotID: &snapshot,
			Corrects: own, CorrectionID: c.CorrectionID, PeriodEnd: c.PeriodEnd.UTC(), ProfitAmount: c.Profit,
			UserID: c.UserID, TeamID: c.TeamID, Currency: c.Currency})
	}
	for _, a := range rest {
		id := a.ID
		redo = append(redo, Allocation{PortfolioID: a.PortfolioID, Source: SourceCorrection, SnapshotID: a.SnapshotID,
			Corrects: &id, CorrectionID: c.CorrectionID, PeriodEnd: a.PeriodEnd, ProfitAmount: a.ProfitAmount,
			UserID: a.UserID, TeamID: a.TeamID, Currency: a.Currency})
	}
	for i := range redo {
		redo[i].Key = eventbus.CorrectionAllocationKey(c.PortfolioID, c.CorrectionID, i)
	}
	return Fold(l, redo)
}

// ReversedEvents are the events of a reversal: one
// profit.allocation_reversed with the amounts the allocation credited.
func ReversedEvents(r Reversal) []Event {
	a := r.Allocation
	return []Event{{Type: EventAllocationReversed, PortfolioID: a.PortfolioID, Data: eventbus.AllocationReversedData{
		ReversalID: r.ID, AllocationID: a.ID, AllocationKey: a.Key, CorrectionID: r.CorrectionID, PortfolioID: a.PortfolioID,
		Source: a.Source, Status: a.Status, SnapshotID: a.SnapshotID, PeriodEnd: a.PeriodEnd.UTC(),
		ProfitAmount: money.NewAmount(a.ProfitAmount), CarryBefore: money.NewAmount(a.LossCarryforwardBefore),
		Distributable: money.NewAmount(a.Distributable),
		ToTeamAmount:  money.NewAmount(a.ToTeam), ToPlatformAmount: money.NewAmount(a.ToPlatform), ToUserAmount: money.NewAmount(a.ToUser),
		UserID: a.UserID, TeamID: a.TeamID, Currency: eventbus.EventCurrency(a.Currency),
	}}}
}
