package profit

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/shopspring/decimal"
)

// Ledger is a portfolio's allocation state: what the allocation rule
// (docs/api.md#allocation-rule) reads before each profit and moves after
// it. The store reads it under the portfolio's row lock and writes back
// what Fold returns.
type Ledger struct {
	// LossCarryforward is the loss still to be recovered (>= 0).
	LossCarryforward decimal.Decimal
	// LastPeriodEnd is the latest period_end recorded (nil before the
	// first profit).
	LastPeriodEnd *time.Time
	// Ratios are the portfolio's ratio versions, oldest first (none before
	// the first); each profit gets RatioAt its period_end.
	Ratios []Ratio
	// Awaiting is whether a profit of the portfolio waits for a ratio.
	Awaiting bool
}

// NewAllocation is the not yet allocated allocation of a new profit: its
// portfolio, source, period, amount, beneficiaries and the currency its
// event carries ("" if none: Admit gives it the portfolio's). Fold decides
// the rest.
func NewAllocation(in NewProfit) Allocation {
	if in.Key == "" && in.Source == SourceNAV && in.SnapshotID != nil {
		in.Key = NAVKey(in.PortfolioID, *in.SnapshotID)
	}
	return Allocation{Key: in.Key, PortfolioID: in.PortfolioID, Source: in.Source, SnapshotID: in.SnapshotID,
		PeriodEnd: in.PeriodEnd.UTC(), ProfitAmount: in.Amount, UserID: in.UserID, TeamID: in.TeamID, Currency: in.Currency}
}

// Fold applies the allocation rule to a portfolio's profits in order,
// starting from l, and returns them with what the rule made of each
// (status, carry-forward before and after, distributable, the three
// shares, the ratio applied) and the ledger after the last one. It is the
// one place the rule runs, whatever the path:
//
//   - a profit recorded on its own (one profit);
//   - a run of NAV profits (each portfolio's profits of the run, in order);
//   - the release of the waiting profits by a new ratio (the waiting
//     profits in period_end, then id, order, from a ledger with the
//     portfolio's versions and Awaiting false).
//
// Each profit goes through Decide: it waits (awaiting_ratio, carry-forward
// untouched, no ratio) while the ledger has no ratio or a profit already
// waits, and from then on every later profit of the portfolio waits too;
// otherwise Allocate applies with the ratio version in effect at its
// period_end (RatioAt) and the ledger's carry-forward, and
// the carry-forward moves to the outcome's. LastPeriodEnd moves to the
// latest period_end seen. allocs is not modified.
func Fold(l Ledger, allocs []Allocation) ([]Allocation, Ledger) {
	out := make([]Allocation, len(allocs))
	for i, a := range allocs {
		r := RatioAt(l.Ratios, a.PeriodEnd)
		o := Decide(a.ProfitAmount, l.LossCarryforward, r, l.Awaiting)
		applyOutcome(&a, o, r)
		l.LossCarryforward = o.LossCarryforwardAfter
		if o.Status == StatusAwaitingRatio {
			l.Awaiting = true
		}
		if l.LastPeriodEnd == nil || a.PeriodEnd.After(*l.LastPeriodEnd) {
			end := a.PeriodEnd
			l.LastPeriodEnd = &end
		}
		out[i] = a
	}
	return out, l
}

// applyOutcome copies what the rule made of a profit into its allocation:
// the ratio applied is recorded unless the profit waits.
func applyOutcome(a *Allocation, o Outcome, r *Ratio) {
	a.Status = o.Status
	a.LossCarryforwardBefore, a.LossCarryforwardAfter = o.LossCarryforwardBefore, o.LossCarryforwardAfter
	a.Distributable, a.ToTeam, a.ToPlatform, a.ToUser = o.Distributable, o.ToTeam, o.ToPlatform, o.ToUser
	a.RatioID, a.RatioVersion = nil, nil
	if o.Status != StatusAwaitingRatio && r != nil {
		id, v := r.ID, r.Version
		a.RatioID, a.RatioVersion = &id, &v
	}
}

// ErrIncompleteNAVProfit is a NAV profit without what identifies it (its
// snapshot and event) or without its beneficiaries.
var ErrIncompleteNAVProfit = errors.New("a NAV profit needs a snapshot id, an event id and its owners")

// CheckNAV reports whether in is a complete NAV profit
// (ErrIncompleteNAVProfit otherwise).
func CheckNAV(in NewProfit) error {
	if in.Source != SourceNAV || in.SnapshotID == nil || in.SourceEventID == "" || in.UserID <= 0 || in.TeamID <= 0 {
		return ErrIncompleteNAVProfit
	}
	return nil
}

// Admit is the allocation, still to be folded, of a new profit in for
// portfolio p, or why it is refused (docs/api.md#allocation-rule):
//
//   - a manual profit whose period_end is earlier than the portfolio's
//     latest recorded one is ErrPeriodOutOfOrder (the carry-forward has
//     moved past it); its beneficiaries are the portfolio's current owners;
//   - a NAV profit is a fact already recorded by the portfolio service and
//     is never refused, whatever its period_end: it is applied on arrival,
//     to the carry-forward as it stands, with the owners its event carries.
//
// Its currency is the one the NAV profit's event carries (the portfolio
// service's word, which corrects a read model that had none, see
// Portfolio.Currency), else the portfolio's.
func Admit(p Portfolio, in NewProfit) (Allocation, error) {
	if in.Source == SourceManual {
		if !InOrder(p.LastPeriodEnd, in.PeriodEnd) {
			return Allocation{}, ErrPeriodOutOfOrder
		}
		in.UserID, in.TeamID = p.UserID, p.TeamID
	}
	a := NewAllocation(in)
	if a.Currency == "" {
		a.Currency = p.Currency
	}
	return a, nil
}

// FoldRun folds a run of profits of several portfolios: each portfolio's
// profits, in the order of allocs, through Fold from its ledger in
// ledgers. It returns the allocations in the order of allocs and the
// ledgers after the run (those of portfolios without a profit in the run
// unchanged). Folding the run at once or one profit at a time gives the
// same allocations and ledgers. ledgers is not modified; a profit of a
// portfolio without a ledger is an error.
func FoldRun(ledgers map[int64]Ledger, allocs []Allocation) ([]Allocation, map[int64]Ledger, error) {
	var order []int64
	indexes := map[int64][]int{}
	for i, a := range allocs {
		if _, ok := ledgers[a.PortfolioID]; !ok {
			return nil, nil, fmt.Errorf("no ledger for portfolio %d", a.PortfolioID)
		}
		if _, ok := indexes[a.PortfolioID]; !ok {
			order = append(order, a.PortfolioID)
		}
		indexes[a.PortfolioID] = append(indexes[a.PortfolioID], i)
	}
	out := make([]Allocation, len(allocs))
	after := maps.Clone(ledgers)
	for _, id := range order {
		mine := make([]Allocation, len(indexes[id]))
		for j, i := range indexes[id] {
			mine[j] = allocs[i]
		}
		folded, l := Fold(ledgers[id], mine)
		for j, i := range indexes[id] {
			out[i] = folded[j]
		}
		after[id] = l
	}
	return out, after, nil
}
