// Package transport is the auth service's HTTP transport: routes of
// docs/api.md#auth-service, request decoding and the error mapping.
package transport

import (
	"context"
	"encoding/json"
	"net/http"

	kithttp "github.com/go-kit/kit/transport/http"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/auth/api"
	"github.com/fundplatform/platform/services/auth/internal/endpoint"
	"github.com/fundplatform/platform/services/auth/internal/identity"
)

// Option changes how NewHandler reads requests.
type Option func(*options)

type options struct{ hops int }

// TrustedHops is the number of proxies in front of the edge that append to
// X-Forwarded-For (XFF_TRUSTED_HOPS): the login lock-out's client address
// is ClientAddressBehind that many. Default 0.
func TrustedHops(n int) Option { return func(o *options) { o.hops = n } }

// NewHandler returns the service's routes. wrap instruments each route
// (metrics and access log); verifier checks the bearer token of protected
// routes.
func NewHandler(eps endpoint.Endpoints, verifier *libauth.Verifier, wrap func(string, http.Handler) http.Handler, opts ...Option) *httpx.Router {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	r := httpx.Routes{Router: httpx.NewRouter(wrap), MapError: mapError, Auth: verifier.Require}

	r.Public("POST", "/api/v1/auth/login", eps.Login, decodeLogin(o.hops))
	r.Public("POST", "/api/v1/auth/refresh", eps.Refresh, httpx.DecodeBody[endpoint.RefreshRequest])
	r.Protected("POST", "/api/v1/auth/logout", eps.Logout, httpx.DecodeBody[endpoint.RefreshRequest])
	r.Protected("GET", "/api/v1/auth/me", eps.Me, httpx.NoRequest)

	// The JWKS is served raw (RFC 7517), not in the envelope: it is read by
	// JWT libraries and Envoy, which expect exactly that document.
	jwks := kithttp.NewServer(eps.JWKS, httpx.NoRequest, encodeJWKS, httpx.ServerOptions(mapError)...)
	r.Handle("GET", "/.well-known/jwks.json", jwks)
	r.Handle("GET", "/api/v1/auth/jwks.json", jwks)

	r.Protected("POST", "/api/v1/users", eps.CreateUser, httpx.DecodeBody[identity.NewUser])
	r.Protected("GET", "/api/v1/users", eps.ListUsers, decodeListUsers)
	r.Protected("GET", "/api/v1/users/{id}", eps.GetUser, decodeID)
	r.Protected("PATCH", "/api/v1/users/{id}", eps.UpdateUser, decodeUpdateUser)
	r.Protected("DELETE", "/api/v1/users/{id}/login-failures", eps.Unlock, decodeID)

	r.Protected("POST", "/api/v1/teams", eps.CreateTeam, httpx.DecodeBody[identity.NewTeam])
	r.Protected("GET", "/api/v1/teams", eps.ListTeams, decodeListTeams)
	r.Protected("GET", "/api/v1/teams/{id}", eps.GetTeam, decodeID)
	r.Protected("PUT", "/api/v1/teams/{id}/members/{user_id}", eps.AddMember, decodeMember)
	r.Protected("DELETE", "/api/v1/teams/{id}/members/{user_id}", eps.DelMember, decodeMember)

	r.Document(api.OpenAPI)
	return r.Router
}

func decodeLogin(hops int) func(context.Context, *http.Request) (any, error) {
	return func(_ context.Context, r *http.Request) (any, error) {
		var req endpoint.LoginRequest
		if err := httpx.DecodeJSON(r, &req); err != nil {
			return nil, err
		}
		req.Client = ClientAddressBehind(r, hops)
		return req, nil
	}
}

func decodeID(_ context.Context, r *http.Request) (any, error) {
	id, err := httpx.PathID(r, "id")
	return endpoint.IDRequest{ID: id}, err
}

func decodeMember(_ context.Context, r *http.Request) (any, error) {
	teamID, err := httpx.PathID(r, "id")
	if err != nil {
		return nil, identity.ErrTeamNotFound
	}
	userID, err := httpx.PathID(r, "user_id")
	if err != nil {
		return nil, identity.ErrUserNotFound
	}
	return endpoint.MemberRequest{TeamID: teamID, UserID: userID}, nil
}

func decodeListUsers(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
	if err != nil {
		return nil, err
	}
	req := endpoint.ListUsersRequest{Page: p}
	if role := r.URL.Query().Get("role"); role != "" {
		req.Filter.Role = &role
	}
	if req.Filter.IsActive, err = httpx.QueryBool(r, "is_active"); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeListTeams(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
	return endpoint.ListTeamsRequest{Page: p}, err
}

func decodeUpdateUser(_ context.Context, r *http.Request) (any, error) {
	id, err := httpx.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	var patch identity.UserPatch
	if err := httpx.DecodeJSON(r, &patch); err != nil {
		return nil, err
	}
	return endpoint.UpdateUserRequest{ID: id, Patch: patch}, nil
}

func encodeJWKS(_ context.Context, w http.ResponseWriter, resp any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	return json.NewEncoder(w).Encode(resp)
}
