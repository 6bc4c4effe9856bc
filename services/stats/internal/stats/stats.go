// Package stats is the stats service's domain (docs/api.md#stats-service): the
// read models built from the platform's events, who may read which of them, and
// the Service that answers the routes. It does no I/O of its own; the Store
// port is implemented by internal/store.
//
// The read models are pre-aggregated when an event is applied (in the
// transaction that records the event id), so no query scans raw events.
//
// Currencies. Every amount is kept per currency, never summed across
// currencies: an event's amounts are in its currency, or for an event
// without one in its portfolio's known currency, else
// eventbus.BaseCurrency (accumulator.currencyOf); a withdrawal stays in
// the currency first recorded for it.
//
// Loss carry-forward. Stats keeps each portfolio's carry-forward with the
// allocation rule of docs/api.md#allocation-rule, carry = max(0, carry − p),
// over every profit the profit service allocates: every NAV profit or loss
// (portfolio.profit_recorded, in the portfolio topic's per-portfolio
// order; the profit service announces only the NAV allocations that
// distribute something), every manual profit that was allocated
// (profit.allocated with source "manual", also when it waited for a ratio)
// and every manual loss or manual profit that distributed nothing
// (profit.outcome_recorded). So a portfolio's accumulated profit and
// carry-forward equal the profit service's once the events are applied.
package stats

import (
	"context"
	"errors"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
)

// Summary dimensions: the values of group_by.
const (
	GroupPortfolio = "portfolio"
	GroupTeam      = "team"
	GroupUser      = "user"
	GroupDay       = "day"
	GroupHour      = "hour"
)

// GroupBys lists the valid summary dimensions.
var GroupBys = []string{GroupPortfolio, GroupTeam, GroupUser, GroupDay, GroupHour}

// Errors.
var (
	ErrForbidden         = errors.New("forbidden")
	ErrPortfolioNotFound = errors.New("portfolio not found")
	ErrNotFound          = errors.New("not found")
)

// Caller is the authenticated principal of a request: Privileged (admin,
// viewer), CanReadOwned ("as portfolio read") and CanReadAccount ("as
// balances read"), docs/api.md#roles.
type Caller = auth.Caller

// Owners are a portfolio's owners, as the portfolio events last said.
type Owners struct {
	PortfolioID, UserID, TeamID int64
	// Currency is the portfolio's ("" when the event says none).
	Currency string
}

// Owner names a ledger account holder; ID is 0 for the platform.
type Owner struct {
	Type string
	ID   int64
}

// PortfolioTotals are one portfolio's accumulated figures.
type PortfolioTotals struct {
	PortfolioID int64
	// Currency is the portfolio's, that of every amount.
	Currency string
	// AccProfit is the sum of profit_amount of the portfolio's allocations.
	AccProfit   decimal.Decimal
	Distributed decimal.Decimal
	ToTeam      decimal.Decimal
	ToPlatform  decimal.Decimal
	ToUser      decimal.Decimal
	// LossCarryforward is the portfolio's loss carry-forward
	// (docs/api.md#allocation-rule), as the events seen so far left it.
	LossCarryforward decimal.Decimal
	// UpdatedAt is when an allocation last changed the totals (nil before any).
	UpdatedAt *time.Time
}

// ZeroTotals are the totals of a portfolio with nothing allocated yet, in
// currency.
func ZeroTotals(portfolioID int64, currency string) PortfolioTotals {
	return PortfolioTotals{PortfolioID: portfolioID, Currency: currency, AccProfit: decimal.Zero, Distributed: decimal.Zero,
		ToTeam: decimal.Zero, ToPlatform: decimal.Zero, ToUser: decimal.Zero, LossCarryforward: decimal.Zero}
}

// Counts are the overview's counters.
type Counts struct {
	Portfolios, Allocations, Withdrawals, Reallocations int64
}

// Overview are the platform totals: the money per currency, the counts of
// all currencies.
type Overview struct {
	Totals []CurrencyTotals // ordered by currency
	Counts Counts
	// LastEventAt is the time of the newest event applied (nil before any).
	LastEventAt *time.Time
}

// In is the totals of currency: zeros when nothing was booked in it.
func (o Overview) In(currency string) CurrencyTotals {
	for _, c := range o.Totals {
		if c.Currency == currency {
			return c
		}
	}
	return CurrencyTotals{Currency: currency}
}

// CurrencyTotals are the platform's money totals in one currency.
type CurrencyTotals struct {
	Currency                                                  string
	TotalProfit, TotalDistributed, ToTeam, ToPlatform, ToUser decimal.Decimal
	LossCarryforward                                          decimal.Decimal
	WithdrawalsPending, WithdrawalsCompleted                  decimal.Decimal
	WithdrawalsFailed, Reallocated                            decimal.Decimal
}

// HourlyProfit is the profit credited to an owner in one UTC hour, in one
// currency.
type HourlyProfit struct {
	Hour     time.Time
	Currency string
	Profit   decimal.Decimal
}

// SummaryRow is one group of the summary: a key and a currency.
type SummaryRow struct {
	Key, Currency                                   string
	Profit, Distributed, ToTeam, ToPlatform, ToUser decimal.Decimal
	Withdrawn                                       decimal.Decimal
}

// Range bounds a query on hour buckets: From (inclusive, taken down to its
// hour) and To (exclusive); either may be nil.
type Range struct{ From, To *time.Time }

// Store is what the service reads; the events package writes the models.
type Store interface {
	Overview(ctx context.Context) (Overview, error)
	// PortfolioOwners returns ErrPortfolioNotFound for an unknown portfolio.
	PortfolioOwners(ctx context.Context, id int64) (Owners, error)
	// PortfolioTotals returns zeros for a portfolio with nothing yet.
	PortfolioTotals(ctx context.Context, id int64) (PortfolioTotals, error)
	// ListPortfolioTotals lists portfolios newest (highest id) first; with
	// readableBy, only those that caller owns or whose team it is in.
	ListPortfolioTotals(ctx context.Context, readableBy *Caller, p httpx.Pagination) ([]PortfolioTotals, int64, error)
	// Hourly and Summary return a page of their rows and the number of
	// rows in all; a currency other than "" keeps only its rows.
	Hourly(ctx context.Context, o Owner, currency string, r Range, p httpx.Pagination) ([]HourlyProfit, int64, error)
	Summary(ctx context.Context, groupBy, currency string, r Range, p httpx.Pagination) ([]SummaryRow, int64, error)
	// LastEventAt is the time of the newest event applied (nil before any).
	LastEventAt(ctx context.Context) (*time.Time, error)
}
