package transport

import (
	"testing"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/httpx/decodefuzz"
	"github.com/fundplatform/platform/services/portfolio/internal/endpoint"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
)

var fuzzRoutes = []decodefuzz.Route{
	{Route: "POST /api/v1/portfolios", Decode: httpx.DecodeBody[portfolio.NewPortfolio],
		Fields: []string{"name", "description", "user_id", "team_id", "currency"},
		Check:  func(t *testing.T, v any) { decodefuzz.As[portfolio.NewPortfolio](t, v) },
		Valid: []decodefuzz.Input{{Body: `{"name":"Growth","description":"","user_id":7,"team_id":3,"currency":"USD"}`},
			{Body: `{"name":"Growth","user_id":7,"team_id":3}`}}},
	{Route: "GET /api/v1/portfolios", Decode: decodeListPortfolios, Query: []string{"limit", "offset", "user_id", "team_id"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListPortfoliosRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
			decodefuzz.OptionalID(t, "user_id", req.Filter.UserID)
			decodefuzz.OptionalID(t, "team_id", req.Filter.TeamID)
			if req.Filter.Visible != nil {
				t.Fatal("the visibility filter comes from the caller, not the query")
			}
		},
		Valid: []decodefuzz.Input{{Query: "limit=10&offset=0&user_id=7&team_id=3"}, {Query: ""}}},
	{Route: "GET /api/v1/portfolios/{id}", Decode: decodeID,
		Check: func(t *testing.T, v any) { decodefuzz.ID(t, "id", decodefuzz.As[endpoint.IDRequest](t, v).ID) },
		Valid: []decodefuzz.Input{{Path: []string{"42"}}}},
	{Route: "PATCH /api/v1/portfolios/{id}", Decode: decodeUpdate, Fields: []string{"name", "description", "user_id", "team_id"},
		Check: func(t *testing.T, v any) {
			decodefuzz.ID(t, "id", decodefuzz.As[endpoint.UpdatePortfolioRequest](t, v).ID)
		},
		Valid: []decodefuzz.Input{{Path: []string{"42"}, Body: `{"name":"Growth II","user_id":8,"team_id":null}`}}},
	{Route: "POST /api/v1/portfolios/{id}/nav", Decode: decodeRecordNAV, Fields: []string{"as_of", "nav", "net_flow", "units"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.RecordNAVRequest](t, v)
			decodefuzz.ID(t, "id", req.PortfolioID)
			decodefuzz.Time(t, "as_of", req.Input.AsOf, false)
			decodefuzz.Amount(t, "nav", req.Input.NAV)
			decodefuzz.Amount(t, "net_flow", req.Input.NetFlow)
			if req.Input.Units != nil {
				decodefuzz.Amount(t, "units", *req.Input.Units)
			}
		},
		Valid: []decodefuzz.Input{
			{Path: []string{"42"}, Body: `{"as_of":"2026-03-01T12:00:00Z","nav":"1000.50","net_flow":-25,"units":"100.12345678"}`},
			{Path: []string{"42"}, Body: `{"as_of":"2026-03-01T12:00:00.123456+01:00","nav":999999999999.99999999,"net_flow":null,"units":null}`},
			{Path: []string{"42"}, Body: `{"as_of":"2026-03-01T12:00:00Z","nav":"0"}`}}},
	{Route: "GET /api/v1/portfolios/{id}/nav", Decode: decodeListNAV, Query: []string{"from", "to", "limit", "offset"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListNAVRequest](t, v)
			decodefuzz.ID(t, "id", req.PortfolioID)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
			decodefuzz.Range(t, req.Filter.From, req.Filter.To)
		},
		Valid: []decodefuzz.Input{{Path: []string{"42"}, Query: "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00.5%2B01:00&limit=5"}}},
	{Route: "PUT /api/v1/portfolios/{id}/nav/{snapshot_id}", Decode: decodeCorrectNAV, Fields: []string{"as_of", "nav", "net_flow", "units"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.CorrectNAVRequest](t, v)
			decodefuzz.ID(t, "id", req.PortfolioID)
			decodefuzz.ID(t, "snapshot_id", req.SnapshotID)
			decodefuzz.Time(t, "as_of", req.Input.AsOf, false)
			decodefuzz.Amount(t, "nav", req.Input.NAV)
			decodefuzz.Amount(t, "net_flow", req.Input.NetFlow)
			if req.Input.Units != nil {
				decodefuzz.Amount(t, "units", *req.Input.Units)
			}
		},
		Valid: []decodefuzz.Input{
			{Path: []string{"42", "7"}, Body: `{"nav":"1000.50","net_flow":-25,"units":"100.12345678"}`},
			{Path: []string{"42", "7"}, Body: `{"as_of":"2026-03-01T12:00:00Z","nav":"0"}`}}},
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
func FuzzDecoders(f *testing.F) { decodefuzz.Run(f, fuzzRoutes, mapError) }
