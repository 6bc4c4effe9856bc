package transport

import (
	"net/http"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/httpx/decodefuzz"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/profit/internal/endpoint"
)

var fuzzRoutes = []decodefuzz.Route{
	{Route: "POST /api/v1/profit/profit_allocation_ratios", Decode: decodeCreateRatio,
		Fields: []string{"portfolio_id", "to_team", "to_platform", "to_user"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.CreateRatioRequest](t, v)
			fuzzRatio(t, "to_team", req.ToTeam)
			fuzzRatio(t, "to_platform", req.ToPlatform)
			fuzzRatio(t, "to_user", req.ToUser)
		},
		Valid: []decodefuzz.Input{{Body: `{"portfolio_id":42,"to_team":"0.2","to_platform":0.1,"to_user":"0.7000"}`},
			{Body: `{"portfolio_id":42,"to_team":"1","to_platform":"0","to_user":0}`}}},
	{Route: "GET /api/v1/profit/profit_allocation_ratios", Decode: decodeListRatios, Query: []string{"portfolio_id", "limit", "offset"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListRatiosRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
			decodefuzz.OptionalID(t, "portfolio_id", req.Filter.PortfolioID)
		},
		Valid: []decodefuzz.Input{{Query: "portfolio_id=42&limit=10&offset=10"}}},
	{Route: "GET /api/v1/profit/profit_allocation_ratios/current", Decode: decodeCurrentRatio, Query: []string{"portfolio_id"},
		Check: func(t *testing.T, v any) {
			decodefuzz.ID(t, "portfolio_id", decodefuzz.As[endpoint.CurrentRatioRequest](t, v).PortfolioID)
		},
		Valid: []decodefuzz.Input{{Query: "portfolio_id=42"}}},
	{Route: "POST /api/v1/profit/allocations", Decode: decodeCreateAllocation,
		Fields: []string{"portfolio_id", "profit_amount", "period_end"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.CreateAllocationRequest](t, v)
			decodefuzz.Amount(t, "profit_amount", req.Amount)
			decodefuzz.Time(t, "period_end", req.PeriodEnd, true)
		},
		Valid: []decodefuzz.Input{{Body: `{"portfolio_id":42,"profit_amount":"-150.25","period_end":"2026-03-01T12:00:00Z"}`},
			{Body: `{"portfolio_id":42,"profit_amount":100.12345678,"period_end":"2026-03-01T12:00:00.5-05:00"}`}}},
	{Route: "GET /api/v1/profit/allocations", Decode: decodeListAllocations, Query: []string{"portfolio_id", "from", "to", "limit", "offset"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListAllocationsRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
			decodefuzz.OptionalID(t, "portfolio_id", req.Filter.PortfolioID)
			decodefuzz.Range(t, req.Filter.From, req.Filter.To)
			if req.Filter.ReadableBy != nil {
				t.Fatal("the readable-by filter comes from the caller, not the query")
			}
		},
		Valid: []decodefuzz.Input{{Query: "portfolio_id=42&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&limit=1000"}}},
	{Route: "GET /api/v1/profit/allocations/{id}", Decode: decodeID,
		Check: func(t *testing.T, v any) { decodefuzz.ID(t, "id", decodefuzz.As[endpoint.IDRequest](t, v).ID) },
		Valid: []decodefuzz.Input{{Path: []string{"11"}}}},
	{Route: "GET /openapi.json"},
}

// fuzzRatio fails unless d is in [0, 1] with at most 4 fractional digits.
func fuzzRatio(t *testing.T, field string, d decimal.Decimal) {
	t.Helper()
	if !d.Truncate(money.RatioPlaces).Equal(d) || d.IsNegative() || d.GreaterThan(decimal.NewFromInt(1)) {
		t.Fatalf("%s = %s breaks the ratio rules", field, d)
	}
}

// TestFuzzRoutesCoverEveryRoute fails when a route is served without a
// fuzz case, or a fuzz case names no route.
func TestFuzzRoutesCoverEveryRoute(t *testing.T) {
	// NewHandler only registers routes; nil endpoints are never called.
	served := NewHandler(endpoint.Endpoints{}, nil, func(h http.Handler) http.Handler { return h }, nil).Routes()
	decodefuzz.CheckCoverage(t, fuzzRoutes, served)
}

// FuzzDecoders runs the request decoder of a route picked by name (or,
// for any other name, by its hash) on a request built from the fuzzed path
// values, query, Content-Type and body.
func FuzzDecoders(f *testing.F) { decodefuzz.Run(f, fuzzRoutes, codes.Map) }
