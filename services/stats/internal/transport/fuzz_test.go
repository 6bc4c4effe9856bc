package transport

import (
	"slices"
	"testing"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/httpx/decodefuzz"
	"github.com/fundplatform/platform/services/stats/internal/endpoint"
)

var fuzzRoutes = []decodefuzz.Route{
	{Route: "GET /api/v1/stats/overview", Decode: httpx.NoRequest, Check: decodefuzz.NoRequest},
	{Route: "GET /api/v1/stats/acc_profit", Decode: decodeListAccProfit, Query: []string{"limit", "offset"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListAccProfitRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
		},
		Valid: []decodefuzz.Input{{Query: "limit=20&offset=40"}}},
	{Route: "GET /api/v1/stats/acc_profit/{portfolio_id}", Decode: decodeAccProfit,
		Check: func(t *testing.T, v any) {
			decodefuzz.ID(t, "portfolio_id", decodefuzz.As[endpoint.AccProfitRequest](t, v).PortfolioID)
		},
		Valid: []decodefuzz.Input{{Path: []string{"42"}}}},
	{Route: "GET /api/v1/stats/hourly", Decode: decodeHourly, Query: []string{"owner_type", "owner_id", "from", "to"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.HourlyRequest](t, v)
			if !slices.Contains([]string{auth.OwnerUser, auth.OwnerTeam, auth.OwnerPlatform}, req.Owner.Type) || req.Owner.ID < 0 {
				t.Fatalf("owner %+v", req.Owner)
			}
			decodefuzz.Range(t, req.Range.From, req.Range.To)
		},
		Valid: []decodefuzz.Input{{Query: "owner_type=user&owner_id=7&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"},
			{Query: "owner_type=platform"}}},
	{Route: "GET /api/v1/stats/summary", Decode: decodeSummary, Query: []string{"group_by", "from", "to"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.SummaryRequest](t, v)
			if req.GroupBy == "" {
				t.Fatal("empty group_by")
			}
			decodefuzz.Range(t, req.Range.From, req.Range.To)
		},
		Valid: []decodefuzz.Input{{Query: "group_by=day&from=2026-01-01T00:00:00Z"}, {Query: "group_by=hour"}}},
	{Route: "GET /openapi.json"},
}

// TestFuzzRoutesCoverEveryRoute fails when a route is served without a
// fuzz case, or a fuzz case names no route.
func TestFuzzRoutesCoverEveryRoute(t *testing.T) {
	// NewHandler only registers routes; nil endpoints are never called.
	served := NewHandler(endpoint.Endpoints{}, nil, nil, nil).Routes()
	decodefuzz.CheckCoverage(t, fuzzRoutes, served)
}

// FuzzDecoders runs the request decoder of a route picked by name (or,
// for any other name, by its hash) on a request built from the fuzzed path
// values, query, Content-Type and body.
func FuzzDecoders(f *testing.F) { decodefuzz.Run(f, fuzzRoutes, codes.Map) }
