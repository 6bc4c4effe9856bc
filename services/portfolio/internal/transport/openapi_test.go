package transport_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/openapitest"
	"github.com/fundplatform/platform/services/portfolio/api"
	"github.com/fundplatform/platform/services/portfolio/internal/endpoint"
	"github.com/fundplatform/platform/services/portfolio/internal/transport"
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
	if doc.Info.Title != "Fund platform — portfolio service" || doc.Info.Version != "1.0.0" || doc.Info.Description == "" {
		t.Errorf("info = %q %q (description %d bytes)", doc.Info.Title, doc.Info.Version, len(doc.Info.Description))
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want one server /", doc.Servers)
	}
	for _, name := range []string{"Portfolio", "NewPortfolio", "PortfolioPatch", "NAVSnapshot", "NewNAVSnapshot",
		"PortfolioEnvelope", "PortfolioListEnvelope", "NAVSnapshotEnvelope", "NAVSnapshotListEnvelope", "ErrorEnvelope", "ErrorData"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("components.schemas lacks %s", name)
		}
	}
	bearer := doc.Components.SecuritySchemes["bearerAuth"]
	if bearer == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" || bearer.Value.BearerFormat != "JWT" {
		t.Errorf("securitySchemes.bearerAuth = %+v, want http bearer JWT", bearer)
	}
	// Amounts in responses are the contract's 8-decimal strings.
	snap := doc.Components.Schemas["NAVSnapshot"].Value
	for _, prop := range []string{"nav", "net_flow", "units", "nav_per_unit", "profit", "period_return"} {
		s := snap.Properties[prop].Value
		if !s.Type.Is("string") || !strings.HasSuffix(s.Pattern, `\.[0-9]{8}$`) {
			t.Errorf("NAVSnapshot.%s is not an 8-decimal string", prop)
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
	openapitest.CheckOperations(t, loadOpenAPI(t), openapitest.Options{Public: publicRoutes})
}

// TestOpenAPIServed checks /openapi.json serves the document, and that what
// the running service answers matches what the document says.
func TestOpenAPIServed(t *testing.T) {
	doc := loadOpenAPI(t)
	e := newEnv(t)

	r := e.do("GET", "/openapi.json", "", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %s", r.status, r.header.Get("Content-Type"))
	}
	if !bytes.Equal(r.raw, api.OpenAPI) {
		t.Fatalf("GET /openapi.json serves %d bytes that differ from api/openapi.json (%d bytes)", len(r.raw), len(api.OpenAPI))
	}
	checkResponse(t, doc, "GET", "/openapi.json", r)

	// Without a token every protected operation is 401, as documented.
	for _, o := range openapitest.Operations(doc) {
		path := strings.ReplaceAll(o.Path, "{id}", "1")
		r := e.do(o.Method, path, "", nil)
		if !openapitest.IsPublic(doc, o.Op) {
			r.fails(t, http.StatusUnauthorized, "unauthenticated")
		}
		checkResponse(t, doc, o.Method, path, r)
	}

	// A tour of the API as its callers use it; every answer must match the
	// document.
	var p portfolioJSON
	r = e.do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "Tour", "description": "d", "user_id": aliceID,
		"team_id": alphaID, "currency": "EUR"})
	checkResponse(t, doc, "POST", "/api/v1/portfolios", r)
	r.ok(t, 201, &p)
	one := fmt.Sprintf("/api/v1/portfolios/%d", p.ID)
	nav := navPath(p.ID)
	steps := []struct {
		method, path, token string
		body                any
		header              map[string]string
		status              int
	}{
		{"POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "x", "user_id": 999, "team_id": alphaID}, nil, 404},
		{"POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "x", "user_id": aliceID, "team_id": 999}, nil, 404},
		{"POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "x", "user_id": aliceID, "team_id": alphaID, "currency": "usd"}, nil, 400},
		{"POST", "/api/v1/portfolios", e.admin, `{"name":"x","size":1}`, nil, 400},
		{"POST", "/api/v1/portfolios", e.admin, `{"name":"` + strings.Repeat("a", httpx.MaxBodyBytes) + `"}`, nil, 413},
		{"POST", "/api/v1/portfolios", e.admin, `{}`, map[string]string{"Content-Type": "text/plain"}, 415},
		{"POST", "/api/v1/portfolios", e.viewer, map[string]any{"name": "x", "user_id": aliceID, "team_id": alphaID}, nil, 403},
		{"GET", "/api/v1/portfolios?user_id=10&team_id=100&limit=10&offset=0", e.alice, nil, nil, 200},
		{"GET", "/api/v1/portfolios?limit=0", e.admin, nil, nil, 400},
		{"GET", one, e.viewer, nil, nil, 200},
		{"GET", one, e.bob, nil, nil, 404},
		{"PATCH", one, e.admin, map[string]any{"name": "Tour II", "user_id": bobID}, nil, 200},
		{"PATCH", one, e.admin, map[string]any{}, nil, 400},
		{"PATCH", one, e.admin, map[string]any{"team_id": 999}, nil, 404},
		{"PATCH", one, e.bob, map[string]any{"name": "y"}, nil, 403},
		{"PATCH", "/api/v1/portfolios/999999", e.admin, map[string]any{"name": "y"}, nil, 404},
		{"POST", nav, e.admin, map[string]any{"as_of": day(1), "nav": "1000", "units": "10"}, map[string]string{"Idempotency-Key": "tour-1"}, 201},
		{"POST", nav, e.admin, map[string]any{"as_of": day(1), "nav": "1000", "units": "10"}, map[string]string{"Idempotency-Key": "tour-1"}, 201},
		{"POST", nav, e.admin, map[string]any{"as_of": day(2), "nav": "1000"}, map[string]string{"Idempotency-Key": "tour-1"}, 409},
		{"POST", nav, e.admin, map[string]any{"as_of": day(2), "nav": "1100.5", "net_flow": -50}, nil, 201},
		{"POST", nav, e.admin, map[string]any{"as_of": day(2), "nav": "1"}, nil, 409},
		{"POST", nav, e.admin, map[string]any{"as_of": day(3), "nav": "1000000", "units": "0.00000001"}, nil, 422},
		{"POST", nav, e.admin, `{"as_of":"` + day(3) + `","nav":1e3}`, nil, 400},
		{"POST", nav, e.admin, map[string]any{"as_of": day(3), "nav": "1"}, map[string]string{"Idempotency-Key": ""}, 400},
		{"POST", nav, e.viewer, map[string]any{"as_of": day(3), "nav": "1"}, nil, 403},
		{"POST", navPath(999999), e.admin, map[string]any{"as_of": day(3), "nav": "1"}, nil, 404},
		{"POST", nav, e.admin, `{"as_of":"x","nav":"` + strings.Repeat("1", httpx.MaxBodyBytes) + `"}`, nil, 413},
		{"POST", nav, e.admin, `{}`, map[string]string{"Content-Type": "text/xml"}, 415},
		{"GET", nav + "?from=" + day(1) + "&to=" + day(2) + "&limit=5&offset=0", e.bob, nil, nil, 200},
		{"GET", nav + "?from=tomorrow", e.admin, nil, nil, 400},
		{"GET", navPath(999999), e.admin, nil, nil, 404},
	}
	for _, s := range steps {
		r := e.send(request{method: s.method, path: s.path, token: s.token, body: s.body, header: s.header})
		if r.status != s.status {
			t.Fatalf("%s %s = %d, want %d: %s", s.method, s.path, r.status, s.status, r.raw)
		}
		checkResponse(t, doc, s.method, s.path, r)
	}

	// The auth service down: 503, as documented.
	e.auth.down.Store(true)
	r = e.do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "x", "user_id": aliceID, "team_id": alphaID})
	r.fails(t, 503, "dependency_unavailable")
	checkResponse(t, doc, "POST", "/api/v1/portfolios", r)
	r = e.do("PATCH", one, e.admin, map[string]any{"user_id": aliceID})
	r.fails(t, 503, "dependency_unavailable")
	checkResponse(t, doc, "PATCH", one, r)
}

// checkResponse validates a response (status, headers, body) against the
// operation the document gives for method and path.
func checkResponse(t *testing.T, doc *openapi3.T, method, target string, r result) {
	t.Helper()
	openapitest.CheckResponse(t, doc, method, target, r.status, r.header, r.raw)
}
