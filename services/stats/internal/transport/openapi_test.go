package transport_test

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fundplatform/platform/libs/openapitest"
	"github.com/fundplatform/platform/services/stats/api"
	"github.com/fundplatform/platform/services/stats/internal/endpoint"
	"github.com/fundplatform/platform/services/stats/internal/transport"
)

// The OpenAPI document (api/openapi.json) is written by hand; these tests
// keep it honest: it must be a valid OpenAPI 3 document, describe exactly
// the routes the router registers, follow the contract's conventions, be
// what /openapi.json serves, and describe what the service really answers.

// publicRoutes take no bearer token (docs/api.md#authentication).
var publicRoutes = []string{
	"GET /openapi.json",
}

// loadOpenAPI loads and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	return openapitest.Load(t, api.OpenAPI)
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	if doc.Info.Title != "Fund platform — stats service" || doc.Info.Version != "1.0.0" || doc.Info.Description == "" {
		t.Errorf("info = %q %q (description %d bytes)", doc.Info.Title, doc.Info.Version, len(doc.Info.Description))
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want one server /", doc.Servers)
	}
	for _, name := range []string{"Overview", "Counts", "AccProfit", "Hourly", "SummaryRow", "ErrorEnvelope", "ErrorData",
		"OverviewEnvelope", "AccProfitEnvelope", "AccProfitListEnvelope", "HourlyListEnvelope", "SummaryListEnvelope"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("components.schemas lacks %s", name)
		}
	}
	bearer := doc.Components.SecuritySchemes["bearerAuth"]
	if bearer == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" || bearer.Value.BearerFormat != "JWT" {
		t.Errorf("securitySchemes.bearerAuth = %+v, want http bearer JWT", bearer)
	}
	// The resources have exactly the documented fields
	// (docs/api.md#stats-service), all required.
	for name, fields := range map[string][]string{
		"Overview": {"total_profit", "total_distributed", "to_team_total", "to_platform_total", "to_user_total",
			"loss_carryforward_total", "withdrawals_pending_amount", "withdrawals_completed_amount", "withdrawals_failed_amount",
			"reallocated_total", "counts", "last_event_at"},
		"Counts":     {"portfolios", "allocations", "withdrawals", "reallocations"},
		"AccProfit":  {"portfolio_id", "acc_profit", "distributed", "to_team_total", "to_platform_total", "to_user_total", "updated_at"},
		"Hourly":     {"hour", "profit"},
		"SummaryRow": {"key", "profit", "distributed", "to_team", "to_platform", "to_user", "withdrawn"},
	} {
		s := doc.Components.Schemas[name].Value
		var props []string
		for p := range s.Properties {
			props = append(props, p)
		}
		slices.Sort(props)
		required := slices.Sorted(slices.Values(s.Required))
		want := slices.Sorted(slices.Values(fields))
		if !slices.Equal(props, want) || !slices.Equal(required, want) {
			t.Errorf("%s: properties %v, required %v; want %v", name, props, required, want)
		}
	}
}

// TestOpenAPICoversEveryRoute fails on an undocumented route and on an
// operation the router does not serve.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	// NewHandler only registers routes; nil endpoints are never called.
	routes := transport.NewHandler(endpoint.Endpoints{}, nil, nil, nil).Routes()
	openapitest.CheckRoutes(t, doc, routes)
}

// TestOpenAPIOperationsAreComplete checks every operation follows the
// contract's conventions (see openapitest.CheckOperations).
func TestOpenAPIOperationsAreComplete(t *testing.T) {
	openapitest.CheckOperations(t, loadOpenAPI(t), openapitest.Options{Public: publicRoutes, APIHeaders: []string{"X-Data-Freshness"}})
}

// TestOpenAPIServed checks /openapi.json serves the document, and that what
// the running service answers matches what the document says.
func TestOpenAPIServed(t *testing.T) {
	doc := loadOpenAPI(t)
	e := newEnv(t)

	r := e.do("GET", "/openapi.json", "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %s", r.status, r.header.Get("Content-Type"))
	}
	if !bytes.Equal(r.raw, api.OpenAPI) {
		t.Fatalf("GET /openapi.json serves %d bytes that differ from api/openapi.json (%d bytes)", len(r.raw), len(api.OpenAPI))
	}

	// Without a token: protected operations are 401, public ones answer a
	// documented status; every answer matches the document.
	for _, o := range openapitest.Operations(doc) {
		path := strings.ReplaceAll(o.Path, "{portfolio_id}", "1")
		r := e.do(o.Method, path, "")
		if !openapitest.IsPublic(doc, o.Op) {
			r.fails(t, http.StatusUnauthorized, "unauthenticated")
		} else if r.status == http.StatusUnauthorized {
			t.Errorf("%s: public operation answered 401 without a token: %s", o.Route(), r.raw)
		}
		checkResponse(t, doc, o.Method, path, r)
	}

	// A tour of the API as its callers use it, before and after events;
	// every answer matches the document.
	admin, viewer, owner := e.token(1, "admin"), e.token(2, "viewer"), e.token(7, "user", 3)
	steps := []struct {
		path, token string
		status      int
	}{
		{"/api/v1/stats/overview", viewer, 200},
		{"/api/v1/stats/acc_profit/1", admin, 200},
		{"/api/v1/stats/acc_profit", owner, 200},
		{"/api/v1/stats/summary?group_by=hour", admin, 200},
	}
	tour := func() {
		for _, s := range steps {
			r := e.do("GET", s.path, s.token)
			if r.status != s.status {
				t.Fatalf("GET %s = %d, want %d: %s", s.path, r.status, s.status, r.raw)
			}
			checkResponse(t, doc, "GET", s.path, r)
		}
	}
	tour()
	e.seed()
	steps = append(steps, []struct {
		path, token string
		status      int
	}{
		{"/api/v1/stats/overview", owner, 403},
		{"/api/v1/stats/acc_profit?limit=2&offset=0", admin, 200},
		{"/api/v1/stats/acc_profit?limit=0", admin, 400},
		{"/api/v1/stats/acc_profit/3", owner, 404},
		{"/api/v1/stats/acc_profit/x", owner, 404},
		{"/api/v1/stats/hourly?owner_type=user&owner_id=7&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", owner, 200},
		{"/api/v1/stats/hourly?owner_type=team&owner_id=5", owner, 404},
		{"/api/v1/stats/hourly?owner_type=nobody", owner, 400},
		{"/api/v1/stats/summary?group_by=portfolio", viewer, 200},
		{"/api/v1/stats/summary?group_by=day&from=2026-03-01T00:00:00Z", viewer, 200},
		{"/api/v1/stats/summary?group_by=week", viewer, 400},
		{"/api/v1/stats/summary?group_by=day", owner, 403},
	}...)
	tour()
}

// checkResponse validates a response (status, headers, body) against the
// operation the document gives for method and path.
func checkResponse(t *testing.T, doc *openapi3.T, method, target string, r result) {
	t.Helper()
	openapitest.CheckResponse(t, doc, method, target, r.status, r.header, r.raw)
}
