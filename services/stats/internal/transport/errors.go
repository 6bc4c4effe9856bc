package transport

import (
	"net/http"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/stats/internal/stats"
)

// codes maps each domain error to its status and stable code
// (docs/api.md#error-codes, #stats-service); codes.Map is the service's error
// mapper. Any other error stays as it is: a stats.ValidationError
// (httpx.ValidationError) becomes its 400 in httpx.As, anything unknown a 500
// that says nothing internal.
var codes = httpx.Codes{
	{stats.ErrForbidden, http.StatusForbidden, "forbidden"},
	{stats.ErrPortfolioNotFound, http.StatusNotFound, "portfolio_not_found"},
	{stats.ErrNotFound, http.StatusNotFound, "not_found"},
}
