package transport_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/withdrawal/api"
	"github.com/fundplatform/platform/services/withdrawal/internal/endpoint"
	"github.com/fundplatform/platform/services/withdrawal/internal/transport"
)

// The OpenAPI document (api/openapi.json) is written by hand; these tests
// keep it honest: it must be a valid OpenAPI 3 document, describe exactly
// the routes the router registers, follow the contract's conventions, be
// what /openapi.json serves, and describe what the service really answers.

// publicRoutes take no bearer token (CONTRACT §1 "Authentication").
var publicRoutes = []string{
	"GET /openapi.json",
}

// loadOpenAPI loads and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("api/openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// docOp is one operation of the document.
type docOp struct {
	method, path string
	op           *openapi3.Operation
}

func (o docOp) route() string { return o.method + " " + o.path }

// docOps lists the document's operations, sorted like Router.Routes.
func docOps(doc *openapi3.T) []docOp {
	var out []docOp
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out = append(out, docOp{method: strings.ToUpper(method), path: path, op: op})
		}
	}
	slices.SortFunc(out, func(a, b docOp) int { return strings.Compare(a.route(), b.route()) })
	return out
}

// isPublic reports whether an operation's effective security lets a caller
// without credentials in.
func isPublic(doc *openapi3.T, op *openapi3.Operation) bool {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	if len(reqs) == 0 {
		return true
	}
	for _, r := range reqs {
		if len(r) == 0 {
			return true
		}
	}
	return false
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
	// The resources have exactly the contract's fields (CONTRACT §5), all required.
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
	if len(routes) == 0 {
		t.Fatal("the router registers no routes")
	}
	var documented []string
	for _, o := range docOps(doc) {
		documented = append(documented, o.route())
	}
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in api/openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("api/openapi.json documents %s, which the router does not serve", d)
		}
	}
	if !slices.Equal(routes, documented) {
		t.Errorf("routes:\n  %s\ndocumented:\n  %s", strings.Join(routes, "\n  "), strings.Join(documented, "\n  "))
	}
}

func TestOpenAPIOperationsAreComplete(t *testing.T) {
	doc := loadOpenAPI(t)
	ids := map[string]string{}
	for _, o := range docOps(doc) {
		name := o.route()
		if o.op.OperationID == "" {
			t.Errorf("%s: no operationId", name)
		} else if prev, dup := ids[o.op.OperationID]; dup {
			t.Errorf("%s: operationId %q already used by %s", name, o.op.OperationID, prev)
		} else {
			ids[o.op.OperationID] = name
		}
		if o.op.Summary == "" || o.op.Description == "" {
			t.Errorf("%s: summary and description (who may call it) are required", name)
		}

		responses := o.op.Responses.Map()
		has2xx := false
		for status, ref := range responses {
			if strings.HasPrefix(status, "2") {
				has2xx = true
			}
			resp := ref.Value
			if resp.Headers["X-Request-Id"] == nil {
				t.Errorf("%s %s: X-Request-Id header not documented", name, status)
			}
			if status >= "400" {
				mt := resp.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/ErrorEnvelope" {
					t.Errorf("%s %s: error response is not the ErrorEnvelope", name, status)
				}
			}
		}
		if !has2xx {
			t.Errorf("%s: no 2xx response", name)
		}
		if responses["500"] == nil && o.path != "/openapi.json" {
			t.Errorf("%s: no 500 response", name)
		}

		public := isPublic(doc, o.op)
		if want := slices.Contains(publicRoutes, name); public != want {
			t.Errorf("%s: public = %v, want %v", name, public, want)
		}
		if strings.HasPrefix(o.path, "/api/v1/") && responses["401"] == nil {
			t.Errorf("%s: protected operation documents no 401", name)
		}
		if !public && responses["401"] == nil {
			t.Errorf("%s: needs a token but documents no 401", name)
		}

		if o.op.RequestBody != nil {
			rb := o.op.RequestBody.Value
			if !rb.Required {
				t.Errorf("%s: request body not required", name)
			}
			for ct, mt := range rb.Content {
				if ct != "application/json" {
					t.Errorf("%s: request content type %s; the service reads only JSON", name, ct)
				}
				checkClosedObjects(t, name+" request body", mt.Schema)
			}
			for _, status := range []string{"400", "413", "415"} {
				if responses[status] == nil {
					t.Errorf("%s: takes a JSON body but documents no %s", name, status)
				}
			}
		}

		// Lists follow the contract's pagination.
		if ok := responses["200"]; ok != nil {
			if mt := ok.Value.Content.Get("application/json"); mt != nil && mt.Schema.Value.Properties["total"] != nil {
				checkPagination(t, name, o.op)
			}
		}
	}
}

