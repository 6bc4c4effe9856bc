// Package portfolio is the portfolio service's domain: portfolios, their
// owners, and the NAV snapshots whose differences are the profit the rest of
// the platform allocates (docs/api.md#portfolio-service). It holds the rules
// and knows nothing of HTTP, PostgreSQL or Kafka; those live in the transport,
// store and directory packages.
package portfolio

import (
	"context"
	"errors"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
)

// DefaultCurrency is a new portfolio's currency when none is given.
const DefaultCurrency = "USD"

// Portfolio is a fund portfolio owned by one user and one team: the
// beneficiaries of the profit it records.
type Portfolio struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	UserID      int64     `json:"user_id"`
	TeamID      int64     `json:"team_id"`
	Currency    string    `json:"currency"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Snapshot is one recorded valuation of a portfolio and what it derives
// from the previous one. Only a NAV correction of the portfolio's latest
// snapshot changes its values, and the values it replaces stay in the
// correction (Correction).
type Snapshot struct {
	ID             int64         `json:"id"`
	PortfolioID    int64         `json:"portfolio_id"`
	AsOf           time.Time     `json:"as_of"`
	NAV            money.Amount  `json:"nav"`
	NetFlow        money.Amount  `json:"net_flow"`
	Units          *money.Amount `json:"units"`
	NAVPerUnit     *money.Amount `json:"nav_per_unit"`
	Profit         money.Amount  `json:"profit"`
	PeriodReturn   *money.Amount `json:"period_return"`
	PrevSnapshotID *int64        `json:"prev_snapshot_id"`

	// The portfolio's owners when the snapshot was recorded: the
	// beneficiaries of its profit. Kept for audit, not in the API.
	UserID    int64     `json:"-"`
	TeamID    int64     `json:"-"`
	CreatedAt time.Time `json:"-"`
	// Currency is the portfolio's, the currency of the snapshot's amounts
	// (not stored with the snapshot: NewSnapshot sets it from the
	// portfolio, and portfolio.profit_recorded carries it).
	Currency string `json:"-"`
}

// Caller is the authenticated principal of a request (auth.Caller) and
// its credentials.
type Caller struct {
	auth.Caller
	// Credentials is the caller's own Authorization header, forwarded to
	// the auth service when owners are looked up there.
	Credentials string
}

// NewPortfolio is the input of CreatePortfolio.
type NewPortfolio struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	UserID      int64   `json:"user_id"`
	TeamID      int64   `json:"team_id"`
	Currency    *string `json:"currency"`
}

// Patch is the input of UpdatePortfolio; nil fields are left alone.
type Patch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	UserID      *int64  `json:"user_id"`
	TeamID      *int64  `json:"team_id"`
}

// NAVInput is a valuation to record: the portfolio's net asset value at
// AsOf, the capital added (+) or taken out (−) since the previous snapshot,
// and optionally the units outstanding.
type NAVInput struct {
	AsOf    time.Time
	NAV     decimal.Decimal
	NetFlow decimal.Decimal
	Units   *decimal.Decimal
}

// Filter narrows ListPortfolios.
type Filter struct {
	UserID *int64
	TeamID *int64
	// Visible, when set, keeps only the portfolios a user may read: those
	// it owns and those of its teams.
	Visible *Visibility
}

// Visibility is what a caller with role user may read.
type Visibility struct {
	UserID  int64
	TeamIDs []int64
}

// SnapshotFilter narrows ListSnapshots to as_of in [From, To].
type SnapshotFilter struct {
	From *time.Time
	To   *time.Time
}

// Errors of the domain; the transport maps each to a status and code.
var (
	ErrForbidden             = errors.New("not allowed")
	ErrPortfolioNotFound     = errors.New("portfolio not found")
	ErrUserNotFound          = errors.New("user not found")
	ErrTeamNotFound          = errors.New("team not found")
	ErrNAVOutOfOrder         = errors.New("as_of must be later than the previous snapshot's")
	ErrDependencyUnavailable = errors.New("the auth service is unavailable; try again later")
)

// Validation codes (docs/api.md#error-codes).
const (
	CodeValidationFailed = httpx.CodeValidationFailed
	CodeInvalidAmount    = httpx.CodeInvalidAmount
)

func invalidAmount(field, reason string) *httpx.ValidationError {
	return &httpx.ValidationError{Code: CodeInvalidAmount, Field: field, Reason: reason}
}

// OutOfRangeError means a value derived from a valuation (profit,
// nav_per_unit or period_return) does not fit an amount: 12 integer digits.
type OutOfRangeError struct{ Field string }

func (e *OutOfRangeError) Error() string {
	return e.Field + " would exceed 12 integer digits"
}

// Service is what the portfolio service does.
type Service interface {
	CreatePortfolio(ctx context.Context, caller Caller, in NewPortfolio) (Portfolio, error)
	ListPortfolios(ctx context.Context, caller Caller, f Filter, p httpx.Pagination) ([]Portfolio, int64, error)
	GetPortfolio(ctx context.Context, caller Caller, id int64) (Portfolio, error)
	UpdatePortfolio(ctx context.Context, caller Caller, id int64, patch Patch) (Portfolio, error)

	RecordNAV(ctx context.Context, caller Caller, portfolioID int64, in NAVInput) (Snapshot, error)
	ListSnapshots(ctx context.Context, caller Caller, portfolioID int64, f SnapshotFilter, p httpx.Pagination) ([]Snapshot, int64, error)
	CorrectNAV(ctx context.Context, caller Caller, portfolioID, snapshotID int64, in NAVInput) (Snapshot, error)
}

// Event is a change to publish, written by the store in the transaction
// of the change itself (the outbox). Type is one of the Event* types;
// events of one portfolio are keyed by its id.
type Event struct {
	Type        string
	PortfolioID int64
	Data        any
}

// Store is the persistence the service needs; the pgx adapter in the store
// package implements it. The methods that change something write the rows
// and the events emit returns for them in one transaction.
type Store interface {
	// CreatePortfolio stores p (its ID assigned) and emit(stored).
	CreatePortfolio(ctx context.Context, p Portfolio, emit func(Portfolio) []Event) (Portfolio, error)
	// Portfolio returns one portfolio or ErrPortfolioNotFound.
	Portfolio(ctx context.Context, id int64) (Portfolio, error)
	ListPortfolios(ctx context.Context, f Filter, p httpx.Pagination) ([]Portfolio, int64, error)
	// UpdatePortfolio locks the portfolio and calls fn with it; when fn
	// reports a change, it stores the portfolio and emit(updated).
	UpdatePortfolio(ctx context.Context, id int64, fn func(p *Portfolio) (changed bool, err error), emit func(Portfolio) []Event) (Portfolio, error)

	// RecordNAV locks the portfolio (so valuations of one portfolio are
	// recorded one at a time), calls fn with it and its latest snapshot
	// (nil when none), stores the snapshot fn returns (its ID assigned)
	// and emit(prev, stored snapshot).
	RecordNAV(ctx context.Context, portfolioID int64, fn func(p Portfolio, prev *Snapshot) (Snapshot, error), emit func(prev *Snapshot, s Snapshot) []Event) (Snapshot, error)
	// ListSnapshots returns a portfolio's snapshots, oldest first.
	ListSnapshots(ctx context.Context, portfolioID int64, f SnapshotFilter, p httpx.Pagination) ([]Snapshot, int64, error)
	// CorrectNAV locks the portfolio, reads the snapshot (ErrSnapshotNotFound
	// unless it is the portfolio's) and refuses it unless it is the latest
	// (ErrNAVNotLatest); then calls fn with it and the snapshot it follows
	// (nil for the baseline), stores the correction fn returns (the old
	// values kept, the snapshot's replaced, the correction's ID assigned)
	// and emit(stored correction).
	CorrectNAV(ctx context.Context, portfolioID, snapshotID int64, fn func(s Snapshot, prev *Snapshot) (Correction, error), emit func(Correction) []Event) (Correction, error)
}

// Directory tells whether users and teams exist; the auth service owns
// them. credentials is the caller's Authorization header. An error means
// the directory could not answer and wraps ErrDependencyUnavailable.
type Directory interface {
	UserExists(ctx context.Context, credentials string, id int64) (bool, error)
	TeamExists(ctx context.Context, credentials string, id int64) (bool, error)
}
