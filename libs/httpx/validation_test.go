package httpx

import (
	"fmt"
	"net/http"
	"testing"
)

func TestValidationError(t *testing.T) {
	cases := []struct {
		err      error
		code     string
		field    string
		reason   string
		wrapping bool
	}{
		{&ValidationError{Field: "email", Reason: "is required"}, CodeValidationFailed, "email", "is required", false},
		{Invalid("limit", "must be positive"), CodeValidationFailed, "limit", "must be positive", false},
		{&ValidationError{Code: CodeInvalidAmount, Field: "amount", Reason: "must be greater than 0"}, CodeInvalidAmount, "amount", "must be greater than 0", false},
		{fmt.Errorf("wrapped: %w", Invalid("name", "is too long")), CodeValidationFailed, "name", "is too long", true},
	}
	for _, tc := range cases {
		e, ok := As(tc.err)
		if !ok || e.Status != http.StatusBadRequest || e.Code != tc.code || e.Message != tc.field+" "+tc.reason ||
			len(e.Fields) != 1 || e.Fields[tc.field] != tc.reason {
			t.Errorf("As(%v) = %+v, %v", tc.err, e, ok)
		}
		if !tc.wrapping && tc.err.Error() != tc.field+" "+tc.reason {
			t.Errorf("Error() = %q", tc.err.Error())
		}
	}
}
