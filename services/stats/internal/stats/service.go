package stats

import (
	"context"
	"regexp"
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
	// Hourly and Summary answer every currency, or only currency when it
	// is not "".
	Hourly(ctx context.Context, c Caller, o Owner, currency string, r Range, p httpx.Pagination) ([]HourlyProfit, int64, error)
	Summary(ctx context.Context, c Caller, groupBy, currency string, r Range, p httpx.Pagination) ([]SummaryRow, int64, error)
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
	scope, ok := c.ListScope()
	if !ok {
		return nil, 0, ErrForbidden
	}
	return s.store.ListPortfolioTotals(ctx, scope, p)
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

// MaxRange is the longest range with both bounds that hourly and summary
// reads accept (docs/api.md#stats-service): such a read aggregates every
// hour in it, so its cost is bounded; their answers are pages.
const MaxRange = 366 * 24 * time.Hour

func validRange(r Range) error {
	if r.From != nil && r.To != nil {
		if r.To.Before(*r.From) {
			return httpx.Invalid("to", "must not be before from")
		}
		if r.To.Sub(*r.From) > MaxRange {
			return httpx.Invalid("to", "must be at most 366 days after from")
		}
	}
	return nil
}

// validCurrency checks a currency filter: none, or an ISO 4217 code (three
// upper-case letters; an unknown code matches no row).
func validCurrency(currency string) error {
	if currency != "" && !currencyCode.MatchString(currency) {
		return httpx.Invalid("currency", "must be an ISO 4217 code of three upper-case letters")
	}
	return nil
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

func (s *service) Hourly(ctx context.Context, c Caller, o Owner, currency string, r Range, p httpx.Pagination) ([]HourlyProfit, int64, error) {
	switch o.Type {
	case auth.OwnerUser, auth.OwnerTeam:
		if o.ID <= 0 {
			return nil, 0, httpx.Invalid("owner_id", "is required and must be a positive integer for "+o.Type)
		}
	case auth.OwnerPlatform:
		if o.ID != 0 {
			return nil, 0, httpx.Invalid("owner_id", "must be omitted or 0 for platform")
		}
	default:
		return nil, 0, httpx.Invalid("owner_type", "must be user, team or platform")
	}
	if err := validCurrency(currency); err != nil {
		return nil, 0, err
	}
	if err := validRange(r); err != nil {
		return nil, 0, err
	}
	if !c.CanReadAccount(o.Type, o.ID) {
		return nil, 0, ErrNotFound
	}
	return s.store.Hourly(ctx, o, currency, r, p)
}

func (s *service) Summary(ctx context.Context, c Caller, groupBy, currency string, r Range, p httpx.Pagination) ([]SummaryRow, int64, error) {
	if !c.Privileged() {
		return nil, 0, ErrForbidden
	}
	if !slices.Contains(GroupBys, groupBy) {
		return nil, 0, httpx.Invalid("group_by", "must be portfolio, team, user, day or hour")
	}
	if err := validCurrency(currency); err != nil {
		return nil, 0, err
	}
	if err := validRange(r); err != nil {
		return nil, 0, err
	}
	return s.store.Summary(ctx, groupBy, currency, r, p)
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
