package transport

import (
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/auth/internal/identity"
)

// codes maps each domain error to its status and stable code
// (docs/api.md#error-codes, #auth-service).
var codes = httpx.Codes{
	{identity.ErrInvalidCredentials, http.StatusUnauthorized, "invalid_credentials"},
	{identity.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{identity.ErrInvalidRefreshToken, http.StatusUnauthorized, "invalid_refresh_token"},
	{identity.ErrRefreshTokenReused, http.StatusUnauthorized, "refresh_token_reused"},
	{identity.ErrAccountDisabled, http.StatusForbidden, "account_disabled"},
	{identity.ErrForbidden, http.StatusForbidden, "forbidden"},
	{identity.ErrNotFound, http.StatusNotFound, "not_found"},
	{identity.ErrUserNotFound, http.StatusNotFound, "user_not_found"},
	{identity.ErrTeamNotFound, http.StatusNotFound, "team_not_found"},
	{identity.ErrEmailTaken, http.StatusConflict, "email_taken"},
	{identity.ErrTeamNameTaken, http.StatusConflict, "team_name_taken"},
	{identity.ErrLastAdmin, http.StatusConflict, "last_admin"},
}

// mapError turns domain errors into client errors; an
// identity.ValidationError (httpx.ValidationError) becomes its 400 in
// httpx.As.
func mapError(err error) error {
	var lo *identity.LockedOutError
	if errors.As(err, &lo) {
		e := *httpx.ErrRateLimited
		e.Message = lo.Error()
		e.RetryAfter = int(math.Ceil(time.Until(lo.Until).Seconds()))
		if e.RetryAfter < 1 {
			e.RetryAfter = 1
		}
		return &e
	}
	return codes.Map(err)
}
