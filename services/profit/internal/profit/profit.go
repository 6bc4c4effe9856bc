package profit

import (
	"context"
	"errors"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
)

// Sources of a recorded profit.
const (
	// SourceNAV is a profit derived from a NAV snapshot by the portfolio
	// service (a portfolio.profit_recorded event).
	SourceNAV = "nav"
	// SourceManual is a profit entered by an admin, not derived from NAV.
	SourceManual = "manual"
)

// Caller is the authenticated principal of a request (auth.Caller) and
// its credentials.
type Caller struct {
	auth.Caller
	// Credentials is the caller's own Authorization header, forwarded to
	// the portfolio service when a portfolio the read model does not have
	// yet is looked up there (Portfolios).
	Credentials string
}

// Portfolio is the service's read model of a portfolio: its owners, as the
// portfolio service's events last said, and the allocation state this
// service keeps for it.
type Portfolio struct {
	ID     int64
	UserID int64
	TeamID int64
	// Currency is the portfolio's ISO 4217 currency, the currency of its
	// profits and allocations (docs/api.md#currencies). It never changes;
	// a row recorded before the service kept currencies reads as the base
	// currency until an event that carries the portfolio's currency (its
	// portfolio.updated or a NAV profit) corrects it.
	Currency         string
	LossCarryforward decimal.Decimal
	// LastPeriodEnd is the latest period_end recorded for the portfolio
	// (nil before its first profit).
	LastPeriodEnd *time.Time
}

// Allocation is one recorded profit and what the allocation rule made of it.
type Allocation struct {
	ID int64
	// Key is the allocation's identity derived from its source (NAVKey,
	// ManualKey): the same when the profit is recorded again, unlike ID;
	// "" for an allocation recorded before identities existed.
	Key                    string
	PortfolioID            int64
	Source                 string
	SnapshotID             *int64 // the NAV snapshot; nil for a manual profit
	PeriodEnd              time.Time
	ProfitAmount           decimal.Decimal
	LossCarryforwardBefore decimal.Decimal
	LossCarryforwardAfter  decimal.Decimal
	Distributable          decimal.Decimal
	RatioID                *int64 // nil while awaiting a ratio
	RatioVersion           *int
	ToTeam                 decimal.Decimal
	ToPlatform             decimal.Decimal
	ToUser                 decimal.Decimal
	UserID                 int64
	TeamID                 int64
	// Currency is the currency of every amount of the allocation: its
	// portfolio's when it was recorded.
	Currency  string
	Status    string
	CreatedAt time.Time
	// Corrects is the allocation this one replaces, CorrectionID the NAV
	// correction that made it (source correction only; see Correct), and
	// ReversedBy the NAV correction that reversed this one (nil while it
	// stands). A correction's SnapshotID is the snapshot whose profit it
	// carries (nil when it replaces a manual profit).
	Corrects     *int64
	CorrectionID int64
	ReversedBy   *int64
}

// NewRatio is the input of CreateRatio.
type NewRatio struct {
	PortfolioID int64
	ToTeam      decimal.Decimal
	ToPlatform  decimal.Decimal
	ToUser      decimal.Decimal
	// At is when it was asked for; the version takes effect then, or
	// later (EffectiveFrom).
	At time.Time
}

// ManualProfit is the input of RecordManualProfit: a profit not derived
// from NAV.
type ManualProfit struct {
	PortfolioID int64
	Amount      decimal.Decimal
	PeriodEnd   time.Time
}

// NewProfit is a profit to record, whatever its source.
type NewProfit struct {
	PortfolioID int64
	Source      string
	// SnapshotID is the NAV snapshot the profit comes from (nil for manual).
	SnapshotID *int64
	// SourceEventID is the id of the event that carried the profit ("" for
	// manual); a second profit with the same id is the same profit.
	SourceEventID string
	PeriodEnd     time.Time
	Amount        decimal.Decimal
	// UserID and TeamID are the beneficiaries carried on the event (the
	// portfolio's owners as at the snapshot). Zero for a manual profit,
	// whose beneficiaries are the portfolio's current owners.
	UserID, TeamID int64
	// Currency is the portfolio's currency its event carries ("" for a
	// manual profit or an event from before currencies): a known one
	// corrects the read model's (the portfolio's currency never changes).
	Currency string
	// Key is the identity of its allocation (NAVKey, ManualKey); a NAV
	// profit without one gets its NAVKey.
	Key string
}

// RatioFilter narrows ListRatios.
type RatioFilter struct {
	PortfolioID *int64
}

// AllocationFilter narrows ListAllocations.
type AllocationFilter struct {
	PortfolioID *int64
	// From and To bound period_end: From <= period_end < To.
	From, To *time.Time
	// ReadableBy, when set, keeps only the allocations of portfolios this
	// user (or one of these teams) owns.
	ReadableBy *auth.Caller
}

