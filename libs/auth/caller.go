package auth

import (
	"context"
	"slices"
	"time"

	"github.com/go-kit/kit/endpoint"

	"github.com/fundplatform/platform/libs/httpx"
)

// Owner types of ledger accounts (docs/api.md#withdrawal-service).
const (
	OwnerUser     = "user"
	OwnerTeam     = "team"
	OwnerPlatform = "platform"
)

// Caller is the authenticated principal of a request: what a service's
// domain needs of the verified claims.
type Caller struct {
	UserID int64
	Role   string
	Teams  []int64
	// IssuedAt is the token's iat (the auth service's revocation check
	// compares it with the user's last password change).
	IssuedAt time.Time
}

// CallerFrom returns the verified caller of a request or a 401 error; for
// service code that runs behind Require.
func CallerFrom(ctx context.Context) (Caller, error) {
	c, ok := FromContext(ctx)
	if !ok {
		return Caller{}, httpx.ErrUnauthenticated
	}
	caller := Caller{UserID: c.UserID(), Role: c.Role, Teams: c.Teams}
	if c.IssuedAt != nil {
		caller.IssuedAt = c.IssuedAt.Time
	}
	return caller, nil
}

// Privileged reports whether the caller reads everything: admins and
// viewers (docs/api.md#roles).
func (c Caller) Privileged() bool { return c.Role == RoleAdmin || c.Role == RoleViewer }

// ListScope is how far a list reaches for the caller (docs/api.md#roles):
// everything for an admin or a viewer (nil, true); what the caller owns —
// its user and its teams — for a user (the caller, true); no other role
// lists (nil, false).
func (c Caller) ListScope() (*Caller, bool) {
	switch {
	case c.Privileged():
		return nil, true
	case c.Role == RoleUser:
		return &c, true
	default:
		return nil, false
	}
}

// CanReadOwned is the rule "as portfolio read" (docs/api.md#roles) for a
// portfolio owned by userID and teamID: admins and viewers read every
// portfolio; a user reads those it owns and those of its teams.
func (c Caller) CanReadOwned(userID, teamID int64) bool {
	switch c.Role {
	case RoleAdmin, RoleViewer:
		return true
	case RoleUser:
		return userID == c.UserID || slices.Contains(c.Teams, teamID)
	}
	return false
}

// CanReadAccount is the rule "as balances read" (docs/api.md#roles) for
// the account of an owner (OwnerUser, OwnerTeam or the platform): admins
// and viewers read every account; a user reads its own user account and
// its teams' accounts.
func (c Caller) CanReadAccount(ownerType string, ownerID int64) bool {
	switch c.Role {
	case RoleAdmin, RoleViewer:
		return true
	case RoleUser:
		return (ownerType == OwnerUser && ownerID == c.UserID) || (ownerType == OwnerTeam && slices.Contains(c.Teams, ownerID))
	}
	return false
}

// WithCaller adapts fn, a function of the verified caller and the request,
// to a go-kit endpoint. Without a verified caller the endpoint answers
// httpx.ErrUnauthenticated (401); a request of another type reaches fn as
// Req's zero value.
func WithCaller[Req any](fn func(ctx context.Context, c Caller, req Req) httpx.Response) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		c, err := CallerFrom(ctx)
		if err != nil {
			return httpx.Fail(err), nil
		}
		req, _ := request.(Req)
		return fn(ctx, c, req), nil
	}
}
