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
	"github.com/fundplatform/platform/services/withdrawal/api"
	"github.com/fundplatform/platform/services/withdrawal/internal/endpoint"
	"github.com/fundplatform/platform/services/withdrawal/internal/transport"
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
	if doc.Info.Title != "Fund platform — withdrawal service" || doc.Info.Version != "1.0.0" || doc.Info.Description == "" {
		t.Errorf("info = %q %q (description %d bytes)", doc.Info.Title, doc.Info.Version, len(doc.Info.Description))
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want one server /", doc.Servers)
	}
	for _, name := range []string{"Balance", "Withdrawal", "Reallocation", "Entry", "Verification", "NewWithdrawal",
		"NewReallocation", "FailWithdrawal", "ErrorEnvelope", "ErrorData", "BalanceEnvelope", "BalanceListEnvelope",
		"WithdrawalEnvelope", "WithdrawalListEnvelope", "ReallocationListEnvelope", "EntryListEnvelope", "VerificationEnvelope"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("components.schemas lacks %s", name)
		}
	}
	bearer := doc.Components.SecuritySchemes["bearerAuth"]
	if bearer == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" || bearer.Value.BearerFormat != "JWT" {
		t.Errorf("securitySchemes.bearerAuth = %+v, want http bearer JWT", bearer)
	}
	// The resources have exactly the documented fields
	// (docs/api.md#withdrawal-service), all required.
	for name, fields := range map[string][]string{
		"Balance":      {"owner_type", "owner_id", "credited", "reallocated_in", "reallocated_out", "held", "withdrawn", "available"},
		"Withdrawal":   {"id", "from_type", "owner_id", "amount", "status", "reason", "requested_by", "created_at", "completed_at"},
		"Entry":        {"id", "transfer_id", "account", "amount", "kind", "ref_type", "ref_id", "created_at", "hash"},
		"Verification": {"ok", "accounts", "entries", "first_bad_entry_id"},
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
		path = strings.ReplaceAll(path, "{owner_type}/{owner_id}", "user/1")
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
	e.credit(7, 3, "100", "50", "10")
	var w withdrawal
	wpath := func(action string) string { return fmt.Sprintf("%s/%d/%s", withdrawalsPath, w.ID, action) }
	steps := []struct {
		method  string
		path    func() string
		token   string
		body    any
		headers []string
		status  int
		into    any
	}{
		{"GET", fixed("/api/v1/balances?owner_type=user&limit=10&offset=0"), viewer, nil, nil, 200, nil},
		{"GET", fixed("/api/v1/balances?limit=0"), viewer, nil, nil, 400, nil},
		{"GET", fixed("/api/v1/balances/user/7"), owner, nil, nil, 200, nil},
		{"GET", fixed("/api/v1/balances/user/7?at=2026-01-01T00:00:00Z"), owner, nil, nil, 200, nil},
		{"GET", fixed("/api/v1/balances/user/8"), owner, nil, nil, 404, nil},
		{"POST", fixed(withdrawalsPath), owner, withdrawalBody("user", 7, "10"), []string{"Idempotency-Key", "tour-1"}, 201, &w},
		{"POST", fixed(withdrawalsPath), owner, withdrawalBody("user", 7, "10"), []string{"Idempotency-Key", "tour-1"}, 201, nil},
		{"POST", fixed(withdrawalsPath), owner, withdrawalBody("user", 7, "11"), []string{"Idempotency-Key", "tour-1"}, 409, nil},
		{"POST", fixed(withdrawalsPath), owner, withdrawalBody("user", 7, "1000"), nil, 422, nil},
		{"POST", fixed(withdrawalsPath), owner, withdrawalBody("team", 3, "1"), nil, 403, nil},
		{"POST", fixed(withdrawalsPath), owner, withdrawalBody("user", 7, "0"), nil, 400, nil},
		{"POST", fixed(withdrawalsPath), admin, `{"from_type":"user","owner_id":7,"amount":"` + strings.Repeat("1", httpx.MaxBodyBytes) + `"}`, nil, 413, nil},
		{"GET", fixed(withdrawalsPath + "?status=pending&from_type=user&owner_id=7&from=2026-01-01T00:00:00Z"), viewer, nil, nil, 200, nil},
		{"GET", func() string { return fmt.Sprintf("%s/%d", withdrawalsPath, w.ID) }, owner, nil, nil, 200, nil},
		{"POST", func() string { return wpath("complete") }, owner, nil, nil, 403, nil},
		{"POST", func() string { return wpath("fail") }, admin, map[string]any{}, nil, 400, nil},
		{"POST", func() string { return wpath("complete") }, admin, nil, []string{"Idempotency-Key", "tour-2"}, 200, nil},
		{"POST", func() string { return wpath("fail") }, admin, map[string]any{"reason": "x"}, nil, 409, nil},
		{"POST", func() string { return wpath("cancel") }, e.token(8, "user"), nil, nil, 404, nil},
		{"POST", fixed(withdrawalsPath + "/999999/cancel"), admin, nil, nil, 404, nil},
		{"POST", fixed(reallocationsPath), admin, map[string]any{"from_type": "team", "from_id": 3, "to_type": "platform",
			"amount": "5", "reason": "fee"}, nil, 201, nil},
		{"POST", fixed(reallocationsPath), admin, map[string]any{"from_type": "team", "from_id": 3, "to_type": "platform",
			"amount": "500", "reason": "fee"}, nil, 422, nil},
		{"POST", fixed(reallocationsPath), viewer, map[string]any{"from_type": "team", "from_id": 3, "to_type": "platform",
			"amount": "5", "reason": "fee"}, nil, 403, nil},
		{"GET", fixed(reallocationsPath + "?from_type=team&to_type=platform"), viewer, nil, nil, 200, nil},
		{"GET", fixed(reallocationsPath), owner, nil, nil, 403, nil},
		{"GET", fixed("/api/v1/ledger/entries?account=user:7&limit=5"), viewer, nil, nil, 200, nil},
		{"GET", fixed("/api/v1/ledger/entries?from=nope"), viewer, nil, nil, 400, nil},
		{"GET", fixed("/api/v1/ledger/verify"), admin, nil, nil, 200, nil},
		{"GET", fixed("/api/v1/ledger/verify"), owner, nil, nil, 403, nil},
	}
	for _, s := range steps {
		path := s.path()
		r := e.do(s.method, path, s.token, s.body, s.headers...)
		if r.status != s.status {
			t.Fatalf("%s %s = %d, want %d: %s", s.method, path, r.status, s.status, r.raw)
		}
		checkResponse(t, doc, s.method, path, r)
		if s.into != nil {
			r.ok(t, s.status, s.into)
		}
	}
}

func fixed(path string) func() string { return func() string { return path } }

// checkResponse validates a response (status, headers, body) against the
// operation the document gives for method and path.
func checkResponse(t *testing.T, doc *openapi3.T, method, target string, r result) {
	t.Helper()
	openapitest.CheckResponse(t, doc, method, target, r.status, r.header, r.raw)
}