// checkClosedObjects asserts every object in a request schema refuses
// unknown properties, as the decoder does (CONTRACT §1 "JSON").
func checkClosedObjects(t *testing.T, where string, ref *openapi3.SchemaRef) {
	t.Helper()
	if ref == nil || ref.Value == nil {
		t.Errorf("%s: no schema", where)
		return
	}
	s := ref.Value
	if s.Type.Is("object") || len(s.Properties) > 0 {
		ap := s.AdditionalProperties
		if ap.Has == nil || *ap.Has || ap.Schema != nil {
			t.Errorf("%s: object schema must set additionalProperties: false", where)
		}
	}
	for name, p := range s.Properties {
		checkClosedObjects(t, where+"."+name, p)
	}
	if s.Items != nil {
		checkClosedObjects(t, where+"[]", s.Items)
	}
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range group {
			checkClosedObjects(t, where, sub)
		}
	}
}

func checkPagination(t *testing.T, name string, op *openapi3.Operation) {
	t.Helper()
	limit := op.Parameters.GetByInAndName("query", "limit")
	offset := op.Parameters.GetByInAndName("query", "offset")
	if limit == nil || offset == nil {
		t.Errorf("%s: a list must take limit and offset", name)
		return
	}
	ls, ofs := limit.Schema.Value, offset.Schema.Value
	if ls.Min == nil || *ls.Min != 1 || ls.Max == nil || *ls.Max != 1000 || ls.Default != float64(100) {
		t.Errorf("%s: limit must be 1..1000, default 100", name)
	}
	if ofs.Min == nil || *ofs.Min != 0 {
		t.Errorf("%s: offset must be >= 0", name)
	}
	if op.Responses.Value("400") == nil {
		t.Errorf("%s: out-of-range pagination is 400, not documented", name)
	}
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
	for _, o := range docOps(doc) {
		path := o.path
		path = strings.ReplaceAll(path, "{id}", "1")
		path = strings.ReplaceAll(path, "{owner_type}/{owner_id}", "user/1")
		r := e.do(o.method, path, "", nil)
		if !isPublic(doc, o.op) {
			r.fails(t, http.StatusUnauthorized, "unauthenticated")
		} else if r.status == http.StatusUnauthorized {
			t.Errorf("%s: public operation answered 401 without a token: %s", o.route(), r.raw)
		}
		checkResponse(t, doc, o.method, path, r)
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
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	route, params := findRoute(doc, method, u.Path)
	if route == nil {
		t.Errorf("%s %s: no operation in the document", method, target)
		return
	}
	req, _ := http.NewRequest(method, target, nil)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.status,
		Header:                 r.header,
		Body:                   io.NopCloser(bytes.NewReader(r.raw)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: the %d response does not match the document: %v\nbody: %.500s", method, target, r.status, err, r.raw)
	}
}

// findRoute matches a concrete path against the document's templates.
func findRoute(doc *openapi3.T, method, path string) (*routers.Route, map[string]string) {
	segs := strings.Split(path, "/")
	for tmpl, item := range doc.Paths.Map() {
		op := item.GetOperation(method)
		if op == nil {
			continue
		}
		tsegs := strings.Split(tmpl, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		params := map[string]string{}
		match := true
		for i, ts := range tsegs {
			if strings.HasPrefix(ts, "{") && strings.HasSuffix(ts, "}") {
				params[ts[1:len(ts)-1]] = segs[i]
			} else if ts != segs[i] {
				match = false
				break
			}
		}
		if match {
			return &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: op}, params
		}
	}
	return nil, nil
}
