package stats

import (
	"time"

	"github.com/shopspring/decimal"
)

// Reversal is what a profit.allocation_reversed event says
// (docs/api.md#nav-corrections): the allocation whose effects are taken
// back (Manual: its profit was counted with it, not by
// portfolio.profit_recorded), whether it was still waiting for a ratio,
// and the carry-forward it started from.
type Reversal struct {
	Allocation
	Awaiting    bool
	CarryBefore decimal.Decimal
}

// reversed takes back what the reversed allocation added: its profit
// where it was counted (a NAV profit by portfolio.profit_recorded, any
// other by its allocation or outcome; a waiting one's not yet), and its
// distributed amount, shares and credits; the portfolio's carry-forward
// becomes the one the allocation started from (a correction's reversals
// come latest first, so the last is the earliest's), which its
// replacements then move on. Applied once by the inbox's event id.
func (a *accumulator) reversed(r Reversal, at time.Time) error {
	al := r.Allocation
	profit := al.Profit
	if r.Awaiting && al.Manual {
		profit = decimal.Zero
	}
	cur := a.currencyOf(al.PortfolioID, al.Currency)
	if al.Distributable.IsPositive() {
		a.adds.Overview.Allocations--
	}
	o := a.money(cur)
	o.Profit, o.Distributed = o.Profit.Sub(profit), o.Distributed.Sub(al.Distributable)
	o.ToTeam, o.ToPlatform, o.ToUser = o.ToTeam.Sub(al.ToTeam), o.ToPlatform.Sub(al.ToPlatform), o.ToUser.Sub(al.ToUser)
	t := a.total(al.PortfolioID, cur)
	t.AccProfit, t.Distributed = t.AccProfit.Sub(profit), t.Distributed.Sub(al.Distributable)
	t.ToTeam, t.ToPlatform, t.ToUser = t.ToTeam.Sub(al.ToTeam), t.ToPlatform.Sub(al.ToPlatform), t.ToUser.Sub(al.ToUser)
	t.seen(at)
	neg := al
	neg.ToUser, neg.ToTeam, neg.ToPlatform = al.ToUser.Neg(), al.ToTeam.Neg(), al.ToPlatform.Neg()
	a.credit(neg, cur)
	for _, k := range summaryKeys(al.PortfolioID, al.UserID, al.TeamID, cur) {
		s := a.summaryRow(k, al.PeriodEnd)
		s.Profit, s.Distributed = s.Profit.Sub(profit), s.Distributed.Sub(al.Distributable)
		s.ToTeam, s.ToPlatform, s.ToUser = s.ToTeam.Sub(al.ToTeam), s.ToPlatform.Sub(al.ToPlatform), s.ToUser.Sub(al.ToUser)
	}
	before, ok := a.carry[al.PortfolioID]
	if !ok {
		return errCarryNotLoaded(al.PortfolioID)
	}
	a.carry[al.PortfolioID] = r.CarryBefore
	o.LossCarry = o.LossCarry.Add(r.CarryBefore.Sub(before))
	return nil
}
