// Package endpoint turns the profit service into go-kit endpoints: one per
// route, each taking a request struct and returning an httpx.Response whose
// data is the JSON form of docs/api.md#profit-service.
package endpoint

import (
	"context"
	"time"

	"github.com/go-kit/kit/endpoint"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// Endpoints are the profit service's endpoints.
type Endpoints struct {
	CreateRatio, ListRatios, CurrentRatio            endpoint.Endpoint
	CreateAllocation, ListAllocations, GetAllocation endpoint.Endpoint
}

// Requests.
type (
	// CreateRatioRequest is the body of POST /profit_allocation_ratios.
	CreateRatioRequest = profit.NewRatio
	// ListRatiosRequest is the query of GET /profit_allocation_ratios.
	ListRatiosRequest struct {
		Filter profit.RatioFilter
		Page   httpx.Pagination
	}
	// CurrentRatioRequest is the query of GET /profit_allocation_ratios/current.
	CurrentRatioRequest struct{ PortfolioID int64 }
	// CreateAllocationRequest is the body of POST /allocations.
	CreateAllocationRequest = profit.ManualProfit
	// ListAllocationsRequest is the query of GET /allocations.
	ListAllocationsRequest struct {
		Filter profit.AllocationFilter
		Page   httpx.Pagination
	}
	// IDRequest names one resource by id.
	IDRequest struct{ ID int64 }
)

// Ratio is the JSON form of a ratio version.
type Ratio struct {
	ID          int64       `json:"id"`
	PortfolioID int64       `json:"portfolio_id"`
	Version     int         `json:"version"`
	ToTeam      money.Ratio `json:"to_team"`
	ToPlatform  money.Ratio `json:"to_platform"`
	ToUser      money.Ratio `json:"to_user"`
	CreatedBy   int64       `json:"created_by"`
	CreatedAt   time.Time   `json:"created_at"`
	// EffectiveFrom: the version splits the profits whose period ends
	// then or later (docs/api.md#allocation-rule).
	EffectiveFrom time.Time `json:"effective_from"`
}

// RatioJSON is the JSON form of r.
func RatioJSON(r profit.Ratio) Ratio {
	return Ratio{ID: r.ID, PortfolioID: r.PortfolioID, Version: r.Version,
		ToTeam: money.Ratio{Decimal: r.ToTeam}, ToPlatform: money.Ratio{Decimal: r.ToPlatform}, ToUser: money.Ratio{Decimal: r.ToUser},
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), EffectiveFrom: r.EffectiveFrom.UTC()}
}

// Allocation is the JSON form of an allocation.
type Allocation struct {
	ID                     int64        `json:"id"`
	AllocationKey          *string      `json:"allocation_key"` // null: recorded before identities existed
	PortfolioID            int64        `json:"portfolio_id"`
	Source                 string       `json:"source"`
	SnapshotID             *int64       `json:"snapshot_id"`
	PeriodEnd              time.Time    `json:"period_end"`
	ProfitAmount           money.Amount `json:"profit_amount"`
	LossCarryforwardBefore money.Amount `json:"loss_carryforward_before"`
	LossCarryforwardAfter  money.Amount `json:"loss_carryforward_after"`
	Distributable          money.Amount `json:"distributable"`
	RatioID                *int64       `json:"ratio_id"`
	RatioVersion           *int         `json:"ratio_version"`
	ToTeamAmount           money.Amount `json:"to_team_amount"`
	ToPlatformAmount       money.Amount `json:"to_platform_amount"`
	ToUserAmount           money.Amount `json:"to_user_amount"`
	UserID                 int64        `json:"user_id"`
	TeamID                 int64        `json:"team_id"`
	Currency               string       `json:"currency"`
	Status                 string       `json:"status"`
	CreatedAt              time.Time    `json:"created_at"`
	Corrects               *int64       `json:"corrects"`
	CorrectionID           *int64       `json:"correction_id"`
	ReversedBy             *int64       `json:"reversed_by_correction"`
}

