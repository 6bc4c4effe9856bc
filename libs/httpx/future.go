package httpx

import "time"

// MaxFutureSkew is how far in the future a time that names something
// already past may lie: a NAV's as_of, a manual profit's period_end. A
// valuation or a period that has not happened has no profit yet, and one
// dated ahead would put every later one out of order; the margin allows for
// clocks that differ a little (docs/api.md#times-and-ids).
const MaxFutureSkew = time.Minute

// NotInFuture is a ValidationError (validation_failed, "must not be in the
// future") when t lies more than MaxFutureSkew after now, and nil otherwise.
func NotInFuture(field string, t, now time.Time) error {
	if t.After(now.Add(MaxFutureSkew)) {
		return Invalid(field, "must not be in the future")
	}
	return nil
}
