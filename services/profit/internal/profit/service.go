package profit

import (
	"context"
	"errors"
	"time"

	"github.com/fundplatform/platform/libs/httpx"
)

// Options configure the service.
type Options struct {
	Now func() time.Time
}

type service struct {
	store Store
	now   func() time.Time
}

// New returns the service.
func New(store Store, opts Options) Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &service{store: store, now: opts.Now}
}

// readable returns the portfolio if it exists and the caller may read it;
// a portfolio the caller may not see is ErrPortfolioNotFound, so ids
// cannot be probed.
func (s *service) readable(ctx context.Context, c Caller, id int64) (Portfolio, error) {
	if id <= 0 {
		return Portfolio{}, ErrPortfolioNotFound
	}
	p, err := s.store.Portfolio(ctx, id)
	if err != nil {
		return Portfolio{}, err
	}
	if !c.CanReadOwned(p.UserID, p.TeamID) {
		return Portfolio{}, ErrPortfolioNotFound
	}
	return p, nil
}

func validPortfolioID(id int64) error {
	if id <= 0 {
		return invalid("portfolio_id", "must be a positive integer")
	}
	return nil
}

func (s *service) CreateRatio(ctx context.Context, c Caller, in NewRatio) (Ratio, error) {
	if c.Role != RoleAdmin {
		return Ratio{}, ErrForbidden
	}
	if err := validPortfolioID(in.PortfolioID); err != nil {
		return Ratio{}, err
	}
	if !ValidRatio(in.ToTeam, in.ToPlatform, in.ToUser) {
		return Ratio{}, ErrInvalidRatio
	}
	in.At = s.now()
	return s.store.CreateRatio(ctx, in, c.UserID)
}

func (s *service) ListRatios(ctx context.Context, c Caller, f RatioFilter, p Page) ([]Ratio, int64, error) {
	if f.PortfolioID == nil {
		if c.Role != RoleAdmin && c.Role != RoleViewer {
			return nil, 0, invalid("portfolio_id", "is required")
		}
	} else if _, err := s.readable(ctx, c, *f.PortfolioID); err != nil {
		return nil, 0, err
	}
	return s.store.ListRatios(ctx, f, p)
}

func (s *service) CurrentRatio(ctx context.Context, c Caller, portfolioID int64) (Ratio, error) {
	if _, err := s.readable(ctx, c, portfolioID); err != nil {
		return Ratio{}, err
	}
	return s.store.CurrentRatio(ctx, portfolioID)
}

func (s *service) RecordManualProfit(ctx context.Context, c Caller, in ManualProfit) (Allocation, error) {
	if c.Role != RoleAdmin {
		return Allocation{}, ErrForbidden
	}
	if err := validPortfolioID(in.PortfolioID); err != nil {
		return Allocation{}, err
	}
	if in.Amount.IsZero() {
		return Allocation{}, &ValidationError{Code: "invalid_amount", Field: "profit_amount", Reason: "must not be 0"}
	}
	if in.PeriodEnd.IsZero() {
		return Allocation{}, invalid("period_end", "is required")
	}
	if err := httpx.NotInFuture("period_end", in.PeriodEnd, s.now()); err != nil {
		return Allocation{}, err
	}
	// Checked before the operation starts, so an unknown portfolio is a
	// refusal that stores nothing under an Idempotency-Key; the store
	// checks again under the row lock.
	if _, err := s.store.Portfolio(ctx, in.PortfolioID); err != nil {
		return Allocation{}, err
	}
	return s.store.RecordManualProfit(ctx, NewProfit{
		PortfolioID: in.PortfolioID,
		Source:      SourceManual,
		PeriodEnd:   in.PeriodEnd.UTC().Truncate(time.Microsecond),
		Amount:      in.Amount,
	})
}

func (s *service) ListAllocations(ctx context.Context, c Caller, f AllocationFilter, p Page) ([]Allocation, int64, error) {
	if f.From != nil && f.To != nil && f.To.Before(*f.From) {
		return nil, 0, invalid("to", "must not be before from")
	}
	if f.PortfolioID != nil {
		if _, err := s.readable(ctx, c, *f.PortfolioID); err != nil {
			return nil, 0, err
		}
	}
	switch c.Role {
	case RoleAdmin, RoleViewer:
	case RoleUser:
		f.ReadableBy = &c
	default:
		return nil, 0, ErrForbidden
	}
	return s.store.ListAllocations(ctx, f, p)
}

func (s *service) GetAllocation(ctx context.Context, c Caller, id int64) (Allocation, error) {
	a, err := s.store.Allocation(ctx, id)
	if err != nil {
		return Allocation{}, err
	}
	if _, err := s.readable(ctx, c, a.PortfolioID); err != nil {
		if errors.Is(err, ErrPortfolioNotFound) {
			return Allocation{}, ErrAllocationNotFound
		}
		return Allocation{}, err
	}
	return a, nil
}