// AllocationJSON is the JSON form of a.
func AllocationJSON(a profit.Allocation) Allocation {
	return Allocation{ID: a.ID, AllocationKey: nonEmpty(a.Key), PortfolioID: a.PortfolioID, Source: a.Source, SnapshotID: a.SnapshotID,
		PeriodEnd: a.PeriodEnd.UTC(), ProfitAmount: money.NewAmount(a.ProfitAmount),
		LossCarryforwardBefore: money.NewAmount(a.LossCarryforwardBefore), LossCarryforwardAfter: money.NewAmount(a.LossCarryforwardAfter),
		Distributable: money.NewAmount(a.Distributable), RatioID: a.RatioID, RatioVersion: a.RatioVersion,
		ToTeamAmount: money.NewAmount(a.ToTeam), ToPlatformAmount: money.NewAmount(a.ToPlatform), ToUserAmount: money.NewAmount(a.ToUser),
		UserID: a.UserID, TeamID: a.TeamID, Currency: a.Currency, Status: a.Status, CreatedAt: a.CreatedAt.UTC(),
		Corrects: a.Corrects, CorrectionID: correctionID(a), ReversedBy: a.ReversedBy}
}

// correctionID is the NAV correction that made a (nil unless its source is
// correction).
func correctionID(a profit.Allocation) *int64 {
	if a.CorrectionID == 0 {
		return nil
	}
	id := a.CorrectionID
	return &id
}

var (
	ratioReply      = httpx.ReplyAs(RatioJSON)
	allocationReply = httpx.ReplyAs(AllocationJSON)
)

type credentialsKey struct{}

// WithCredentials keeps the request's Authorization header in ctx; it is
// forwarded to the portfolio service when a portfolio is looked up there.
func WithCredentials(ctx context.Context, authorization string) context.Context {
	return context.WithValue(ctx, credentialsKey{}, authorization)
}

// withCaller adapts a function of the caller, with its credentials, and
// the request (libauth.WithCaller).
func withCaller[Req any](fn func(ctx context.Context, c profit.Caller, req Req) httpx.Response) endpoint.Endpoint {
	return libauth.WithCaller(func(ctx context.Context, c libauth.Caller, req Req) httpx.Response {
		creds, _ := ctx.Value(credentialsKey{}).(string)
		return fn(ctx, profit.Caller{Caller: c, Credentials: creds}, req)
	})
}

// New builds the endpoints.
func New(s profit.Service) Endpoints {
	return Endpoints{
		CreateRatio: withCaller(func(ctx context.Context, c profit.Caller, req CreateRatioRequest) httpx.Response {
			return ratioReply.Created(s.CreateRatio(ctx, c, req))
		}),
		ListRatios: withCaller(func(ctx context.Context, c profit.Caller, req ListRatiosRequest) httpx.Response {
			return ratioReply.List(s.ListRatios(ctx, c, req.Filter, req.Page))
		}),
		CurrentRatio: withCaller(func(ctx context.Context, c profit.Caller, req CurrentRatioRequest) httpx.Response {
			return ratioReply.OK(s.CurrentRatio(ctx, c, req.PortfolioID))
		}),
		CreateAllocation: withCaller(func(ctx context.Context, c profit.Caller, req CreateAllocationRequest) httpx.Response {
			return allocationReply.Created(s.RecordManualProfit(ctx, c, req))
		}),
		ListAllocations: withCaller(func(ctx context.Context, c profit.Caller, req ListAllocationsRequest) httpx.Response {
			return allocationReply.List(s.ListAllocations(ctx, c, req.Filter, req.Page))
		}),
		GetAllocation: withCaller(func(ctx context.Context, c profit.Caller, req IDRequest) httpx.Response {
			return allocationReply.OK(s.GetAllocation(ctx, c, req.ID))
		}),
	}
}

// nonEmpty is s, or nil when it is empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
