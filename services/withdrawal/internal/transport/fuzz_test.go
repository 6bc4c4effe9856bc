package transport

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/httpx/decodefuzz"
	"github.com/fundplatform/platform/services/withdrawal/internal/endpoint"
)

var fuzzRoutes = []decodefuzz.Route{
	{Route: "GET /api/v1/balances", Decode: decodeListBalances, Query: []string{"owner_type", "limit", "offset"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListBalancesRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
			if req.Filter.ReadableBy != nil {
				t.Fatal("the readable-by filter comes from the caller, not the query")
			}
		},
		Valid: []decodefuzz.Input{{Query: "owner_type=team&limit=50"}}},
	{Route: "GET /api/v1/balances/{owner_type}/{owner_id}", Decode: decodeBalance, Query: []string{"at"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.BalanceRequest](t, v)
			if !req.Owner.Valid() {
				t.Fatalf("owner %+v names no account", req.Owner)
			}
			decodefuzz.OptionalTime(t, "at", req.At)
		},
		Valid: []decodefuzz.Input{{Path: []string{"user", "7"}, Query: "at=2026-03-01T12:00:00Z"}, {Path: []string{"platform", "0"}},
			{Path: []string{"team", "3"}}}},
	{Route: "POST /api/v1/withdrawals", Decode: decodeCreateWithdrawal, Fields: []string{"from_type", "owner_id", "amount"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.CreateWithdrawalRequest](t, v)
			decodefuzz.Amount(t, "amount", req.Amount)
		},
		Valid: []decodefuzz.Input{{Body: `{"from_type":"user","owner_id":7,"amount":"12.5"}`}, {Body: `{"from_type":"platform","amount":0.00000001}`}}},
	{Route: "GET /api/v1/withdrawals", Decode: decodeListWithdrawals, Query: []string{"status", "from_type", "owner_id", "from", "to", "limit", "offset"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListWithdrawalsRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
			if req.Filter.OwnerID != nil && *req.Filter.OwnerID < 0 {
				t.Fatalf("owner_id = %d", *req.Filter.OwnerID)
			}
			decodefuzz.Range(t, req.Filter.From, req.Filter.To)
			if req.Filter.ReadableBy != nil {
				t.Fatal("the readable-by filter comes from the caller, not the query")
			}
		},
		Valid: []decodefuzz.Input{{Query: "status=pending&from_type=user&owner_id=7&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"}}},
	{Route: "GET /api/v1/withdrawals/{id}", Decode: decodeID, Check: fuzzIDRequest, Valid: []decodefuzz.Input{{Path: []string{"1"}}}},
	{Route: "POST /api/v1/withdrawals/{id}/complete", Decode: decodeID, Check: fuzzIDRequest, Valid: []decodefuzz.Input{{Path: []string{"1"}}}},
	{Route: "POST /api/v1/withdrawals/{id}/fail", Decode: decodeFail, Fields: []string{"reason"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.FailRequest](t, v)
			decodefuzz.ID(t, "id", req.ID)
			if strings.TrimSpace(req.Reason) == "" {
				t.Fatal("empty reason")
			}
		},
		Valid: []decodefuzz.Input{{Path: []string{"1"}, Body: `{"reason":"bank rejected the transfer"}`}}},
	{Route: "POST /api/v1/withdrawals/{id}/cancel", Decode: decodeID, Check: fuzzIDRequest, Valid: []decodefuzz.Input{{Path: []string{"1"}}}},
	{Route: "POST /api/v1/reallocations", Decode: decodeCreateReallocation,
		Fields: []string{"from_type", "from_id", "to_type", "to_id", "amount", "reason"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.CreateReallocationRequest](t, v)
			decodefuzz.Amount(t, "amount", req.Amount)
		},
		Valid: []decodefuzz.Input{{Body: `{"from_type":"platform","to_type":"team","to_id":3,"amount":"100","reason":"bonus"}`},
			{Body: `{"from_type":"user","from_id":7,"to_type":"team","to_id":3,"amount":1.5,"reason":""}`}}},
	{Route: "GET /api/v1/reallocations", Decode: decodeListReallocations, Query: []string{"from_type", "to_type", "from", "to", "limit", "offset"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListReallocationsRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
			decodefuzz.Range(t, req.Filter.From, req.Filter.To)
		},
		Valid: []decodefuzz.Input{{Query: "from_type=platform&to_type=team&from=2026-01-01T00:00:00Z"}}},
	{Route: "GET /api/v1/ledger/parked", Decode: decodeListParked, Query: []string{"status", "currency", "limit", "offset"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListParkedRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
			// The status and currency are checked by the service.
			decodefuzz.Text(t, "status", reflect.ValueOf(req.Filter.Status))
			decodefuzz.Text(t, "currency", reflect.ValueOf(req.Filter.Currency))
		},
		Valid: []decodefuzz.Input{{Query: "status=parked&currency=USD&limit=10"}, {Query: ""}}},
	{Route: "POST /api/v1/ledger/parked/{id}/apply", Decode: decodeID, Check: fuzzIDRequest, Valid: []decodefuzz.Input{{Path: []string{"1"}}}},
	{Route: "GET /api/v1/ledger/entries", Decode: decodeListEntries, Query: []string{"account", "from", "to", "limit", "offset"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListEntriesRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
			decodefuzz.Range(t, req.Filter.From, req.Filter.To)
			// The account is free text matched in the database.
			decodefuzz.Text(t, "account", reflect.ValueOf(req.Filter.Account))
		},
		Valid: []decodefuzz.Input{{Query: "account=user:7&from=2026-01-01T00:00:00Z&limit=10"}, {Query: "account=system:payout"}}},
	{Route: "GET /api/v1/ledger/verify", Decode: httpx.NoRequest, Check: decodefuzz.NoRequest},
	{Route: "GET /openapi.json"},
}

func fuzzIDRequest(t *testing.T, v any) {
	decodefuzz.ID(t, "id", decodefuzz.As[endpoint.IDRequest](t, v).ID)
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
