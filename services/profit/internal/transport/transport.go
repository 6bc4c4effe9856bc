// Package transport is the profit service's HTTP transport: routes of
// docs/api.md#profit-service, request decoding and the error mapping.
package transport

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/shopspring/decimal"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/profit/api"
	"github.com/fundplatform/platform/services/profit/internal/endpoint"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// NewHandler returns the service's routes. verifier checks the bearer token
// of every /api/v1 route; idempotent wraps the routes that take an
// Idempotency-Key (inside authentication, so keys are per caller); wrap
// instruments each route (metrics and access log).
func NewHandler(eps endpoint.Endpoints, verifier *libauth.Verifier, idempotent httpx.Middleware,
	wrap func(string, http.Handler) http.Handler) *httpx.Router {
	r := httpx.Routes{Router: httpx.NewRouter(wrap), MapError: codes.Map, Auth: verifier.Require,
		Before: []kithttp.RequestFunc{keepCredentials}}

	r.Protected("POST", "/api/v1/profit/profit_allocation_ratios", eps.CreateRatio, decodeCreateRatio)
	r.Protected("GET", "/api/v1/profit/profit_allocation_ratios", eps.ListRatios, decodeListRatios)
	r.Protected("GET", "/api/v1/profit/profit_allocation_ratios/current", eps.CurrentRatio, decodeCurrentRatio)

	r.Protected("POST", "/api/v1/profit/allocations", eps.CreateAllocation, decodeCreateAllocation, idempotent)
	r.Protected("GET", "/api/v1/profit/allocations", eps.ListAllocations, decodeListAllocations)
	r.Protected("GET", "/api/v1/profit/allocations/{id}", eps.GetAllocation, decodeID)

	r.Document(api.OpenAPI)
	return r.Router
}

// keepCredentials keeps the caller's Authorization header for the
// portfolio service lookups (profit.Portfolios).
func keepCredentials(ctx context.Context, r *http.Request) context.Context {
	return endpoint.WithCredentials(ctx, r.Header.Get("Authorization"))
}

// ratioBody is the body of POST /profit_allocation_ratios. Shares are kept
// raw so each one's error names its field.
type ratioBody struct {
	PortfolioID *int64          `json:"portfolio_id"`
	ToTeam      json.RawMessage `json:"to_team"`
	ToPlatform  json.RawMessage `json:"to_platform"`
	ToUser      json.RawMessage `json:"to_user"`
}

func requiredID(field string, v *int64) (int64, error) {
	if v == nil {
		return 0, httpx.Validation("validation_failed", field, "is required")
	}
	return *v, nil
}

// share parses one ratio share: a string or number in [0, 1] with at most
// 4 decimal places; anything else is 400 invalid_ratio on that field.
func share(field string, raw json.RawMessage) (decimal.Decimal, error) {
	if raw == nil {
		return decimal.Decimal{}, httpx.Validation("invalid_ratio", field, "is required")
	}
	var r money.Ratio
	if err := json.Unmarshal(raw, &r); err != nil {
		return decimal.Decimal{}, httpx.Validation("invalid_ratio", field, strings.TrimPrefix(err.Error(), money.ErrInvalidRatio.Error()+": "))
	}
	return r.Decimal, nil
}

func decodeCreateRatio(_ context.Context, r *http.Request) (any, error) {
	var b ratioBody
	if err := httpx.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	var req endpoint.CreateRatioRequest
	var err error
	if req.PortfolioID, err = requiredID("portfolio_id", b.PortfolioID); err != nil {
		return nil, err
	}
	if req.ToTeam, err = share("to_team", b.ToTeam); err != nil {
		return nil, err
	}
	if req.ToPlatform, err = share("to_platform", b.ToPlatform); err != nil {
		return nil, err
	}
	if req.ToUser, err = share("to_user", b.ToUser); err != nil {
		return nil, err
	}
	return req, nil
}

// allocationBody is the body of POST /allocations.
type allocationBody struct {
	PortfolioID  *int64          `json:"portfolio_id"`
	ProfitAmount json.RawMessage `json:"profit_amount"`
	PeriodEnd    *string         `json:"period_end"`
}

func decodeCreateAllocation(_ context.Context, r *http.Request) (any, error) {
	var b allocationBody
	if err := httpx.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	var req endpoint.CreateAllocationRequest
	var err error
	if req.PortfolioID, err = requiredID("portfolio_id", b.PortfolioID); err != nil {
		return nil, err
	}
	if req.Amount, err = httpx.RequiredAmount("profit_amount", b.ProfitAmount); err != nil {
		return nil, err
	}
	t, err := httpx.RequiredTime("period_end", b.PeriodEnd)
	req.PeriodEnd = t.UTC()
	return req, err
}

func decodeListRatios(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
	if err != nil {
		return nil, err
	}
	id, err := httpx.QueryInt64(r, "portfolio_id")
	if err != nil {
		return nil, err
	}
	return endpoint.ListRatiosRequest{Filter: profit.RatioFilter{PortfolioID: id}, Page: p}, nil
}

func decodeCurrentRatio(_ context.Context, r *http.Request) (any, error) {
	id, err := httpx.QueryInt64(r, "portfolio_id")
	if err != nil {
		return nil, err
	}
	if id == nil {
		return nil, httpx.Validation("validation_failed", "portfolio_id", "is required")
	}
	return endpoint.CurrentRatioRequest{PortfolioID: *id}, nil
}

func decodeListAllocations(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
	if err != nil {
		return nil, err
	}
	req := endpoint.ListAllocationsRequest{Page: p}
	if req.Filter.PortfolioID, err = httpx.QueryInt64(r, "portfolio_id"); err != nil {
		return nil, err
	}
	req.Filter.From, req.Filter.To, err = httpx.QueryRange(r)
	return req, err
}

func decodeID(_ context.Context, r *http.Request) (any, error) {
	id, err := httpx.PathID(r, "id")
	return endpoint.IDRequest{ID: id}, err
}
