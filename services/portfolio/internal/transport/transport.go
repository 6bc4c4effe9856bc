// Package transport is the portfolio service's HTTP transport: routes of
// docs/api.md#portfolio-service, request decoding and the error mapping.
package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/shopspring/decimal"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/portfolio/api"
	"github.com/fundplatform/platform/services/portfolio/internal/endpoint"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
)

// NewHandler returns the service's routes. verifier checks the bearer
// token of every /api/v1 route; idempotent wraps the routes that take an
// Idempotency-Key (inside the authentication, so keys are per caller); wrap
// instruments each route (metrics and access log). idempotent and wrap may
// be nil.
func NewHandler(eps endpoint.Endpoints, verifier *libauth.Verifier, idempotent httpx.Middleware, wrap func(string, http.Handler) http.Handler) *httpx.Router {
	r := httpx.Routes{Router: httpx.NewRouter(wrap), MapError: mapError, Auth: verifier.Require,
		Before: []kithttp.RequestFunc{keepCredentials}}

	r.Protected("POST", "/api/v1/portfolios", eps.CreatePortfolio, httpx.DecodeBody[portfolio.NewPortfolio])
	r.Protected("GET", "/api/v1/portfolios", eps.ListPortfolios, decodeListPortfolios)
	r.Protected("GET", "/api/v1/portfolios/{id}", eps.GetPortfolio, decodeID)
	r.Protected("PATCH", "/api/v1/portfolios/{id}", eps.UpdatePortfolio, decodeUpdate)
	r.Protected("POST", "/api/v1/portfolios/{id}/nav", eps.RecordNAV, decodeRecordNAV, idempotent)
	r.Protected("GET", "/api/v1/portfolios/{id}/nav", eps.ListNAV, decodeListNAV)
	r.Protected("PUT", "/api/v1/portfolios/{id}/nav/{snapshot_id}", eps.CorrectNAV, decodeCorrectNAV, idempotent)

	r.Document(api.OpenAPI)
	return r.Router
}

// keepCredentials keeps the caller's Authorization header for the auth
// service lookups.
func keepCredentials(ctx context.Context, r *http.Request) context.Context {
	return endpoint.WithCredentials(ctx, r.Header.Get("Authorization"))
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

func decodeListPortfolios(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
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
	if req.Input.AsOf, err = httpx.RequiredTime("as_of", b.AsOf); err != nil {
		return nil, err
	}
	if req.Input, err = navValues(b, req.Input); err != nil {
		return nil, err
	}
	return req, nil
}

// decodeCorrectNAV reads PUT /nav/{snapshot_id}: the body of POST /nav
// with as_of optional (when given, it must be the snapshot's).
func decodeCorrectNAV(_ context.Context, r *http.Request) (any, error) {
	id, err := portfolioID(r)
	if err != nil {
		return nil, err
	}
	snapshotID, err := httpx.PathID(r, "snapshot_id")
	if err != nil {
		return nil, portfolio.ErrSnapshotNotFound
	}
	var b navBody
	if err := httpx.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	req := endpoint.CorrectNAVRequest{PortfolioID: id, SnapshotID: snapshotID}
	if b.AsOf != nil {
		if req.Input.AsOf, err = httpx.RequiredTime("as_of", b.AsOf); err != nil {
			return nil, err
		}
	}
	if req.Input, err = navValues(b, req.Input); err != nil {
		return nil, err
	}
	return req, nil
}

// navValues reads the amounts of a NAV body into in: nav (required),
// net_flow (0 when absent) and units.
func navValues(b navBody, in portfolio.NAVInput) (portfolio.NAVInput, error) {
	nav, err := amount(b.NAV, "nav")
	if err != nil {
		return in, err
	}
	if nav == nil {
		return in, httpx.Validation("validation_failed", "nav", "is required")
	}
	in.NAV = *nav
	netFlow, err := amount(b.NetFlow, "net_flow")
	if err != nil {
		return in, err
	}
	if netFlow != nil {
		in.NetFlow = *netFlow
	}
	in.Units, err = amount(b.Units, "units")
	return in, err
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
	p, err := httpx.ParsePagination(r)
	if err != nil {
		return nil, err
	}
	req := endpoint.ListNAVRequest{PortfolioID: id, Page: p}
	req.Filter.From, req.Filter.To, err = httpx.QueryRange(r)
	return req, err
}
