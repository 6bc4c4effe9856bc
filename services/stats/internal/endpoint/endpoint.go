// Package endpoint turns the stats service into go-kit endpoints: one per
// route, each taking a request struct and returning an httpx.Response whose
// data is the JSON form of docs/api.md#stats-service.
package endpoint

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/go-kit/kit/endpoint"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/stats/internal/stats"
)

// Endpoints are the stats service's endpoints.
type Endpoints struct {
	Overview, ListAccProfit, AccProfit, Hourly, Summary endpoint.Endpoint
}

// Requests.
type (
	// ListAccProfitRequest is the query of GET /stats/acc_profit.
	ListAccProfitRequest struct{ Page httpx.Pagination }
	// AccProfitRequest names one portfolio.
	AccProfitRequest struct{ PortfolioID int64 }
	// HourlyRequest is the query of GET /stats/hourly.
	HourlyRequest struct {
		Owner    stats.Owner
		Currency string // "" for every currency
		Range    stats.Range
		Page     httpx.Pagination
	}
	// SummaryRequest is the query of GET /stats/summary.
	SummaryRequest struct {
		GroupBy  string
		Currency string // "" for every currency
		Range    stats.Range
		Page     httpx.Pagination
	}
)

// Counts is the JSON form of the overview's counters.
type Counts struct {
	Portfolios    int64 `json:"portfolios"`
	Allocations   int64 `json:"allocations"`
	Withdrawals   int64 `json:"withdrawals"`
	Reallocations int64 `json:"reallocations"`
}

// Overview is the JSON form of the platform totals: the money per
// currency, ordered by currency.
type Overview struct {
	Totals      []CurrencyTotals `json:"totals"`
	Counts      Counts           `json:"counts"`
	LastEventAt *time.Time       `json:"last_event_at"`
}

// CurrencyTotals is the JSON form of the platform's money in one currency.
type CurrencyTotals struct {
	Currency                   string       `json:"currency"`
	TotalProfit                money.Amount `json:"total_profit"`
	TotalDistributed           money.Amount `json:"total_distributed"`
	ToTeamTotal                money.Amount `json:"to_team_total"`
	ToPlatformTotal            money.Amount `json:"to_platform_total"`
	ToUserTotal                money.Amount `json:"to_user_total"`
	LossCarryforwardTotal      money.Amount `json:"loss_carryforward_total"`
	WithdrawalsPendingAmount   money.Amount `json:"withdrawals_pending_amount"`
	WithdrawalsCompletedAmount money.Amount `json:"withdrawals_completed_amount"`
	WithdrawalsFailedAmount    money.Amount `json:"withdrawals_failed_amount"`
	ReallocatedTotal           money.Amount `json:"reallocated_total"`
}

// OverviewJSON is the JSON form of o.
func OverviewJSON(o stats.Overview) Overview {
	totals := make([]CurrencyTotals, len(o.Totals))
	for i, c := range o.Totals {
		totals[i] = CurrencyTotalsJSON(c)
	}
	return Overview{Totals: totals,
		Counts: Counts{Portfolios: o.Counts.Portfolios, Allocations: o.Counts.Allocations,
			Withdrawals: o.Counts.Withdrawals, Reallocations: o.Counts.Reallocations},
		LastEventAt: o.LastEventAt,
	}
}

// CurrencyTotalsJSON is the JSON form of o.
func CurrencyTotalsJSON(o stats.CurrencyTotals) CurrencyTotals {
	return CurrencyTotals{Currency: o.Currency,
		TotalProfit: money.NewAmount(o.TotalProfit), TotalDistributed: money.NewAmount(o.TotalDistributed),
		ToTeamTotal: money.NewAmount(o.ToTeam), ToPlatformTotal: money.NewAmount(o.ToPlatform), ToUserTotal: money.NewAmount(o.ToUser),
		LossCarryforwardTotal:      money.NewAmount(o.LossCarryforward),
		WithdrawalsPendingAmount:   money.NewAmount(o.WithdrawalsPending),
		WithdrawalsCompletedAmount: money.NewAmount(o.WithdrawalsCompleted),
		WithdrawalsFailedAmount:    money.NewAmount(o.WithdrawalsFailed),
		ReallocatedTotal:           money.NewAmount(o.Reallocated),
	}
}

// AccProfit is the JSON form of one portfolio's totals.
type AccProfit struct {
	PortfolioID     int64        `json:"portfolio_id"`
	Currency        string       `json:"currency"`
	AccProfit       money.Amount `json:"acc_profit"`
	Distributed     money.Amount `json:"distributed"`
	ToTeamTotal     money.Amount `json:"to_team_total"`
	ToPlatformTotal money.Amount `json:"to_platform_total"`
	ToUserTotal     money.Amount `json:"to_user_total"`
	LossCarryfwd    money.Amount `json:"loss_carryforward"`
	UpdatedAt       *time.Time   `json:"updated_at"`
}

// AccProfitJSON is the JSON form of p.
func AccProfitJSON(p stats.PortfolioTotals) AccProfit {
	return AccProfit{PortfolioID: p.PortfolioID, Currency: p.Currency, AccProfit: money.NewAmount(p.AccProfit),
		Distributed: money.NewAmount(p.Distributed), ToTeamTotal: money.NewAmount(p.ToTeam),
		ToPlatformTotal: money.NewAmount(p.ToPlatform), ToUserTotal: money.NewAmount(p.ToUser),
		LossCarryfwd: money.NewAmount(p.LossCarryforward), UpdatedAt: p.UpdatedAt}
}

