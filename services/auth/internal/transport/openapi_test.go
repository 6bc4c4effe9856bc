package transport_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/openapitest"
	"github.com/fundplatform/platform/libs/servicetest"
	"github.com/fundplatform/platform/services/auth/api"
	"github.com/fundplatform/platform/services/auth/internal/endpoint"
	"github.com/fundplatform/platform/services/auth/internal/transport"
)

// openAPI is the hand-written document (api/openapi.json) and what the
// kit's checks must know of the service (see servicetest.OpenAPI).
var openAPI = servicetest.OpenAPI{
	Raw: api.OpenAPI,
	Document: openapitest.Document{
		Title: "Fund platform — auth service",
		Schemas: []string{"User", "Team", "TokenPair", "JWKS", "JWK", "ErrorEnvelope", "ErrorData",
			"UserEnvelope", "UserListEnvelope", "TeamEnvelope", "TeamListEnvelope", "TokenPairEnvelope"},
	},
	// Public routes take no bearer token (docs/api.md#authentication).
	Options: openapitest.Options{Public: []string{
		"GET /.well-known/jwks.json",
		"GET /api/v1/auth/jwks.json",
		"POST /api/v1/auth/login",
		"POST /api/v1/auth/refresh",
	}},
	// NewHandler only registers routes; nil endpoints are never called.
	Routes: transport.NewHandler(endpoint.Endpoints{}, nil, nil).Routes,
}

// TestOpenAPI checks the document's frame, routes and operations
// (servicetest.OpenAPI.Test).
func TestOpenAPI(t *testing.T) { openAPI.Test(t) }

// TestOpenAPIUserHasNoPassword: the user schema never exposes a password.
func TestOpenAPIUserHasNoPassword(t *testing.T) {
	for prop := range openAPI.Load(t).Components.Schemas["User"].Value.Properties {
		if strings.Contains(prop, "password") || strings.Contains(prop, "hash") {
			t.Errorf("User has property %s", prop)
		}
	}
}

// TestOpenAPIServed checks /openapi.json serves the document, and that what
// the running service answers matches what the document says, on a tour
// of the API as its callers use it.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	openAPI.CheckServed(t, e.Server)
	tk := e.login(adminEmail, adminPass)
	var u user
	var tm team
	_ = t.Run("users and teams", func(t *testing.T) { u, tm = tourUsersAndTeams(t, e, tk.AccessToken) }) &&
		t.Run("by id", func(t *testing.T) { tourByID(t, e, tk.AccessToken, u, tm) }) &&
		t.Run("refresh and logout", func(t *testing.T) { tourRefresh(t, e, tk) }) &&
		t.Run("lock-out", func(t *testing.T) { tourLockout(t, e, tk.AccessToken, u) })
}

func tourUsersAndTeams(t *testing.T, e *env, admin string) (u user, tm team) {
	call := servicetest.Call
	newUser := func(email, username, password string) map[string]string {
		return map[string]string{"email": email, "username": username, "password": password, "role": "user"}
	}
	e.Tour(t,
		call("GET", "/api/v1/auth/me", admin, nil, 200).Decode(&u),
		call("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"}, 401),
		call("POST", "/api/v1/auth/login", "", `{"email":"a","password":"b","remember":true}`, 400),
		call("POST", "/api/v1/users", admin, newUser("Olga@Example.com", "olga", "user-password-123"), 201),
		call("POST", "/api/v1/users", admin, newUser("olga@example.com", "o2", "user-password-123"), 409),
		call("POST", "/api/v1/users", admin, newUser("pat@example.com", "pat", "short"), 400),
		call("POST", "/api/v1/users", admin, `{"email":"`+strings.Repeat("a", httpx.MaxBodyBytes)+`"}`, 413),
		call("GET", "/api/v1/users?role=user&is_active=true&limit=10&offset=0", admin, nil, 200),
		call("GET", "/api/v1/users?limit=0", admin, nil, 400),
		call("GET", "/api/v1/users/999999", admin, nil, 404),
		call("POST", "/api/v1/teams", admin, map[string]string{"name": "Gamma", "description": "third"}, 201).Decode(&tm),
		call("POST", "/api/v1/teams", admin, map[string]string{"name": "GAMMA"}, 409),
		call("GET", "/api/v1/teams?limit=5", admin, nil, 200),
		call("GET", "/.well-known/jwks.json", "", nil, 200),
		call("GET", "/api/v1/auth/jwks.json", "", nil, 200),
	)
	return u, tm
}

// tourByID: steps that need the ids from tourUsersAndTeams.
func tourByID(t *testing.T, e *env, admin string, u user, tm team) {
	call := servicetest.Call
	userPath := fmt.Sprintf("/api/v1/users/%d", u.ID)
	e.Tour(t,
		call("PATCH", userPath, admin, map[string]any{}, 400),
		call("PATCH", userPath, admin, map[string]any{"role": "viewer"}, 409),
		call("PATCH", userPath, admin, map[string]any{"username": "root"}, 200),
		call("GET", userPath, admin, nil, 200),
		call("PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", tm.ID, u.ID), admin, nil, 200),
		call("PUT", fmt.Sprintf("/api/v1/teams/%d/members/999999", tm.ID), admin, nil, 404),
		call("GET", fmt.Sprintf("/api/v1/teams/%d", tm.ID), admin, nil, 200),
		call("DELETE", fmt.Sprintf("/api/v1/teams/%d/members/%d", tm.ID, u.ID), admin, nil, 200),
	)
}

func tourRefresh(t *testing.T, e *env, tk tokens) {
	var next, retried tokens
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tk.RefreshToken}).OK(t, 200, &next)
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tk.RefreshToken}).OK(t, 200, &retried)
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": next.RefreshToken}).OK(t, 200, &next)
	// The first token's successor is used: presenting it now is a reuse.
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tk.RefreshToken}).Fails(t, 401, "refresh_token_reused")
	e.Do("POST", "/api/v1/auth/logout", next.AccessToken, map[string]string{"refresh_token": next.RefreshToken}).OK(t, 200, nil)
}

// tourLockout: the lock-out answers 429 with Retry-After, as documented;
// a password no account can have is 400; an admin clears the failures.
func tourLockout(t *testing.T, e *env, admin string, u user) {
	wrong := map[string]string{"email": "olga@example.com", "password": "wrong-password"}
	for range 5 {
		e.Do("POST", "/api/v1/auth/login", "", wrong)
	}
	if r := e.Do("POST", "/api/v1/auth/login", "", wrong); r.Status != http.StatusTooManyRequests {
		t.Fatalf("sixth failed login = %d, want 429: %s", r.Status, r.Raw)
	}
	call := servicetest.Call
	var olga []user
	e.Do("GET", "/api/v1/users?limit=1", admin, nil).OK(t, 200, &olga)
	e.createUser(admin, "val@example.com", "viewer")
	viewer := e.login("val@example.com", "user-password-123").AccessToken
	e.Tour(t,
		call("POST", "/api/v1/auth/login", "", map[string]string{"email": "olga@example.com", "password": strings.Repeat("p", 73)}, 400),
		call("DELETE", fmt.Sprintf("/api/v1/users/%d/login-failures", olga[0].ID), admin, nil, 200),
		call("DELETE", "/api/v1/users/999999/login-failures", admin, nil, 404),
		call("DELETE", fmt.Sprintf("/api/v1/users/%d/login-failures", u.ID), viewer, nil, 403),
	)
}
