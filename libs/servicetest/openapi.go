package servicetest

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fundplatform/platform/libs/openapitest"
)

// OpenAPI is a service's hand-written document (api/openapi.json) and what
// the shared checks must know of the service. Its checks keep the document
// honest: a valid OpenAPI 3 document, exactly the routes the router
// registers, the contract's conventions, what /openapi.json serves, and
// what the service really answers.
type OpenAPI struct {
	// Raw is the embedded document.
	Raw []byte
	// Document is what CheckDocument expects.
	Document openapitest.Document
	// Options are the service's specifics for CheckOperations: its public
	// routes (docs/api.md#authentication) but GET /openapi.json, and the
	// headers every /api/v1/ answer documents.
	Options openapitest.Options
	// Routes are the router's routes ("METHOD /path", sorted).
	Routes func() []string
	// Params sample path parameters for the sweep without a token; one
	// not named is "1".
	Params map[string]string
}

// Load loads and validates the document.
func (o OpenAPI) Load(t testing.TB) *openapi3.T {
	t.Helper()
	return openapitest.Load(t, o.Raw)
}

// CheckDocument loads the document, checks its frame
// (openapitest.CheckDocument) and returns it for a service's own checks.
func (o OpenAPI) CheckDocument(t testing.TB) *openapi3.T {
	t.Helper()
	doc := o.Load(t)
	openapitest.CheckDocument(t, doc, o.Document)
	return doc
}

// CheckRoutes fails on an undocumented route and on an operation the
// router does not serve.
func (o OpenAPI) CheckRoutes(t testing.TB) {
	t.Helper()
	openapitest.CheckRoutes(t, o.Load(t), o.Routes())
}

// CheckOperations checks every operation follows the contract's
// conventions (openapitest.CheckOperations). GET /openapi.json, which every
// service serves without a token (httpx.Routes.Document), is public besides
// the routes Options lists.
func (o OpenAPI) CheckOperations(t testing.TB) {
	t.Helper()
	opts := o.Options
	opts.Public = append(slices.Clone(opts.Public), "GET /openapi.json")
	openapitest.CheckOperations(t, o.Load(t), opts)
}

// Test runs the checks of the document on its own, as subtests: its frame
// (CheckDocument), the routes (CheckRoutes) and the operations
// (CheckOperations); CheckServed checks it against the running service.
func (o OpenAPI) Test(t *testing.T) {
	t.Run("document", func(t *testing.T) { o.CheckDocument(t) })
	t.Run("routes", func(t *testing.T) { o.CheckRoutes(t) })
	t.Run("operations", func(t *testing.T) { o.CheckOperations(t) })
}

// CheckServed checks s serves the document at /openapi.json, that without
// a token every protected operation answers 401 and no public one does,
// and sets s.Doc so every later answer of s is checked against the
// document; it returns the document.
func (o OpenAPI) CheckServed(t testing.TB, s *Server) *openapi3.T {
	t.Helper()
	doc := o.Load(t)
	s.Doc = doc
	r := s.Do("GET", "/openapi.json", "", nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	if !bytes.Equal(r.Raw, o.Raw) {
		t.Fatalf("GET /openapi.json serves %d bytes that differ from api/openapi.json (%d bytes)", len(r.Raw), len(o.Raw))
	}
	for _, op := range openapitest.Operations(doc) {
		r := s.Do(op.Method, openapitest.Sample(op.Path, o.Params), "", nil)
		if !openapitest.IsPublic(doc, op.Op) {
			r.Fails(t, http.StatusUnauthorized, "unauthenticated")
		} else if r.Status == http.StatusUnauthorized {
			t.Errorf("%s: public operation answered 401 without a token: %s", op.Route(), r.Raw)
		}
	}
	return doc
}

// Step is one request of a tour and the status it must answer.
type Step struct {
	Method, Path, Token string
	Body                any
	Headers             []string // name, value pairs
	Status              int
	Data                any // when set, the answer must be a success envelope; its data is decoded here
}

// Call is a step: a request and the status it must answer.
func Call(method, path, token string, body any, status int) Step {
	return Step{Method: method, Path: path, Token: token, Body: body, Status: status}
}

// With sends headers (name, value pairs) too.
func (s Step) With(headers ...string) Step { s.Headers = headers; return s }

// Decode decodes the answer's data into v.
func (s Step) Decode(v any) Step { s.Data = v; return s }

// Tour sends the steps in order; each must answer its status (and, once
// CheckServed has run, match the document).
func (s *Server) Tour(t testing.TB, steps ...Step) {
	t.Helper()
	for _, st := range steps {
		r := s.Do(st.Method, st.Path, st.Token, st.Body, st.Headers...)
		if r.Status != st.Status {
			t.Fatalf("%s %s = %d, want %d: %s", st.Method, st.Path, r.Status, st.Status, r.Raw)
		}
		if st.Data != nil {
			r.OK(t, st.Status, st.Data)
		}
	}
}
