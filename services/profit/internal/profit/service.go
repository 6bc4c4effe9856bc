package profit

import (
	"context"
	"errors"
	"time"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/idempotency"
)

// Options configure the service.
type Options struct {
	Now func() time.Time
}

type service struct {
	store      Store
	portfolios Portfolios
	now        func() time.Time
}

// New returns the service; portfolios is asked about the portfolios the
// read model does not have yet.
func New(store Store, portfolios Portfolios, opts Options) Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &service{store: store, portfolios: portfolios, now: opts.Now}
}

// portfolio reads the portfolio from the read model. One it does not have
// yet — created a moment ago, its portfolio.created not consumed yet — is
// asked of the portfolio service with the caller's credentials and, if it
// exists there, recorded as its portfolio.created would record it: so a
// caller who has just created a portfolio can use it here at once
// (docs/api.md#profit-service). Nothing is recorded when the portfolio
// service does not know it or does not answer.
func (s *service) portfolio(ctx context.Context, c Caller, id int64) (Portfolio, error) {
	p, err := s.store.Portfolio(ctx, id)
	if !errors.Is(err, ErrPortfolioNotFound) {
		return p, err
	}
	o, err := s.portfolios.Owners(ctx, c.Credentials, id)
	if err != nil {
		return Portfolio{}, err
	}
	if err := s.store.AddPortfolio(ctx, o); err != nil {
		return Portfolio{}, err
	}
	return s.store.Portfolio(ctx, id)
}

// readable returns the portfolio if it exists and the caller may read it;
// a portfolio the caller may not see is ErrPortfolioNotFound, so ids
// cannot be probed.
func (s *service) readable(ctx context.Context, c Caller, id int64) (Portfolio, error) {
	if id <= 0 {
		return Portfolio{}, ErrPortfolioNotFound
	}
	p, err := s.portfolio(ctx, c, id)
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
		return httpx.Invalid("portfolio_id", "must be a positive integer")
	}
	return nil
}

func (s *service) CreateRatio(ctx context.Context, c Caller, in NewRatio) (Ratio, error) {
	if c.Role != auth.RoleAdmin {
		return Ratio{}, ErrForbidden
	}
	if err := validPortfolioID(in.PortfolioID); err != nil {
		return Ratio{}, err
	}
	if !ValidRatio(in.ToTeam, in.ToPlatform, in.ToUser) {
		return Ratio{}, ErrInvalidRatio
	}
	if _, err := s.portfolio(ctx, c, in.PortfolioID); err != nil {
		return Ratio{}, err
	}
	in.At = s.now()
	return s.store.CreateRatio(ctx, in, c.UserID)
}

func (s *service) ListRatios(ctx context.Context, c Caller, f RatioFilter, p httpx.Pagination) ([]Ratio, int64, error) {
	if f.PortfolioID == nil {
		if c.Role != auth.RoleAdmin && c.Role != auth.RoleViewer {
			return nil, 0, httpx.Invalid("portfolio_id", "is required")
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
	if c.Role != auth.RoleAdmin {
		return Allocation{}, ErrForbidden
	}
	if err := validPortfolioID(in.PortfolioID); err != nil {
		return Allocation{}, err
	}
	if in.Amount.IsZero() {
		return Allocation{}, &httpx.ValidationError{Code: "invalid_amount", Field: "profit_amount", Reason: "must not be 0"}
	}
	if in.PeriodEnd.IsZero() {
		return Allocation{}, httpx.Invalid("period_end", "is required")
	}
	if err := httpx.NotInFuture("period_end", in.PeriodEnd, s.now()); err != nil {
		return Allocation{}, err
	}
	// Checked before the operation starts, so an unknown portfolio is a
	// refusal that stores nothing under an Idempotency-Key (and so is a
	// portfolio service that does not answer); the store checks again
	// under the row lock.
	if _, err := s.portfolio(ctx, c, in.PortfolioID); err != nil {
		return Allocation{}, err
	}
	request, keyed := idempotency.Identity(ctx)
	return s.store.RecordManualProfit(ctx, NewProfit{
		PortfolioID: in.PortfolioID,
		Source:      SourceManual,
		PeriodEnd:   in.PeriodEnd.UTC().Truncate(time.Microsecond),
		Amount:      in.Amount,
		Key:         ManualKey(in.PortfolioID, request, keyed),
	})
}

func (s *service) ListAllocations(ctx context.Context, c Caller, f AllocationFilter, p httpx.Pagination) ([]Allocation, int64, error) {
	if f.From != nil && f.To != nil && f.To.Before(*f.From) {
		return nil, 0, httpx.Invalid("to", "must not be before from")
	}
	if f.PortfolioID != nil {
		if _, err := s.readable(ctx, c, *f.PortfolioID); err != nil {
			return nil, 0, err
		}
	}
	scope, ok := c.ListScope()
	if !ok {
		return nil, 0, ErrForbidden
	}
	f.ReadableBy = scope
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
