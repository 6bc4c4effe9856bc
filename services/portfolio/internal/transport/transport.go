// Package transport is the portfolio service's HTTP transport: routes of
// docs/api.md#portfolio-service, request decoding and the error mapping.
package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/shopspring/decimal"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/portfolio/api"
	"github.com/fundplatform/platform/services/portfolio/internal/endpoint"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
)

// Middleware wraps one route's handler.
type Middleware = func(http.Handler) http.Handler

// NewHandler returns the service's routes. verifier checks the bearer
// token of every /api/v1 route; idempotent wraps the routes that take an
// Idempotency-Key (inside the authentication, so keys are per caller); wrap
// instruments each route (metrics and access log). idempotent and wrap may
// be nil.
func NewHandler(eps endpoint.Endpoints, verifier *libauth.Verifier, idempotent Middleware, wrap func(string, http.Handler) http.Handler) *httpx.Router {
	if idempotent == nil {
		idempotent = func(h http.Handler) http.Handler { return h }
	}
	r := httpx.NewRouter(wrap)
	server := func(ep kitEndpoint, dec kithttp.DecodeRequestFunc) http.Handler {
		opts := append(httpx.ServerOptions(mapError), kithttp.ServerBefore(keepCredentials))
		return kithttp.NewServer(ep, dec, httpx.EncodeResponse(mapError), opts...)
	}
	protected := func(method, path string, ep kitEndpoint, dec kithttp.DecodeRequestFunc) {
		r.Handle(method, path, verifier.Require(server(ep, dec)))
	}

	protected("POST", "/api/v1/portfolios", eps.CreatePortfolio, decodeBody[portfolio.NewPortfolio])
	protected("GET", "/api/v1/portfolios", eps.ListPortfolios, decodeListPortfolios)
	protected("GET", "/api/v1/portfolios/{id}", eps.GetPortfolio, decodeID)
	protected("PATCH", "/api/v1/portfolios/{id}", eps.UpdatePortfolio, decodeUpdate)
	r.Handle("POST", "/api/v1/portfolios/{id}/nav", verifier.Require(idempotent(server(eps.RecordNAV, decodeRecordNAV))))
	protected("GET", "/api/v1/portfolios/{id}/nav", eps.ListNAV, decodeListNAV)

	r.Handle("GET", "/openapi.json", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(api.OpenAPI)
	}))
	return r
}

type kitEndpoint = func(context.Context, any) (any, error)

// keepCredentials keeps the caller's Authorization header for the auth
// service lookups.
func keepCredentials(ctx context.Context, r *http.Request) context.Context {
	return endpoint.WithCredentials(ctx, r.Header.Get("Authorization"))
}

func decodeBody[T any](_ context.Context, r *http.Request) (any, error) {
	var v T
	if err := httpx.DecodeJSON(r, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// portfolioID reads the {id} of the path; one that cannot exist is an
// unknown portfolio.
func portfolioID(r *http.Request) (int64, error) {
	id, err := httpx.PathID(r, "id")
	if err != nil {
		return 0, portfolio.ErrPortfolioNotFound
	}
	return id, nil
}

func decodeID(_ context.Context, r *http.Request) (any, error) {
	id, err := portfolioID(r)
	return endpoint.IDRequest{ID: id}, err
}

func page(r *http.Request) (portfolio.Page, error) {
	return httpx.ParsePagination(r)
}

func decodeListPortfolios(_ context.Context, r *http.Request) (any, error) {
	p, err := page(r)
	if err != nil {
		return nil, err
	}
	req := endpoint.ListPortfoliosRequest{Page: p}
	if req.Filter.UserID, err = httpx.QueryInt64(r, "user_id"); err != nil {
		return nil, err
	}
	if req.Filter.TeamID, err = httpx.QueryInt64(r, "team_id"); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeUpdate(_ context.Context, r *http.Request) (any, error) {
	id, err := portfolioID(r)
	if err != nil {
		return nil, err
	}
	var patch portfolio.Patch
	if err := httpx.DecodeJSON(r, &patch); err != nil {
		return nil, err
	}
	return endpoint.UpdatePortfolioRequest{ID: id, Patch: patch}, nil
}

// navBody is the body of POST /nav. Amounts are read raw so that a bad one
// is reported with its field's name.
type navBody struct {
	AsOf    *string         `json:"as_of"`
	NAV     json.RawMessage `json:"nav"`
	NetFlow json.RawMessage `json:"net_flow"`
	Units   json.RawMessage `json:"units"`
}

func decodeRecordNAV(_ context.Context, r *http.Request) (any, error) {
	id, err := portfolioID(r)
	if err != nil {
		return nil, err
	}
	var b navBody
	if err := httpx.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	req := endpoint.RecordNAVRequest{PortfolioID: id}
	if b.AsOf == nil {
		return nil, httpx.Validation("validation_failed", "as_of", "is required")
	}
	if req.Input.AsOf, err = time.Parse(time.RFC3339Nano, *b.AsOf); err != nil || req.Input.AsOf.UTC().Year() < 0 || req.Input.AsOf.UTC().Year() > 9999 {
		return nil, httpx.Validation("validation_failed", "as_of", "must be an RFC 3339 time")
	}
	nav, err := amount(b.NAV, "nav")
	if err != nil {
		return nil, err
	}
	if nav == nil {
		return nil, httpx.Validation("validation_failed", "nav", "is required")
	}
	req.Input.NAV = *nav
	netFlow, err := amount(b.NetFlow, "net_flow")
	if err != nil {
		return nil, err
	}
	if netFlow != nil {
		req.Input.NetFlow = *netFlow
	}
	if req.Input.Units, err = amount(b.Units, "units"); err != nil {
		return nil, err
	}
	return req, nil
}

// amount parses an optional amount field with the contract's rules: nil
// when absent or null, 400 invalid_amount naming the field when bad.
func amount(raw json.RawMessage, field string) (*decimal.Decimal, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var a money.Amount
	if err := a.UnmarshalJSON(raw); err != nil {
		reason := strings.TrimPrefix(err.Error(), money.ErrInvalidAmount.Error()+": ")
		if !errors.Is(err, money.ErrInvalidAmount) {
			reason = "must be a decimal number"
		}
		return nil, httpx.Validation("invalid_amount", field, reason)
	}
	return &a.Decimal, nil
}

func decodeListNAV(_ context.Context, r *http.Request) (any, error) {
	id, err := portfolioID(r)
	if err != nil {
		return nil, err
	}
	p, err := page(r)
	if err != nil {
		return nil, err
	}
	req := endpoint.ListNAVRequest{PortfolioID: id, Page: p}
	if req.Filter.From, err = httpx.QueryTime(r, "from"); err != nil {
		return nil, err
	}
	if req.Filter.To, err = httpx.QueryTime(r, "to"); err != nil {
		return nil, err
	}
	return req, nil
}
