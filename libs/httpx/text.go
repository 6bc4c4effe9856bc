package httpx

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Text is a required free-text value — a name, a reason — trimmed of
// surrounding space: a ValidationError (validation_failed on field) when
// nothing is left or more than max characters (Unicode code points) are.
// Every free-text field has such a maximum (docs/api.md#text-fields): an
// unbounded one would let a request produce an event larger than the
// broker accepts, and store and show whatever a client sends.
func Text(field, v string, max int) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", Invalid(field, "is required")
	}
	return v, MaxLength(field, v, max)
}

// MaxLength is a ValidationError (validation_failed on field) when v, an
// optional free-text value, has more than max characters, and nil
// otherwise.
func MaxLength(field, v string, max int) error {
	if utf8.RuneCountInString(v) > max {
		return Invalid(field, fmt.Sprintf("must be at most %d characters", max))
	}
	return nil
}
