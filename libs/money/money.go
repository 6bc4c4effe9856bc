// Package money holds the rules for amounts and ratios
// (docs/api.md#money-and-rounding, #ratios): amounts have at most 12 integer
// and 8 fractional digits, are parsed exactly from a JSON string or number
// (never through float64) and are written as a JSON string with exactly 8
// fractional digits; ratios lie in [0, 1] with at most 4 fractional digits and
// are written with exactly 4.
package money

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

const (
	// Places is the number of fractional digits of an amount.
	Places = 8
	// IntegerDigits is the largest number of integer digits of an amount.
	IntegerDigits = 12
	// RatioPlaces is the number of fractional digits of a ratio.
	RatioPlaces = 4
)

// Max is the largest amount: 12 integer and 8 fractional digits of 9
// (docs/api.md#money-and-rounding). Running totals go beyond it.
var Max = decimal.New(1, IntegerDigits).Sub(decimal.New(1, -Places))

// ErrInvalidAmount is wrapped by every amount parse error.
var ErrInvalidAmount = errors.New("invalid amount")

// ErrInvalidRatio is wrapped by every ratio parse error.
var ErrInvalidRatio = errors.New("invalid ratio")

// parseDecimal accepts exactly: optional '-', 1+ digits, optionally '.' and
// 1..maxFrac digits. No '+', exponent, spaces, NaN or Infinity. It returns the
// value and the count of significant integer digits.
func parseDecimal(s string, maxFrac int) (decimal.Decimal, int, error) {
	if s == "" {
		return decimal.Decimal{}, 0, errors.New("must not be empty")
	}
	i := 0
	if s[0] == '-' {
		i++
	}
	intStart := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intDigits := s[intStart:i]
	if len(intDigits) == 0 {
		return decimal.Decimal{}, 0, errors.New("must be a decimal number")
	}
	if i < len(s) {
		if s[i] != '.' {
			return decimal.Decimal{}, 0, errors.New("must be a plain decimal number (no exponent or other characters)")
		}
		i++
		fracStart := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		frac := i - fracStart
		if frac == 0 || i != len(s) {
			return decimal.Decimal{}, 0, errors.New("must be a plain decimal number (no exponent or other characters)")
		}
		if frac > maxFrac {
			return decimal.Decimal{}, 0, fmt.Errorf("must have at most %d decimal places", maxFrac)
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, 0, errors.New("must be a decimal number")
	}
	significant := len(bytes.TrimLeft([]byte(intDigits), "0"))
	return d, significant, nil
}

// Parse parses an amount with the contract's rules.
func Parse(s string) (decimal.Decimal, error) {
	d, intDigits, err := parseDecimal(s, Places)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %v", ErrInvalidAmount, err)
	}
	if intDigits > IntegerDigits {
		return decimal.Decimal{}, fmt.Errorf("%w: must have at most %d integer digits", ErrInvalidAmount, IntegerDigits)
	}
	return d, nil
}

// Format writes an amount with exactly 8 fractional digits.
func Format(d decimal.Decimal) string { return string(AppendFormat(make([]byte, 0, 24), d)) }

// AppendFormat appends Format(d) to dst. Amounts of up to 18 digits at 8
// places (every NUMERIC(20,8) balance but the largest) are written from
// their int64 coefficient; the rest by decimal's StringFixed, which goes
// through big.Int.
func AppendFormat(dst []byte, d decimal.Decimal) []byte {
	exp := int(d.Exponent())
	if exp > 0 || exp < -Places || d.NumDigits()+Places+exp > 18 {
		return append(dst, d.StringFixed(Places)...)
	}
	n := d.CoefficientInt64()
	for range Places + exp {
		n *= 10
	}
	u := uint64(n)
	if n < 0 {
		dst = append(dst, '-')
		u = -u
	}
	var digits [20]byte
	i := len(digits)
	for k := 0; k < Places || u > 0 || k == Places; k++ {
		if k == Places {
			i--
			digits[i] = '.'
		}
		i--
		digits[i] = byte('0' + u%10)
		u /= 10
	}
	return append(dst, digits[i:]...)
}

