package portfolio

import (
	"context"
	"errors"
	"time"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
)

// EventNAVCorrected is published when the latest snapshot's values are
// corrected and its profit changes (docs/api.md#nav-corrections).
const EventNAVCorrected = eventbus.TypePortfolioNAVCorrected

// NAVCorrectedData is the data of portfolio.nav_corrected.
type NAVCorrectedData = eventbus.NAVCorrectedData

// Errors of a NAV correction.
var (
	ErrSnapshotNotFound = errors.New("snapshot not found")
	ErrNAVNotLatest     = errors.New("only the portfolio's latest snapshot can be corrected")
)

// Correction is a stored NAV correction: the snapshot as it was (Old) and
// as it is now (New). The old values stay in the correction's row: a
// snapshot's values are never replaced without a trace.
type Correction struct {
	ID        int64
	Old, New  Snapshot
	Prev      *Snapshot // the snapshot the corrected one follows (nil for the baseline)
	CreatedBy int64
	CreatedAt time.Time
}

// CorrectSnapshot is s with the values of in, derived again from prev by
// the NAV rules (Valuate): nav, net_flow and units are replaced, as_of and
// the owners stay. in.AsOf, when set, must be s's: a correction changes a
// valuation's values, not its instant.
func CorrectSnapshot(s Snapshot, prev *Snapshot, in NAVInput) (Snapshot, error) {
	if !in.AsOf.IsZero() && !in.AsOf.Equal(s.AsOf) {
		return Snapshot{}, httpx.Invalid("as_of", "must be the snapshot's as_of: a correction changes its values only")
	}
	in.AsOf = s.AsOf
	v, err := Valuate(prev, in)
	if err != nil {
		return Snapshot{}, err
	}
	out := s
	out.NAV, out.NetFlow, out.Units = money.NewAmount(in.NAV), money.NewAmount(in.NetFlow), amountPtr(in.Units)
	out.NAVPerUnit, out.Profit, out.PeriodReturn = amountPtr(v.NAVPerUnit), money.NewAmount(v.Profit), amountPtr(v.PeriodReturn)
	return out, nil
}

// CorrectionEvents are the events of a stored correction: one
// portfolio.nav_corrected when the snapshot's profit changed, none
// otherwise (the baseline's profit is always 0; a correction that keeps
// the profit changes no allocation).
func CorrectionEvents(c Correction) []Event {
	if c.Prev == nil || c.Old.Profit.Equal(c.New.Profit.Decimal) {
		return nil
	}
	s := c.New
	return []Event{{Type: EventNAVCorrected, PortfolioID: s.PortfolioID, Data: NAVCorrectedData{
		CorrectionID: c.ID,
		PortfolioID:  s.PortfolioID,
		SnapshotID:   s.ID,
		UserID:       s.UserID,
		TeamID:       s.TeamID,
		AsOf:         s.AsOf.UTC(),
		PeriodEnd:    s.AsOf.UTC(),
		OldProfit:    c.Old.Profit,
		Profit:       s.Profit,
		NAV:          s.NAV,
		PrevNAV:      c.Prev.NAV,
		NetFlow:      s.NetFlow,
		Currency:     eventbus.EventCurrency(s.Currency),
	}}}
}

// CorrectNAV replaces the values of the portfolio's latest snapshot
// (docs/api.md#nav-corrections): admin only; ErrSnapshotNotFound when the
// snapshot is not the portfolio's, ErrNAVNotLatest when a later one exists.
func (s *service) CorrectNAV(ctx context.Context, c Caller, portfolioID, snapshotID int64, in NAVInput) (Snapshot, error) {
	// Everything that can refuse the request without touching it comes
	// first, so that a refusal stores nothing under an Idempotency-Key.
	if _, err := s.visible(ctx, c, portfolioID); err != nil {
		return Snapshot{}, err
	}
	if c.Role != auth.RoleAdmin {
		return Snapshot{}, ErrForbidden
	}
	check := in
	if check.AsOf.IsZero() {
		check.AsOf = s.now() // as_of is optional here; Validate checks the values
	}
	if err := check.Validate(); err != nil {
		return Snapshot{}, err
	}
	now := s.now()
	c2, err := s.store.CorrectNAV(ctx, portfolioID, snapshotID, func(old Snapshot, prev *Snapshot) (Correction, error) {
		corrected, err := CorrectSnapshot(old, prev, in)
		return Correction{Old: old, New: corrected, Prev: prev, CreatedBy: c.UserID, CreatedAt: now}, err
	}, CorrectionEvents)
	return c2.New, err
}
