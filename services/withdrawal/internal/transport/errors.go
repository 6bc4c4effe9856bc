package transport

import (
	"net/http"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// codes maps each domain error to its status and stable code
// (docs/api.md#error-codes, #withdrawal-service); codes.Map is the service's error
// mapper. Any other error stays as it is: an httpx.ValidationError becomes its 400 in httpx.As, anything unknown a 500
// that says nothing internal.
var codes = httpx.Codes{
	{ledger.ErrForbidden, http.StatusForbidden, "forbidden"},
	{ledger.ErrNotFound, http.StatusNotFound, "not_found"},
	{ledger.ErrInsufficientBalance, http.StatusUnprocessableEntity, "insufficient_balance"},
	{ledger.ErrCurrencyMismatch, http.StatusUnprocessableEntity, "currency_mismatch"},
	{ledger.ErrInvalidStateTransition, http.StatusConflict, "invalid_state_transition"},
	{ledger.ErrNotParked, http.StatusConflict, "reversal_not_parked"},
}