// ParseNumeric parses a stored value (PostgreSQL NUMERIC as text) exactly as
// decimal.NewFromString does, to the same coefficient and exponent. Plain
// values of up to 18 digits are read into an int64 directly; the rest, and
// any other form, go through decimal.NewFromString and its big.Int parser.
// It is for values the database wrote (as text, or the raw bytes of a text
// column); input from clients goes through Parse.
func ParseNumeric[T string | []byte](s T) (decimal.Decimal, error) {
	var n uint64
	digits, frac, dot := 0, 0, false
	i := 0
	if len(s) > 0 && s[0] == '-' {
		i++
	}
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			n = n*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			digits = 19 // not plain: let decimal parse (or refuse) it
		}
		if digits > 18 {
			return decimal.NewFromString(string(s))
		}
	}
	if digits == 0 || (dot && frac == 0) {
		return decimal.NewFromString(string(s))
	}
	v := int64(n)
	if s[0] == '-' {
		v = -v
	}
	return decimal.New(v, int32(-frac)), nil
}

// Floor8 rounds toward zero at 8 places (the contract's floor8).
func Floor8(d decimal.Decimal) decimal.Decimal { return d.Truncate(Places) }

// RoundHalfEven8 rounds half to even at 8 places.
func RoundHalfEven8(d decimal.Decimal) decimal.Decimal { return d.RoundBank(Places) }

// rawText turns a JSON value into the text of the number it holds: the
// contents of a string, or the literal of a number. Anything else is refused.
func rawText(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return "", errors.New("must not be null")
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", errors.New("must be a string or a number")
		}
		return s, nil
	}
	if b[0] == '-' || (b[0] >= '0' && b[0] <= '9') {
		return string(b), nil
	}
	return "", errors.New("must be a string or a number")
}

// Amount is a money amount in request and response bodies.
type Amount struct{ decimal.Decimal }

// NewAmount wraps a decimal.
func NewAmount(d decimal.Decimal) Amount { return Amount{d} }

// MustAmount parses s and panics on error; for constants and tests.
func MustAmount(s string) Amount {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return Amount{d}
}

// UnmarshalJSON accepts a JSON string or number and parses it exactly.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s, err := rawText(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidAmount, err)
	}
	d, err := Parse(s)
	if err != nil {
		return err
	}
	a.Decimal = d
	return nil
}

// MarshalJSON writes the amount as a string with exactly 8 places.
func (a Amount) MarshalJSON() ([]byte, error) {
	b := AppendFormat(append(make([]byte, 0, 26), '"'), a.Decimal)
	return append(b, '"'), nil
}

// String writes the amount with exactly 8 places.
func (a Amount) String() string { return Format(a.Decimal) }

// ParseRatio parses a ratio: [0, 1] with at most 4 fractional digits.
func ParseRatio(s string) (decimal.Decimal, error) {
	d, _, err := parseDecimal(s, RatioPlaces)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %v", ErrInvalidRatio, err)
	}
	if d.IsNegative() || d.GreaterThan(decimal.NewFromInt(1)) {
		return decimal.Decimal{}, fmt.Errorf("%w: must be between 0 and 1", ErrInvalidRatio)
	}
	return d, nil
}

// Ratio is a share in [0, 1] in request and response bodies.
type Ratio struct{ decimal.Decimal }

// UnmarshalJSON accepts a JSON string or number and parses it exactly.
func (r *Ratio) UnmarshalJSON(b []byte) error {
	s, err := rawText(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRatio, err)
	}
	d, err := ParseRatio(s)
	if err != nil {
		return err
	}
	r.Decimal = d
	return nil
}

// MarshalJSON writes the ratio as a string with exactly 4 places.
func (r Ratio) MarshalJSON() ([]byte, error) {
	return []byte(`"` + r.StringFixed(RatioPlaces) + `"`), nil
}