// Errors of the domain; the transport maps each to a status and code.
var (
	ErrForbidden          = errors.New("not allowed")
	ErrPortfolioNotFound  = errors.New("portfolio not found")
	ErrRatioNotFound      = errors.New("the portfolio has no profit allocation ratio yet")
	ErrAllocationNotFound = errors.New("allocation not found")
	ErrInvalidRatio       = errors.New("to_team, to_platform and to_user must each be between 0 and 1 with at most 4 decimal places, and sum to exactly 1")
	ErrPeriodOutOfOrder   = errors.New("period_end is earlier than the portfolio's latest recorded profit")
	// ErrDependencyUnavailable: the portfolio service, asked about a
	// portfolio the read model does not have yet, did not answer.
	ErrDependencyUnavailable = errors.New("the portfolio service is unavailable; try again later")
)

// Portfolios asks the portfolio service, which owns portfolios, about one
// the read model does not have yet (its portfolio.created not consumed
// yet): what makes the profit service read its callers' writes
// (docs/api.md#profit-service). credentials is the caller's Authorization
// header, so the answer is about a portfolio the caller may read. Owners
// returns ErrPortfolioNotFound when there is no such portfolio (or the
// caller may not read it), and an error wrapping ErrDependencyUnavailable
// when the portfolio service could not say.
type Portfolios interface {
	Owners(ctx context.Context, credentials string, id int64) (Owners, error)
}

// Service is what the profit service does for its API callers. Profits
// derived from NAV arrive as events and go through Consumer, whose
// RecordNAVProfit ends in the same store code path (RecordProfit, which
// folds with Fold) as RecordManualProfit.
type Service interface {
	CreateRatio(ctx context.Context, caller Caller, in NewRatio) (Ratio, error)
	ListRatios(ctx context.Context, caller Caller, f RatioFilter, p httpx.Pagination) ([]Ratio, int64, error)
	CurrentRatio(ctx context.Context, caller Caller, portfolioID int64) (Ratio, error)

	RecordManualProfit(ctx context.Context, caller Caller, in ManualProfit) (Allocation, error)
	ListAllocations(ctx context.Context, caller Caller, f AllocationFilter, p httpx.Pagination) ([]Allocation, int64, error)
	GetAllocation(ctx context.Context, caller Caller, id int64) (Allocation, error)
}

// Store is the persistence the service needs; the pgx adapter in the store
// package implements it. Writes run in one transaction each, with the
// portfolio's row locked, and write their events to the outbox in that
// same transaction.
type Store interface {
	// Portfolio reads the read model (ErrPortfolioNotFound).
	Portfolio(ctx context.Context, id int64) (Portfolio, error)
	// AddPortfolio records a portfolio the read model does not have yet,
	// as its portfolio.created event does (EventStore.AddPortfolio); one
	// it has is left alone.
	AddPortfolio(ctx context.Context, o Owners) error

	// CreateRatio adds the next version of the portfolio's ratio
	// (ErrPortfolioNotFound), publishes profit.ratio_changed, and
	// allocates the portfolio's waiting profits with it, in order.
	CreateRatio(ctx context.Context, in NewRatio, createdBy int64) (Ratio, error)
	ListRatios(ctx context.Context, f RatioFilter, p httpx.Pagination) ([]Ratio, int64, error)
	// CurrentRatio is the portfolio's latest version (ErrRatioNotFound).
	CurrentRatio(ctx context.Context, portfolioID int64) (Ratio, error)

	// RecordManualProfit records a manual profit with the portfolio's
	// current owners as beneficiaries.
	RecordManualProfit(ctx context.Context, in NewProfit) (Allocation, error)
	ListAllocations(ctx context.Context, f AllocationFilter, p httpx.Pagination) ([]Allocation, int64, error)
	Allocation(ctx context.Context, id int64) (Allocation, error)
}

// Decide is the allocation rule for a newly recorded profit p of a
// portfolio whose carry-forward is carry and current ratio is ratio (nil
// when it has none): the profit waits while there is no ratio or while an
// earlier profit of the portfolio still waits (its outcome changes the
// carry-forward this one starts from); otherwise Allocate applies.
func Decide(p, carry decimal.Decimal, ratio *Ratio, earlierAwaiting bool) Outcome {
	if earlierAwaiting {
		ratio = nil
	}
	return Allocate(p, carry, ratio)
}

// InOrder reports whether a profit for periodEnd may follow the portfolio's
// latest recorded period_end (nil: none yet). Equal period ends are in
// order (they are allocated in the order they were recorded).
func InOrder(last *time.Time, periodEnd time.Time) bool {
	return last == nil || !periodEnd.Before(*last)
}
