package transport_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/openapitest"
	"github.com/fundplatform/platform/services/profit/api"
	"github.com/fundplatform/platform/services/profit/internal/endpoint"
	"github.com/fundplatform/platform/services/profit/internal/transport"
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
	if doc.Info.Title != "Fund platform — profit service" || doc.Info.Version != "1.0.0" || doc.Info.Description == "" {
		t.Errorf("info = %q %q (description %d bytes)", doc.Info.Title, doc.Info.Version, len(doc.Info.Description))
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want one server /", doc.Servers)
	}
	for _, name := range []string{"Ratio", "Allocation", "NewRatio", "ManualProfit", "ErrorEnvelope", "ErrorData",
		"RatioEnvelope", "RatioListEnvelope", "AllocationEnvelope", "AllocationListEnvelope"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("components.schemas lacks %s", name)
		}
	}
	bearer := doc.Components.SecuritySchemes["bearerAuth"]
	if bearer == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" || bearer.Value.BearerFormat != "JWT" {
		t.Errorf("securitySchemes.bearerAuth = %+v, want http bearer JWT", bearer)
	}
	// The resources have exactly the documented fields
	// (docs/api.md#profit-service), all required.
	for name, fields := range map[string][]string{
		"Ratio": {"id", "portfolio_id", "version", "to_team", "to_platform", "to_user", "created_by", "created_at"},
		"Allocation": {"id", "portfolio_id", "source", "snapshot_id", "period_end", "profit_amount", "loss_carryforward_before",
			"loss_carryforward_after", "distributable", "ratio_id", "ratio_version", "to_team_amount", "to_platform_amount",
			"to_user_amount", "user_id", "team_id", "status", "created_at"},
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
	routes := transport.NewHandler(endpoint.Endpoints{}, nil, func(h http.Handler) http.Handler { return h }, nil).Routes()
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

	// Without a token: protected operations are 401, public ones answer a
	// documented status; every answer matches the document.
	for _, o := range openapitest.Operations(doc) {
		path := o.Path
		path = strings.ReplaceAll(path, "{id}", "1")
		r := e.do(o.Method, path, "", nil)
		if !openapitest.IsPublic(doc, o.Op) {
			r.fails(t, http.StatusUnauthorized, "unauthenticated")
		} else if r.status == http.StatusUnauthorized {
			t.Errorf("%s: public operation answered 401 without a token: %s", o.Route(), r.raw)
		}
		checkResponse(t, doc, o.Method, path, r)
	}

	// A tour of the API as its callers use it; every answer matches the document.
	admin, viewer, owner := e.token(1, "admin"), e.token(2, "viewer"), e.token(7, "user", 3)
	e.portfolio(42, 7, 3)
	e.portfolio(43, 10, 5)
	var a allocation
	steps := []struct {
		method, path, token string
		body                any
		headers             []string
		status              int
		into                any
	}{
		{"GET", ratiosPath + "/current?portfolio_id=42", admin, nil, nil, 404, nil},
		{"POST", allocationsPath, admin, manual(42, "-25", day(1)), []string{"Idempotency-Key", "tour-1"}, 201, nil},
		{"POST", allocationsPath, admin, manual(42, "-25", day(1)), []string{"Idempotency-Key", "tour-1"}, 201, nil},
		{"POST", allocationsPath, admin, manual(42, "-26", day(1)), []string{"Idempotency-Key", "tour-1"}, 409, nil},
		{"POST", allocationsPath, admin, manual(42, "100", day(2)), nil, 201, &a},
		{"POST", allocationsPath, admin, manual(42, "1", day(0)), nil, 409, nil},
		{"POST", allocationsPath, admin, manual(42, "0.123456789", day(3)), nil, 400, nil},
		{"POST", allocationsPath, admin, manual(999, "1", day(3)), nil, 404, nil},
		{"POST", allocationsPath, viewer, manual(42, "1", day(3)), nil, 403, nil},
		{"POST", allocationsPath, admin, `{"portfolio_id":42,"profit_amount":"` + strings.Repeat("1", httpx.MaxBodyBytes) + `"}`, nil, 413, nil},
		{"POST", ratiosPath, admin, shares(42, "0.2", "0.1", "0.6999"), nil, 400, nil},
		{"POST", ratiosPath, admin, shares(42, "0.2", "0.1", "0.7"), nil, 201, nil},
		{"POST", ratiosPath, admin, shares(43, 0.5, 0.5, 0), nil, 201, nil},
		{"POST", ratiosPath, owner, shares(42, "1", "0", "0"), nil, 403, nil},
		{"POST", ratiosPath, admin, shares(999, "1", "0", "0"), nil, 404, nil},
		{"GET", ratiosPath + "/current?portfolio_id=42", owner, nil, nil, 200, nil},
		{"GET", ratiosPath + "/current", owner, nil, nil, 400, nil},
		{"GET", ratiosPath + "/current?portfolio_id=43", owner, nil, nil, 404, nil},
		{"GET", ratiosPath + "?portfolio_id=42&limit=10&offset=0", owner, nil, nil, 200, nil},
		{"GET", ratiosPath, viewer, nil, nil, 200, nil},
		{"GET", ratiosPath, owner, nil, nil, 400, nil},
		{"GET", ratiosPath + "?limit=0", viewer, nil, nil, 400, nil},
		{"GET", allocationsPath + "?portfolio_id=42&from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z&limit=5", owner, nil, nil, 200, nil},
		{"GET", allocationsPath, viewer, nil, nil, 200, nil},
		{"GET", allocationsPath + "?portfolio_id=43", owner, nil, nil, 404, nil},
		{"GET", allocationsPath + "?from=nope", viewer, nil, nil, 400, nil},
		{"GET", allocationsPath + "/999999", admin, nil, nil, 404, nil},
	}
	for _, s := range steps {
		r := e.do(s.method, s.path, s.token, s.body, s.headers...)
		if r.status != s.status {
			t.Fatalf("%s %s = %d, want %d: %s", s.method, s.path, r.status, s.status, r.raw)
		}
		checkResponse(t, doc, s.method, s.path, r)
		if s.into != nil {
			r.ok(t, s.status, s.into)
		}
	}
	for _, tok := range []string{admin, owner} {
		r := e.do("GET", fmt.Sprintf("%s/%d", allocationsPath, a.ID), tok, nil)
		r.ok(t, 200, nil)
		checkResponse(t, doc, "GET", fmt.Sprintf("%s/%d", allocationsPath, a.ID), r)
	}
}

// checkResponse validates a response (status, headers, body) against the
// operation the document gives for method and path.
func checkResponse(t *testing.T, doc *openapi3.T, method, target string, r result) {
	t.Helper()
	openapitest.CheckResponse(t, doc, method, target, r.status, r.header, r.raw)
}
