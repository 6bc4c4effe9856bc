package transport

import (
	"errors"
	"net/http"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/stats/internal/stats"
)

// codes maps each domain error to its status and stable code
// (docs/api.md#error-codes, #stats-service).
var codes = []struct {
	err    error
	status int
	code   string
}{
	{stats.ErrForbidden, http.StatusForbidden, "forbidden"},
	{stats.ErrPortfolioNotFound, http.StatusNotFound, "portfolio_not_found"},
	{stats.ErrNotFound, http.StatusNotFound, "not_found"},
}

// mapError turns domain errors into client errors; anything else stays
// as it is: a stats.ValidationError (httpx.ValidationError) becomes its 400
// in httpx.As, anything unknown a 500 that says nothing internal.
func mapError(err error) error {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return httpx.NewError(c.status, c.code, c.err.Error())
		}
	}
	return err
}
