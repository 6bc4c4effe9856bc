package stats

import (
	"context"
	"slices"
	"time"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
)

// Service answers the stats routes for an authenticated caller.
type Service interface {
	Overview(ctx context.Context, c Caller) (Overview, error)
	ListAccProfit(ctx context.Context, c Caller, p httpx.Pagination) ([]PortfolioTotals, int64, error)
	AccProfit(ctx context.Context, c Caller, portfolioID int64) (PortfolioTotals, error)
	Hourly(ctx context.Context, c Caller, o Owner, r Range) ([]HourlyProfit, error)
	Summary(ctx context.Context, c Caller, groupBy string, r Range) ([]SummaryRow, error)
	// Freshness is the time of the newest event applied, or the Unix epoch
	// before any.
	Freshness(ctx context.Context) (time.Time, error)
	// Apply applies a run of consumed events, in order, to the read
	// models through rs, the store bound to the consumer's transaction
	// (ApplyRun).
	Apply(ctx context.Context, rs RunStore, events []Event) error
}

type service struct{ store Store }

// New returns the service.
func New(store Store) Service { return &service{store: store} }

func (s *service) Overview(ctx context.Context, c Caller) (Overview, error) {
	if !c.Privileged() {
		return Overview{}, ErrForbidden
	}
	return s.store.Overview(ctx)
}

func (s *service) ListAccProfit(ctx context.Context, c Caller, p httpx.Pagination) ([]PortfolioTotals, int64, error) {
	switch c.Role {
	case auth.RoleAdmin, auth.RoleViewer:
		return s.store.ListPortfolioTotals(ctx, nil, p)
	case auth.RoleUser:
		return s.store.ListPortfolioTotals(ctx, &c, p)
	}
	return nil, 0, ErrForbidden
}

// AccProfit: admins and viewers get any portfolio's totals (zeros when
// nothing is known of it yet); a user only those of a portfolio the owners
// read model says it may read, else ErrPortfolioNotFound.
func (s *service) AccProfit(ctx context.Context, c Caller, portfolioID int64) (PortfolioTotals, error) {
	if portfolioID <= 0 {
		return PortfolioTotals{}, ErrPortfolioNotFound
	}
	if !c.Privileged() {
		o, err := s.store.PortfolioOwners(ctx, portfolioID)
		if err != nil {
			return PortfolioTotals{}, err
		}
		if !c.CanReadOwned(o.UserID, o.TeamID) {
			return PortfolioTotals{}, ErrPortfolioNotFound
		}
	}
	return s.store.PortfolioTotals(ctx, portfolioID)
}

func validRange(r Range) error {
	if r.From != nil && r.To != nil && r.To.Before(*r.From) {
		return httpx.Invalid("to", "must not be before from")
	}
	return nil
}

func (s *service) Hourly(ctx context.Context, c Caller, o Owner, r Range) ([]HourlyProfit, error) {
	switch o.Type {
	case OwnerUser, OwnerTeam:
		if o.ID <= 0 {
			return nil, httpx.Invalid("owner_id", "is required and must be a positive integer for "+o.Type)
		}
	case OwnerPlatform:
		if o.ID != 0 {
			return nil, httpx.Invalid("owner_id", "must be omitted or 0 for platform")
		}
	default:
		return nil, httpx.Invalid("owner_type", "must be user, team or platform")
	}
	if err := validRange(r); err != nil {
		return nil, err
	}
	if !c.CanReadAccount(o.Type, o.ID) {
		return nil, ErrNotFound
	}
	return s.store.Hourly(ctx, o, r)
}

func (s *service) Summary(ctx context.Context, c Caller, groupBy string, r Range) ([]SummaryRow, error) {
	if !c.Privileged() {
		return nil, ErrForbidden
	}
	if !slices.Contains(GroupBys, groupBy) {
		return nil, httpx.Invalid("group_by", "must be portfolio, team, user, day or hour")
	}
	if err := validRange(r); err != nil {
		return nil, err
	}
	return s.store.Summary(ctx, groupBy, r)
}

func (s *service) Freshness(ctx context.Context) (time.Time, error) {
	t, err := s.store.LastEventAt(ctx)
	if err != nil || t == nil {
		return time.Unix(0, 0).UTC(), err
	}
	return t.UTC(), nil
}

func (s *service) Apply(ctx context.Context, rs RunStore, events []Event) error {
	return ApplyRun(ctx, rs, events)
}
