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
	CreateUser, ListUsers, GetUser, UpdateUser, Unlock   endpoint.Endpoint
	CreateTeam, ListTeams, GetTeam, AddMember, DelMember endpoint.Endpoint
}

// Requests.
type (
	LoginRequest struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		// Client is the caller's address (transport.ClientAddress), not
		// a body field.
		Client string `json:"-"`
	}
	RefreshRequest struct {
		RefreshToken string `json:"refresh_token"`
	}
	IDRequest        struct{ ID int64 }
	ListUsersRequest struct {
		Filter identity.UserFilter
		Page   httpx.Pagination
	}
	UpdateUserRequest struct {
		ID    int64
		Patch identity.UserPatch
	}
	ListTeamsRequest struct{ Page httpx.Pagination }
	MemberRequest    struct{ TeamID, UserID int64 }
)

// JWKSSource returns the published key set.
type JWKSSource interface {
	JWKS(ctx context.Context) (libauth.JWKS, error)
}

// New builds the endpoints.
func New(s identity.Service, keys JWKSSource) Endpoints {
	return Endpoints{
		Login: func(ctx context.Context, request any) (any, error) {
			req := request.(LoginRequest)
			return httpx.Reply(s.Login(ctx, identity.LoginAttempt{Email: req.Email, Password: req.Password, Client: req.Client})), nil
		},
		Refresh: func(ctx context.Context, request any) (any, error) {
			req := request.(RefreshRequest)
			return httpx.Reply(s.Refresh(ctx, req.RefreshToken)), nil
		},
		Logout: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req RefreshRequest) httpx.Response {
			if err := s.Logout(ctx, c, req.RefreshToken); err != nil {
				return httpx.Fail(err)
			}
			return httpx.OK(map[string]bool{"revoked": true})
		}),
		Me: libauth.WithCaller(func(ctx context.Context, c identity.Caller, _ any) httpx.Response {
			return httpx.Reply(s.Me(ctx, c))
		}),
		JWKS: func(ctx context.Context, _ any) (any, error) {
			set, err := keys.JWKS(ctx)
			return set, err
		},
		CreateUser: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req identity.NewUser) httpx.Response {
			return httpx.ReplyCreated(s.CreateUser(ctx, c, req))
		}),
		ListUsers: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req ListUsersRequest) httpx.Response {
			return httpx.ReplyList(s.ListUsers(ctx, c, req.Filter, req.Page))
		}),
		GetUser: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req IDRequest) httpx.Response {
			return httpx.Reply(s.GetUser(ctx, c, req.ID))
		}),
		UpdateUser: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req UpdateUserRequest) httpx.Response {
			return httpx.Reply(s.UpdateUser(ctx, c, req.ID, req.Patch))
		}),
		Unlock: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req IDRequest) httpx.Response {
			return httpx.Reply(s.UnlockUser(ctx, c, req.ID))
		}),
		CreateTeam: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req identity.NewTeam) httpx.Response {
			return httpx.ReplyCreated(s.CreateTeam(ctx, c, req))
		}),
		ListTeams: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req ListTeamsRequest) httpx.Response {
			return httpx.ReplyList(s.ListTeams(ctx, c, req.Page))
		}),
		GetTeam: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req IDRequest) httpx.Response {
			return httpx.Reply(s.GetTeam(ctx, c, req.ID))
		}),
		AddMember: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req MemberRequest) httpx.Response {
			return httpx.Reply(s.AddMember(ctx, c, req.TeamID, req.UserID))
		}),
		DelMember: libauth.WithCaller(func(ctx context.Context, c identity.Caller, req MemberRequest) httpx.Response {
			return httpx.Reply(s.RemoveMember(ctx, c, req.TeamID, req.UserID))
		}),
	}
}
