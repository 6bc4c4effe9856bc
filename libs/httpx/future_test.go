package httpx

import (
	"errors"
	"testing"
	"time"
)

func TestNotInFuture(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, tc := range map[string]struct {
		at     time.Time
		refuse bool
	}{
		"past":                 {now.Add(-time.Hour), false},
		"now":                  {now, false},
		"within the skew":      {now.Add(MaxFutureSkew), false},
		"just past the skew":   {now.Add(MaxFutureSkew + time.Microsecond), true},
		"a typo of two ages":   {time.Date(2205, 1, 1, 0, 0, 0, 0, time.UTC), true},
		"other zone, same now": {now.In(time.FixedZone("UTC+9", 9*3600)), false},
	} {
		err := NotInFuture("as_of", tc.at, now)
		var v *ValidationError
		switch {
		case !tc.refuse && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		case tc.refuse && (!errors.As(err, &v) || v.Code != CodeValidationFailed || v.Field != "as_of"):
			t.Errorf("%s: got %v, want a validation_failed error on as_of", name, err)
		}
	}
}
