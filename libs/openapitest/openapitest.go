// Package openapitest holds the generic checks the services' tests run
// against their hand-written OpenAPI documents: the document is a valid
// OpenAPI 3 document, describes exactly the routes the router registers,
// follows the contract's conventions, and describes what the service
// really answers.
package openapitest

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Load loads and validates a document.
func Load(t testing.TB, raw []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("api/openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// Op is one operation of a document.
type Op struct {
	Method, Path string
	Op           *openapi3.Operation
}

// Route is the operation as "METHOD /path", the form Router.Routes uses.
func (o Op) Route() string { return o.Method + " " + o.Path }

// Operations lists the document's operations, sorted like Router.Routes.
func Operations(doc *openapi3.T) []Op {
	var out []Op
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out = append(out, Op{Method: strings.ToUpper(method), Path: path, Op: op})
		}
	}
	slices.SortFunc(out, func(a, b Op) int { return strings.Compare(a.Route(), b.Route()) })
	return out
}

// IsPublic reports whether an operation's effective security lets a caller
// without credentials in.
func IsPublic(doc *openapi3.T, op *openapi3.Operation) bool {
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

// CheckRoutes fails on a route the document does not describe and on an
// operation the router does not serve; routes is Router.Routes().
func CheckRoutes(t testing.TB, doc *openapi3.T, routes []string) {
	t.Helper()
	if len(routes) == 0 {
		t.Fatal("the router registers no routes")
	}
	var documented []string
	for _, o := range Operations(doc) {
		documented = append(documented, o.Route())
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

// Options are a service's specifics for CheckOperations.
type Options struct {
	// Public lists the routes ("METHOD /path") that take no bearer token;
	// every other operation must require one and document a 401.
	Public []string
	// APIHeaders are response headers, besides X-Request-Id, every
	// response of an /api/v1/ operation must document.
	APIHeaders []string
}

// CheckOperations checks every operation follows the contract: a unique
// operationId, a summary and description, a 2xx and (but for
// /openapi.json) a 500 response, X-Request-Id on every response, the
// ErrorEnvelope on every error, security as in opts.Public with a 401 when
// protected, a required, JSON-only, closed request body with 400/413/415,
// and the contract's pagination on lists.
func CheckOperations(t testing.TB, doc *openapi3.T, opts Options) {
	t.Helper()
	ids := map[string]string{}
	for _, o := range Operations(doc) {
		name := o.Route()
		if o.Op.OperationID == "" {
			t.Errorf("%s: no operationId", name)
		} else if prev, dup := ids[o.Op.OperationID]; dup {
			t.Errorf("%s: operationId %q already used by %s", name, o.Op.OperationID, prev)
		} else {
			ids[o.Op.OperationID] = name
		}
		if o.Op.Summary == "" || o.Op.Description == "" {
			t.Errorf("%s: summary and description (who may call it) are required", name)
		}

		api := strings.HasPrefix(o.Path, "/api/v1/")
		responses := o.Op.Responses.Map()
		has2xx := false
		for status, ref := range responses {
			if strings.HasPrefix(status, "2") {
				has2xx = true
			}
			resp := ref.Value
			if resp.Headers["X-Request-Id"] == nil {
				t.Errorf("%s %s: X-Request-Id header not documented", name, status)
			}
			for _, h := range opts.APIHeaders {
				if api && resp.Headers[h] == nil {
					t.Errorf("%s %s: %s header not documented", name, status, h)
				}
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
		if responses["500"] == nil && o.Path != "/openapi.json" {
			t.Errorf("%s: no 500 response", name)
		}

		listed := slices.Contains(opts.Public, name)
		public := IsPublic(doc, o.Op)
		if public != listed {
			t.Errorf("%s: public = %v, want %v", name, public, listed)
		}
		if api && !listed && responses["401"] == nil {
			t.Errorf("%s: protected operation documents no 401", name)
		}
		if !public && responses["401"] == nil {
			t.Errorf("%s: needs a token but documents no 401", name)
		}

		if o.Op.RequestBody != nil {
			rb := o.Op.RequestBody.Value
			if !rb.Required {
				t.Errorf("%s: request body not required", name)
			}
			for ct, mt := range rb.Content {
				if ct != "application/json" {
					t.Errorf("%s: request content type %s; the service reads only JSON", name, ct)
				}
				CheckClosedObjects(t, name+" request body", mt.Schema)
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
				CheckPagination(t, name, o.Op)
			}
		}
	}
}

// CheckClosedObjects asserts every object in a request schema refuses
// unknown properties, as the decoder does (docs/api.md#json-requests).
func CheckClosedObjects(t testing.TB, where string, ref *openapi3.SchemaRef) {
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
		CheckClosedObjects(t, where+"."+name, p)
	}
	if s.Items != nil {
		CheckClosedObjects(t, where+"[]", s.Items)
	}
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range group {
			CheckClosedObjects(t, where, sub)
		}
	}
}

// CheckPagination asserts a list operation takes the contract's limit
// (1..1000, default 100) and offset (>= 0) and documents 400 for them.
func CheckPagination(t testing.TB, name string, op *openapi3.Operation) {
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

// CheckResponse validates a response (status, headers, body) against the
// operation the document gives for method and target (a path with an
// optional query).
func CheckResponse(t testing.TB, doc *openapi3.T, method, target string, status int, header http.Header, body []byte) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	route, params := FindRoute(doc, method, u.Path)
	if route == nil {
		t.Errorf("%s %s: no operation in the document", method, target)
		return
	}
	req, _ := http.NewRequest(method, target, nil)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: the %d response does not match the document: %v\nbody: %.500s", method, target, status, err, body)
	}
}

// FindRoute matches a concrete path against the document's templates; it
// returns nil when no operation matches.
func FindRoute(doc *openapi3.T, method, path string) (*routers.Route, map[string]string) {
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

// Document is what CheckDocument expects of a service's document.
type Document struct {
	// Title is info.title.
	Title string
	// Schemas are the component schemas it must declare.
	Schemas []string
	// Fields are, per resource schema, its properties: exactly these, all
	// required (the resources of docs/api.md).
	Fields map[string][]string
}

// CheckDocument checks the document's frame: OpenAPI 3.x, the title,
// version 1.0.0 and a description, one server "/", the listed schemas, the
// bearerAuth scheme (docs/api.md#authentication) and the resources' fields.
func CheckDocument(t testing.TB, doc *openapi3.T, want Document) {
	t.Helper()
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	if doc.Info.Title != want.Title || doc.Info.Version != "1.0.0" || doc.Info.Description == "" {
		t.Errorf("info = %q %q (description %d bytes)", doc.Info.Title, doc.Info.Version, len(doc.Info.Description))
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want one server /", doc.Servers)
	}
	for _, name := range want.Schemas {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("components.schemas lacks %s", name)
		}
	}
	bearer := doc.Components.SecuritySchemes["bearerAuth"]
	if bearer == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" || bearer.Value.BearerFormat != "JWT" {
		t.Errorf("securitySchemes.bearerAuth = %+v, want http bearer JWT", bearer)
	}
	for name, fields := range want.Fields {
		ref := doc.Components.Schemas[name]
		if ref == nil {
			t.Errorf("components.schemas lacks %s", name)
			continue
		}
		props := slices.Sorted(maps.Keys(ref.Value.Properties))
		required := slices.Sorted(slices.Values(ref.Value.Required))
		fields := slices.Sorted(slices.Values(fields))
		if !slices.Equal(props, fields) || !slices.Equal(required, fields) {
			t.Errorf("%s: properties %v, required %v; want %v", name, props, required, fields)
		}
	}
}

// Sample fills a path template's parameters: each {name} becomes
// values[name], or "1".
func Sample(template string, values map[string]string) string {
	segs := strings.Split(template, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			v, ok := values[s[1:len(s)-1]]
			if !ok {
				v = "1"
			}
			segs[i] = v
		}
	}
	return strings.Join(segs, "/")
}
