package transport

import (
	"net/http"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// codes maps each domain error to its status and stable code
// (docs/api.md#error-codes, #profit-service); codes.Map is the service's error
// mapper. Any other error stays as it is: an httpx.ValidationError becomes its 400 in httpx.As, anything unknown a 500
// that says nothing internal.
var codes = httpx.Codes{
	{profit.ErrForbidden, http.StatusForbidden, "forbidden"},
	{profit.ErrPortfolioNotFound, http.StatusNotFound, "portfolio_not_found"},
	{profit.ErrRatioNotFound, http.StatusNotFound, "ratio_not_found"},
	{profit.ErrAllocationNotFound, http.StatusNotFound, "not_found"},
	{profit.ErrInvalidRatio, http.StatusBadRequest, "invalid_ratio"},
	{profit.ErrPeriodOutOfOrder, http.StatusConflict, "period_out_of_order"},
	{profit.ErrDependencyUnavailable, http.StatusServiceUnavailable, "dependency_unavailable"},
}
