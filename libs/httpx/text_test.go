package httpx

import (
	"errors"
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	for _, c := range []struct {
		in, want, reason string
	}{
		{"  a reason \n", "a reason", ""},
		{strings.Repeat("é", 10), strings.Repeat("é", 10), ""}, // characters, not bytes
		{strings.Repeat("x", 11), "", "must be at most 10 characters"},
		{"   ", "", "is required"},
		{"", "", "is required"},
		{" " + strings.Repeat("<", 10) + " ", strings.Repeat("<", 10), ""},
	} {
		got, err := Text("reason", c.in, 10)
		var v *ValidationError
		switch {
		case c.reason == "" && (err != nil || got != c.want):
			t.Errorf("Text(%q) = %q, %v; want %q", c.in, got, err, c.want)
		case c.reason != "" && (!errors.As(err, &v) || v.Field != "reason" || v.Reason != c.reason || v.Code != CodeValidationFailed):
			t.Errorf("Text(%q) error = %v; want validation_failed on reason: %s", c.in, err, c.reason)
		}
	}
	if err := MaxLength("description", "", 10); err != nil {
		t.Errorf("an empty optional text: %v", err)
	}
}
