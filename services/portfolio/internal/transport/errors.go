package transport

import (
	"errors"
	"net/http"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
)

// codes maps each domain error to its status and stable code
// (docs/api.md#error-codes, #portfolio-service).
var codes = httpx.Codes{
	{portfolio.ErrForbidden, http.StatusForbidden, "forbidden"},
	{portfolio.ErrPortfolioNotFound, http.StatusNotFound, "portfolio_not_found"},
	{portfolio.ErrUserNotFound, http.StatusNotFound, "user_not_found"},
	{portfolio.ErrTeamNotFound, http.StatusNotFound, "team_not_found"},
	{portfolio.ErrNAVOutOfOrder, http.StatusConflict, "nav_out_of_order"},
	{portfolio.ErrSnapshotNotFound, http.StatusNotFound, "snapshot_not_found"},
	{portfolio.ErrNAVNotLatest, http.StatusConflict, "nav_not_latest"},
	{portfolio.ErrDependencyUnavailable, http.StatusServiceUnavailable, "dependency_unavailable"},
}

// mapError turns domain errors into client errors; anything else stays as
// it is (an *httpx.Error from decoding, an httpx.ValidationError that
// httpx.As makes its 400, or a 500).
func mapError(err error) error {
	var oe *portfolio.OutOfRangeError
	if errors.As(err, &oe) {
		return &httpx.Error{Status: http.StatusUnprocessableEntity, Code: "amount_out_of_range", Message: oe.Error(),
			Fields: map[string]string{oe.Field: "would exceed 12 integer digits"}}
	}
	return codes.Map(err)
}
