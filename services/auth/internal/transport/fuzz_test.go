package transport

import (
	"testing"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/httpx/decodefuzz"
	"github.com/fundplatform/platform/services/auth/internal/endpoint"
	"github.com/fundplatform/platform/services/auth/internal/identity"
)

var fuzzRoutes = []decodefuzz.Route{
	{Route: "POST /api/v1/auth/login", Decode: decodeLogin(0), Fields: []string{"email", "password"},
		Check: func(t *testing.T, v any) { decodefuzz.As[endpoint.LoginRequest](t, v) },
		Valid: []decodefuzz.Input{{Body: `{"email":"ann@example.com","password":"correct horse battery"}`}}},
	{Route: "POST /api/v1/auth/refresh", Decode: httpx.DecodeBody[endpoint.RefreshRequest], Fields: []string{"refresh_token"},
		Check: func(t *testing.T, v any) { decodefuzz.As[endpoint.RefreshRequest](t, v) },
		Valid: []decodefuzz.Input{{Body: `{"refresh_token":"rt_abc.def"}`}}},
	{Route: "POST /api/v1/auth/logout", Decode: httpx.DecodeBody[endpoint.RefreshRequest], Fields: []string{"refresh_token"},
		Check: func(t *testing.T, v any) { decodefuzz.As[endpoint.RefreshRequest](t, v) },
		Valid: []decodefuzz.Input{{Body: `{"refresh_token":"rt_abc.def"}`}}},
	{Route: "GET /api/v1/auth/me", Decode: httpx.NoRequest, Check: decodefuzz.NoRequest},
	{Route: "GET /.well-known/jwks.json", Decode: httpx.NoRequest, Check: decodefuzz.NoRequest},
	{Route: "GET /api/v1/auth/jwks.json", Decode: httpx.NoRequest, Check: decodefuzz.NoRequest},
	{Route: "POST /api/v1/users", Decode: httpx.DecodeBody[identity.NewUser], Fields: []string{"email", "username", "password", "role"},
		Check: func(t *testing.T, v any) { decodefuzz.As[identity.NewUser](t, v) },
		Valid: []decodefuzz.Input{{Body: `{"email":"bob@example.com","username":"bob","password":"twelve chars!","role":"user"}`}}},
	{Route: "GET /api/v1/users", Decode: decodeListUsers, Query: []string{"limit", "offset", "role", "is_active"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListUsersRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
			if req.Filter.Role != nil && *req.Filter.Role == "" {
				t.Fatal("empty role filter")
			}
		},
		Valid: []decodefuzz.Input{{Query: "limit=10&offset=5&role=admin&is_active=false"}, {Query: ""}}},
	{Route: "GET /api/v1/users/{id}", Decode: decodeID, Check: fuzzIDRequest,
		Valid: []decodefuzz.Input{{Path: []string{"7"}}}},
	{Route: "PATCH /api/v1/users/{id}", Decode: decodeUpdateUser,
		Fields: []string{"role", "is_active", "username", "password", "old_password"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.UpdateUserRequest](t, v)
			decodefuzz.ID(t, "id", req.ID)
		},
		Valid: []decodefuzz.Input{{Path: []string{"7"}, Body: `{"role":"viewer","is_active":true,"username":"bo"}`},
			{Path: []string{"7"}, Body: `{"password":"new password 12","old_password":"old password 12"}`}}},
	{Route: "DELETE /api/v1/users/{id}/login-failures", Decode: decodeID, Check: fuzzIDRequest,
		Valid: []decodefuzz.Input{{Path: []string{"7"}}}},
	{Route: "POST /api/v1/teams", Decode: httpx.DecodeBody[identity.NewTeam], Fields: []string{"name", "description"},
		Check: func(t *testing.T, v any) { decodefuzz.As[identity.NewTeam](t, v) },
		Valid: []decodefuzz.Input{{Body: `{"name":"Alpha","description":"the first"}`}}},
	{Route: "GET /api/v1/teams", Decode: decodeListTeams, Query: []string{"limit", "offset"},
		Check: func(t *testing.T, v any) {
			req := decodefuzz.As[endpoint.ListTeamsRequest](t, v)
			decodefuzz.Page(t, req.Page.Limit, req.Page.Offset)
		},
		Valid: []decodefuzz.Input{{Query: "limit=1000&offset=0"}}},
	{Route: "GET /api/v1/teams/{id}", Decode: decodeID, Check: fuzzIDRequest,
		Valid: []decodefuzz.Input{{Path: []string{"3"}}}},
	{Route: "PUT /api/v1/teams/{id}/members/{user_id}", Decode: decodeMember, Check: fuzzMember,
		Valid: []decodefuzz.Input{{Path: []string{"3", "7"}}}},
	{Route: "DELETE /api/v1/teams/{id}/members/{user_id}", Decode: decodeMember, Check: fuzzMember,
		Valid: []decodefuzz.Input{{Path: []string{"3", "7"}}}},
	{Route: "GET /openapi.json"},
}

func fuzzIDRequest(t *testing.T, v any) {
	decodefuzz.ID(t, "id", decodefuzz.As[endpoint.IDRequest](t, v).ID)
}

func fuzzMember(t *testing.T, v any) {
	req := decodefuzz.As[endpoint.MemberRequest](t, v)
	decodefuzz.ID(t, "id", req.TeamID)
	decodefuzz.ID(t, "user_id", req.UserID)
}

// TestFuzzRoutesCoverEveryRoute fails when a route is served without a
// fuzz case, or a fuzz case names no route.
func TestFuzzRoutesCoverEveryRoute(t *testing.T) {
	// NewHandler only registers routes; nil endpoints are never called.
	served := NewHandler(endpoint.Endpoints{}, nil, nil).Routes()
	decodefuzz.CheckCoverage(t, fuzzRoutes, served)
}

// FuzzDecoders runs the request decoder of a route picked by name (or,
// for any other name, by its hash) on a request built from the fuzzed path
// values, query, Content-Type and body.
func FuzzDecoders(f *testing.F) { decodefuzz.Run(f, fuzzRoutes, mapError) }
