// Package transport is the stats service's HTTP transport: routes of
// docs/api.md#stats-service, request decoding, the error mapping and the
// X-Data-Freshness header.
package transport

import (
	"context"
	"net/http"
	"strconv"
	"time"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/stats/api"
	"github.com/fundplatform/platform/services/stats/internal/endpoint"
	"github.com/fundplatform/platform/services/stats/internal/stats"
)

// FreshnessHeader carries the time of the newest event applied to the read
// models (RFC 3339, UTC; the Unix epoch 1970-01-01T00:00:00Z before any).
const FreshnessHeader = "X-Data-Freshness"

// NewHandler returns the service's routes. verifier checks the bearer token
// of every /api/v1 route; freshness answers the X-Data-Freshness of every
// /api/v1 response (read before the data, so the data is at least that
// fresh); wrap instruments each route (metrics and access log).
func NewHandler(eps endpoint.Endpoints, verifier *libauth.Verifier, freshness func(context.Context) (time.Time, error),
	wrap func(string, http.Handler) http.Handler) *httpx.Router {
	auth := func(h http.Handler) http.Handler { return fresh(freshness, verifier.Require(h)) }
	r := httpx.Routes{Router: httpx.NewRouter(wrap), MapError: codes.Map, Auth: auth}
	r.Protected("GET", "/api/v1/stats/overview", eps.Overview, httpx.NoRequest)
	r.Protected("GET", "/api/v1/stats/acc_profit", eps.ListAccProfit, decodeListAccProfit)
	r.Protected("GET", "/api/v1/stats/acc_profit/{portfolio_id}", eps.AccProfit, decodeAccProfit)
	r.Protected("GET", "/api/v1/stats/hourly", eps.Hourly, decodeHourly)
	r.Protected("GET", "/api/v1/stats/summary", eps.Summary, decodeSummary)

	r.Document(api.OpenAPI)
	return r.Router
}

// fresh sets X-Data-Freshness on the response. When the time cannot be
// read the header is left out; the route still answers (or fails) itself.
func fresh(freshness func(context.Context) (time.Time, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, err := freshness(r.Context()); err == nil {
			w.Header().Set(FreshnessHeader, t.UTC().Format(time.RFC3339Nano))
		}
		next.ServeHTTP(w, r)
	})
}

func decodeListAccProfit(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
	return endpoint.ListAccProfitRequest{Page: p}, err
}

func decodeAccProfit(_ context.Context, r *http.Request) (any, error) {
	id, err := strconv.ParseInt(r.PathValue("portfolio_id"), 10, 64)
	if err != nil || id <= 0 {
		// An id that cannot exist names no portfolio.
		return nil, stats.ErrPortfolioNotFound
	}
	return endpoint.AccProfitRequest{PortfolioID: id}, nil
}

func decodeHourly(_ context.Context, r *http.Request) (any, error) {
	req := endpoint.HourlyRequest{Owner: stats.Owner{Type: r.URL.Query().Get("owner_type")}, Currency: r.URL.Query().Get("currency")}
	switch req.Owner.Type {
	case libauth.OwnerUser, libauth.OwnerTeam, libauth.OwnerPlatform:
	case "":
		return nil, httpx.Validation("validation_failed", "owner_type", "is required")
	default:
		return nil, httpx.Validation("validation_failed", "owner_type", "must be user, team or platform")
	}
	if s := r.URL.Query().Get("owner_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, httpx.Validation("validation_failed", "owner_id", "must be a positive integer (0 or omitted for platform)")
		}
		req.Owner.ID = n
	}
	var err error
	if req.Range.From, req.Range.To, err = httpx.QueryRange(r); err != nil {
		return nil, err
	}
	req.Page, err = httpx.ParsePagination(r)
	return req, err
}

func decodeSummary(_ context.Context, r *http.Request) (any, error) {
	req := endpoint.SummaryRequest{GroupBy: r.URL.Query().Get("group_by"), Currency: r.URL.Query().Get("currency")}
	if req.GroupBy == "" {
		return nil, httpx.Validation("validation_failed", "group_by", "is required")
	}
	var err error
	if req.Range.From, req.Range.To, err = httpx.QueryRange(r); err != nil {
		return nil, err
	}
	req.Page, err = httpx.ParsePagination(r)
	return req, err
}
