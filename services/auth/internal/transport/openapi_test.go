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
	"github.com/fundplatform/platform/services/auth/api"
	"github.com/fundplatform/platform/services/auth/internal/endpoint"
	"github.com/fundplatform/platform/services/auth/internal/transport"
)

// The OpenAPI document (api/openapi.json) is written by hand; these tests
// keep it honest: it must be a valid OpenAPI 3 document, describe exactly
// the routes the router registers, follow the contract's conventions, be
// what /openapi.json serves, and describe what the service really answers.

// publicRoutes take no bearer token (docs/api.md#authentication).
var publicRoutes = []string{
	"GET /.well-known/jwks.json",
	"GET /api/v1/auth/jwks.json",
	"GET /openapi.json",
	"POST /api/v1/auth/login",
	"POST /api/v1/auth/refresh",
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
	if doc.Info.Title != "Fund platform — auth service" || doc.Info.Version != "1.0.0" || doc.Info.Description == "" {
		t.Errorf("info = %q %q (description %d bytes)", doc.Info.Title, doc.Info.Version, len(doc.Info.Description))
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want one server /", doc.Servers)
	}
	for _, name := range []string{"User", "Team", "TokenPair", "JWKS", "JWK", "ErrorEnvelope", "ErrorData",
		"UserEnvelope", "UserListEnvelope", "TeamEnvelope", "TeamListEnvelope", "TokenPairEnvelope"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("components.schemas lacks %s", name)
		}
	}
	bearer := doc.Components.SecuritySchemes["bearerAuth"]
	if bearer == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" || bearer.Value.BearerFormat != "JWT" {
		t.Errorf("securitySchemes.bearerAuth = %+v, want http bearer JWT", bearer)
	}
	// The user schema never exposes a password.
	for prop := range doc.Components.Schemas["User"].Value.Properties {
		if strings.Contains(prop, "password") || strings.Contains(prop, "hash") {
			t.Errorf("User has property %s", prop)
		}
	}
}

