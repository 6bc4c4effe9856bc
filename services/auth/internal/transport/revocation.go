package transport

import (
	"context"
	"errors"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/auth/internal/identity"
)

// Revocation is the auth service's own check of a write's token: the one
// GET /api/v1/auth/me answers the other services (identity's Me), asked
// in-process.
func Revocation(svc identity.Service) libauth.Revocation { return revocation{svc} }

type revocation struct{ svc identity.Service }

func (r revocation) Current(ctx context.Context, _ string, c *libauth.Claims) error {
	caller, err := libauth.CallerFrom(libauth.WithClaims(ctx, c))
	if err != nil {
		return err
	}
	_, err = r.svc.Me(ctx, caller)
	if errors.Is(err, identity.ErrUnauthenticated) {
		return httpx.ErrUnauthenticated
	}
	return err
}