// Hourly is the JSON form of one hour's profit.
type Hourly struct {
	Hour     time.Time    `json:"hour"`
	Currency string       `json:"currency"`
	Profit   money.Amount `json:"profit"`
}

// SummaryRow is the JSON form of one summary group.
type SummaryRow struct {
	Key         string       `json:"key"`
	Currency    string       `json:"currency"`
	Profit      money.Amount `json:"profit"`
	Distributed money.Amount `json:"distributed"`
	ToTeam      money.Amount `json:"to_team"`
	ToPlatform  money.Amount `json:"to_platform"`
	ToUser      money.Amount `json:"to_user"`
	Withdrawn   money.Amount `json:"withdrawn"`
}

// MarshalJSON writes the row as encoding/json would from its tags.
func (r SummaryRow) MarshalJSON() ([]byte, error) { return r.appendJSON(make([]byte, 0, 200)), nil }

// appendJSON appends the row as encoding/json would write it from its tags,
// without reflection: a summary has a row per portfolio, team, user, day or
// hour, thousands of them.
func (r SummaryRow) appendJSON(b []byte) []byte {
	b = appendJSONString(append(b, `{"key":`...), r.Key)
	b = appendJSONString(append(b, `,"currency":`...), r.Currency)
	for _, f := range [...]struct {
		name string
		v    money.Amount
	}{{"profit", r.Profit}, {"distributed", r.Distributed}, {"to_team", r.ToTeam}, {"to_platform", r.ToPlatform},
		{"to_user", r.ToUser}, {"withdrawn", r.Withdrawn}} {
		b = append(append(append(b, `,"`...), f.name...), `":"`...)
		b = append(money.AppendFormat(b, f.v.Decimal), '"')
	}
	return append(b, '}')
}

// SummaryRows is a summary's answer; it writes its own JSON
// (httpx.JSONAppender), so encoding/json never re-scans its bytes.
type SummaryRows []SummaryRow

// AppendJSON implements httpx.JSONAppender.
func (rs SummaryRows) AppendJSON(b []byte) []byte {
	b = append(slices.Grow(b, len(rs)*200), '[') // a row is about 170 bytes
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.appendJSON(b)
	}
	return append(b, ']')
}

// MarshalJSON writes the rows as encoding/json would.
func (rs SummaryRows) MarshalJSON() ([]byte, error) { return rs.AppendJSON(nil), nil }

// appendJSONString appends s quoted as encoding/json quotes it: keys are
// ids and dates, written as they are; anything else goes through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// HourlyJSON is the JSON form of h.
func HourlyJSON(h stats.HourlyProfit) Hourly {
	return Hourly{Hour: h.Hour.UTC(), Currency: h.Currency, Profit: money.NewAmount(h.Profit)}
}

// SummaryRowsJSON is the JSON form of a summary's rows.
func SummaryRowsJSON(rows []stats.SummaryRow) SummaryRows {
	out := make(SummaryRows, len(rows))
	for i, r := range rows {
		out[i] = SummaryRow{Key: r.Key, Currency: r.Currency, Profit: money.NewAmount(r.Profit), Distributed: money.NewAmount(r.Distributed),
			ToTeam: money.NewAmount(r.ToTeam), ToPlatform: money.NewAmount(r.ToPlatform),
			ToUser: money.NewAmount(r.ToUser), Withdrawn: money.NewAmount(r.Withdrawn)}
	}
	return out
}

var accProfitReply = httpx.ReplyAs(AccProfitJSON)

// New returns the endpoints of s.
func New(s stats.Service) Endpoints {
	return Endpoints{
		Overview: libauth.WithCaller(func(ctx context.Context, c stats.Caller, _ any) httpx.Response {
			return httpx.ReplyAs(OverviewJSON).OK(s.Overview(ctx, c))
		}),
		ListAccProfit: libauth.WithCaller(func(ctx context.Context, c stats.Caller, req ListAccProfitRequest) httpx.Response {
			return accProfitReply.List(s.ListAccProfit(ctx, c, req.Page))
		}),
		AccProfit: libauth.WithCaller(func(ctx context.Context, c stats.Caller, req AccProfitRequest) httpx.Response {
			return accProfitReply.OK(s.AccProfit(ctx, c, req.PortfolioID))
		}),
		Hourly: libauth.WithCaller(func(ctx context.Context, c stats.Caller, req HourlyRequest) httpx.Response {
			return httpx.ReplyAs(HourlyJSON).List(s.Hourly(ctx, c, req.Owner, req.Currency, req.Range, req.Page))
		}),
		Summary: libauth.WithCaller(func(ctx context.Context, c stats.Caller, req SummaryRequest) httpx.Response {
			rows, total, err := s.Summary(ctx, c, req.GroupBy, req.Currency, req.Range, req.Page)
			if err != nil {
				return httpx.Fail(err)
			}
			return httpx.Response{Data: SummaryRowsJSON(rows), Total: &total}
		}),
	}
}