// TestOpenAPICoversEveryRoute fails on an undocumented route and on an
// operation the router does not serve.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	// NewHandler only registers routes; nil endpoints are never called.
	routes := transport.NewHandler(endpoint.Endpoints{}, nil, nil).Routes()
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
		for _, p := range []string{"{id}", "{user_id}"} {
			path = strings.ReplaceAll(path, p, "1")
		}
		r := e.do(o.Method, path, "", nil)
		if !openapitest.IsPublic(doc, o.Op) {
			r.fails(t, http.StatusUnauthorized, "unauthenticated")
		} else if r.status == http.StatusUnauthorized {
			t.Errorf("%s: public operation answered 401 without a token: %s", o.Route(), r.raw)
		}
		checkResponse(t, doc, o.Method, path, r)
	}

	// A tour of the API as its callers use it.
	var tk tokens
	r = e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": adminPass})
	checkResponse(t, doc, "POST", "/api/v1/auth/login", r)
	r.ok(t, 200, &tk)
	admin := tk.AccessToken
	var u user
	var tm team
	steps := []struct {
		method, path, token string
		body                any
		status              int
		into                any
	}{
		{"GET", "/api/v1/auth/me", admin, nil, 200, &u},
		{"POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"}, 401, nil},
		{"POST", "/api/v1/auth/login", "", `{"email":"a","password":"b","remember":true}`, 400, nil},
		{"POST", "/api/v1/users", admin, map[string]string{"email": "Olga@Example.com", "username": "olga",
			"password": "user-password-123", "role": "user"}, 201, nil},
		{"POST", "/api/v1/users", admin, map[string]string{"email": "olga@example.com", "username": "o2",
			"password": "user-password-123", "role": "user"}, 409, nil},
		{"POST", "/api/v1/users", admin, map[string]string{"email": "pat@example.com", "username": "pat",
			"password": "short", "role": "user"}, 400, nil},
		{"POST", "/api/v1/users", admin, `{"email":"` + strings.Repeat("a", httpx.MaxBodyBytes) + `"}`, 413, nil},
		{"GET", "/api/v1/users?role=user&is_active=true&limit=10&offset=0", admin, nil, 200, nil},
		{"GET", "/api/v1/users?limit=0", admin, nil, 400, nil},
		{"GET", "/api/v1/users/999999", admin, nil, 404, nil},
		{"POST", "/api/v1/teams", admin, map[string]string{"name": "Gamma", "description": "third"}, 201, &tm},
		{"POST", "/api/v1/teams", admin, map[string]string{"name": "GAMMA"}, 409, nil},
		{"GET", "/api/v1/teams?limit=5", admin, nil, 200, nil},
		{"GET", "/.well-known/jwks.json", "", nil, 200, nil},
		{"GET", "/api/v1/auth/jwks.json", "", nil, 200, nil},
	}
	for _, s := range steps {
		r := e.do(s.method, s.path, s.token, s.body)
		if r.status != s.status {
			t.Fatalf("%s %s = %d, want %d: %s", s.method, s.path, r.status, s.status, r.raw)
		}
		checkResponse(t, doc, s.method, s.path, r)
		if s.into != nil {
			r.ok(t, s.status, s.into)
		}
	}
	// Steps that need ids from the ones above.
	steps2 := []struct {
		method, path string
		body         any
		status       int
	}{
		{"PATCH", fmt.Sprintf("/api/v1/users/%d", u.ID), map[string]any{}, 400},
		{"PATCH", fmt.Sprintf("/api/v1/users/%d", u.ID), map[string]any{"role": "viewer"}, 409},
		{"PATCH", fmt.Sprintf("/api/v1/users/%d", u.ID), map[string]any{"username": "root"}, 200},
		{"GET", fmt.Sprintf("/api/v1/users/%d", u.ID), nil, 200},
		{"PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", tm.ID, u.ID), nil, 200},
		{"PUT", fmt.Sprintf("/api/v1/teams/%d/members/999999", tm.ID), nil, 404},
		{"GET", fmt.Sprintf("/api/v1/teams/%d", tm.ID), nil, 200},
		{"DELETE", fmt.Sprintf("/api/v1/teams/%d/members/%d", tm.ID, u.ID), nil, 200},
	}
	for _, s := range steps2 {
		r := e.do(s.method, s.path, admin, s.body)
		if r.status != s.status {
			t.Fatalf("%s %s = %d, want %d: %s", s.method, s.path, r.status, s.status, r.raw)
		}
		checkResponse(t, doc, s.method, s.path, r)
	}

	var next tokens
	r = e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tk.RefreshToken})
	checkResponse(t, doc, "POST", "/api/v1/auth/refresh", r)
	r.ok(t, 200, &next)
	r = e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tk.RefreshToken})
	checkResponse(t, doc, "POST", "/api/v1/auth/refresh", r)
	r.fails(t, 401, "refresh_token_reused")
	r = e.do("POST", "/api/v1/auth/logout", next.AccessToken, map[string]string{"refresh_token": next.RefreshToken})
	checkResponse(t, doc, "POST", "/api/v1/auth/logout", r)
	r.ok(t, 200, nil)

	// The lock-out answers 429 with Retry-After, as documented.
	for range 5 {
		e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "olga@example.com", "password": "wrong-password"})
	}
	r = e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "olga@example.com", "password": "wrong-password"})
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("sixth failed login = %d, want 429: %s", r.status, r.raw)
	}
	checkResponse(t, doc, "POST", "/api/v1/auth/login", r)
}

// checkResponse validates a response (status, headers, body) against the
// operation the document gives for method and path.
func checkResponse(t *testing.T, doc *openapi3.T, method, target string, r result) {
	t.Helper()
	openapitest.CheckResponse(t, doc, method, target, r.status, r.header, r.raw)
}
