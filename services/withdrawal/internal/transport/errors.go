package transport

import (
	"errors"
	"net/http"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// codes maps each domain error to its status and stable code
// (docs/api.md#error-codes, #withdrawal-service).
var codes = []struct {
	err    error
	status int
	code   string
}{
	{ledger.ErrForbidden, http.StatusForbidden, "forbidden"},
	{ledger.ErrNotFound, http.StatusNotFound, "not_found"},
	{ledger.ErrInsufficientBalance, http.StatusUnprocessableEntity, "insufficient_balance"},
	{ledger.ErrInvalidStateTransition, http.StatusConflict, "invalid_state_transition"},
}

// mapError turns domain errors into client errors; anything else stays
// as it is: a ledger.ValidationError (httpx.ValidationError) becomes its 400
// in httpx.As, anything unknown a 500 that says nothing internal.
func mapError(err error) error {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return httpx.NewError(c.status, c.code, c.err.Error())
		}
	}
	return err
}
