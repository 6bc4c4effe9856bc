// Package endpoint turns the identity service into go-kit endpoints: one
// per route, each taking a request struct and returning an httpx.Response.
package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/auth/internal/identity"
)

// Endpoints are the auth service's endpoints.
type Endpoints struct {
	Login, Refresh, Logout, Me, JWKS                     endpoint.Endpoint
	CreateUser, ListUsers, GetUser, UpdateUser           endpoint.Endpoint
	CreateTeam, ListTeams, GetTeam, AddMember, DelMember endpoint.Endpoint
}

// Requests.
type (
	LoginRequest struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	RefreshRequest struct {
		RefreshToken string `json:"refresh_token"`
	}
	IDRequest        struct{ ID int64 }
	ListUsersRequest struct {
		Filter identity.UserFilter
		Page   identity.Page
	}
	UpdateUserRequest struct {
		ID    int64
		Patch identity.UserPatch
	}
	ListTeamsRequest struct{ Page identity.Page }
	MemberRequest    struct{ TeamID, UserID int64 }
)

// JWKSSource returns the published key set.
type JWKSSource interface {
	JWKS(ctx context.Context) (libauth.JWKS, error)
}

func caller(ctx context.Context) (identity.Caller, error) {
	c, err := libauth.CallerFrom(ctx)
	if err != nil {
		return identity.Caller{}, err
	}
	return identity.Caller{UserID: c.UserID, Role: c.Role, Teams: c.Teams}, nil
}

// withCaller adapts a function of the caller and the request.
func withCaller[Req any](fn func(ctx context.Context, c identity.Caller, req Req) httpx.Response) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return httpx.Fail(err), nil
		}
		req, _ := request.(Req)
		return fn(ctx, c, req), nil
	}
}

func one[T any](v T, err error) httpx.Response {
	if err != nil {
		return httpx.Fail(err)
	}
	return httpx.OK(v)
}

func created[T any](v T, err error) httpx.Response {
	if err != nil {
		return httpx.Fail(err)
	}
	return httpx.Created(v)
}

func list[T any](items []T, total int64, err error) httpx.Response {
	if err != nil {
		return httpx.Fail(err)
	}
	return httpx.List(items, total)
}

// New builds the endpoints.
func New(s identity.Service, keys JWKSSource) Endpoints {
	return Endpoints{
		Login: func(ctx context.Context, request any) (any, error) {
			req := request.(LoginRequest)
			return one(s.Login(ctx, req.Email, req.Password)), nil
		},
		Refresh: func(ctx context.Context, request any) (any, error) {
			req := request.(RefreshRequest)
			return one(s.Refresh(ctx, req.RefreshToken)), nil
		},
		Logout: withCaller(func(ctx context.Context, c identity.Caller, req RefreshRequest) httpx.Response {
			if err := s.Logout(ctx, c, req.RefreshToken); err != nil {
				return httpx.Fail(err)
			}
			return httpx.OK(map[string]bool{"revoked": true})
		}),
		Me: withCaller(func(ctx context.Context, c identity.Caller, _ any) httpx.Response {
			return one(s.Me(ctx, c))
		}),
		JWKS: func(ctx context.Context, _ any) (any, error) {
			set, err := keys.JWKS(ctx)
			return set, err
		},
		CreateUser: withCaller(func(ctx context.Context, c identity.Caller, req identity.NewUser) httpx.Response {
			return created(s.CreateUser(ctx, c, req))
		}),
		ListUsers: withCaller(func(ctx context.Context, c identity.Caller, req ListUsersRequest) httpx.Response {
			return list(s.ListUsers(ctx, c, req.Filter, req.Page))
		}),
		GetUser: withCaller(func(ctx context.Context, c identity.Caller, req IDRequest) httpx.Response {
			return one(s.GetUser(ctx, c, req.ID))
		}),
		UpdateUser: withCaller(func(ctx context.Context, c identity.Caller, req UpdateUserRequest) httpx.Response {
			return one(s.UpdateUser(ctx, c, req.ID, req.Patch))
		}),
		CreateTeam: withCaller(func(ctx context.Context, c identity.Caller, req identity.NewTeam) httpx.Response {
			return created(s.CreateTeam(ctx, c, req))
		}),
		ListTeams: withCaller(func(ctx context.Context, c identity.Caller, req ListTeamsRequest) httpx.Response {
			return list(s.ListTeams(ctx, c, req.Page))
		}),
		GetTeam: withCaller(func(ctx context.Context, c identity.Caller, req IDRequest) httpx.Response {
			return one(s.GetTeam(ctx, c, req.ID))
		}),
		AddMember: withCaller(func(ctx context.Context, c identity.Caller, req MemberRequest) httpx.Response {
			return one(s.AddMember(ctx, c, req.TeamID, req.UserID))
		}),
		DelMember: withCaller(func(ctx context.Context, c identity.Caller, req MemberRequest) httpx.Response {
			return one(s.RemoveMember(ctx, c, req.TeamID, req.UserID))
		}),
	}
}
