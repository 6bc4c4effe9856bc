package money

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// TestFormatEqualsStringFixed: the int64 path of Format writes what
// decimal's StringFixed(8) writes, for coefficients of 0 to 21 digits,
// either sign, at every exponent from -12 to 3 (both sides of the 18-digit
// limit of that path).
func TestFormatEqualsStringFixed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []decimal.Decimal{decimal.Zero, decimal.New(0, -8), decimal.New(-1, -8), decimal.New(1, 0),
		decimal.RequireFromString("999999999999.99999999"), decimal.RequireFromString("-9999999999.99999999"),
		decimal.RequireFromString("99999999999999999999.99999999")}
	for range 20000 {
		digits := rng.IntN(22)
		c := new(big.Int)
		for range digits {
			c.Mul(c, big.NewInt(10))
			c.Add(c, big.NewInt(int64(rng.IntN(10))))
		}
		if rng.IntN(2) == 0 {
			c.Neg(c)
		}
		cases = append(cases, decimal.NewFromBigInt(c, int32(rng.IntN(16)-12)))
	}
	for _, d := range cases {
		if got, want := Format(d), d.StringFixed(Places); got != want {
			t.Fatalf("Format(%s) = %q, want %q", d.String(), got, want)
		}
		if got, _ := NewAmount(d).MarshalJSON(); string(got) != `"`+d.StringFixed(Places)+`"` {
			t.Fatalf("MarshalJSON(%s) = %s", d.String(), got)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	d := decimal.RequireFromString("123456.78900000")
	b.Run("Format", func(b *testing.B) {
		for b.Loop() {
			_ = Format(d)
		}
	})
	b.Run("StringFixed", func(b *testing.B) {
		for b.Loop() {
			_ = d.StringFixed(Places)
		}
	})
}

// sameParse fails t unless ParseNumeric(s) is decimal.NewFromString(s) (the
// same error-ness, coefficient and exponent), of the string and of its bytes.
func sameParse(t *testing.T, s string) {
	t.Helper()
	got, gotErr := ParseNumeric(s)
	want, wantErr := decimal.NewFromString(s)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("ParseNumeric(%q) error %v, NewFromString error %v", s, gotErr, wantErr)
	}
	if gotErr == nil && (got.Exponent() != want.Exponent() || got.Coefficient().Cmp(want.Coefficient()) != 0) {
		t.Fatalf("ParseNumeric(%q) = %s (exp %d), NewFromString = %s (exp %d)", s, got, got.Exponent(), want, want.Exponent())
	}
	if raw, rawErr := ParseNumeric([]byte(s)); (rawErr != nil) != (gotErr != nil) || (rawErr == nil && !raw.Equal(got)) {
		t.Fatalf("ParseNumeric([]byte(%q)) = %s, %v; of the string: %s, %v", s, raw, rawErr, got, gotErr)
	}
}

// TestParseNumericEqualsNewFromString: over plain numbers of 0 to 22 digits
// (both sides of the 18-digit int64 path), either sign, with and without
// fractions and leading zeros, and over forms that are not plain.
func TestParseNumericEqualsNewFromString(t *testing.T) {
	for _, s := range []string{"", "-", ".", "-.", "0", "-0", "0.00000000", "1.", ".5", "-.5", "1..2", "--1", "+1", " 1",
		"1e5", "1.5E-3", "NaN", "Infinity", "1_000", "999999999999999999", "-999999999999999999", "1000000000000000000",
		"9223372036854775807", "-9223372036854775808", "99999999999999999999.99999999", "12345678901.2345678"} {
		sameParse(t, s)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := []byte{}
		if rng.IntN(2) == 0 {
			b = append(b, '-')
		}
		intDigits, fracDigits := rng.IntN(14), rng.IntN(12)
		for range intDigits {
			b = append(b, byte('0'+rng.IntN(10)))
		}
		if fracDigits > 0 || rng.IntN(4) == 0 {
			b = append(b, '.')
			for range fracDigits {
				b = append(b, byte('0'+rng.IntN(10)))
			}
		}
		sameParse(t, string(b))
	}
}

// FuzzParseNumeric: for any text, ParseNumeric is decimal.NewFromString.
func FuzzParseNumeric(f *testing.F) {
	for _, s := range []string{"0", "-1.5", "123456789012.12345678", "99999999999999999999.99999999", "1e5", ".5", "1."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { sameParse(t, s) })
}

func BenchmarkParseNumeric(b *testing.B) {
	const s = "123456.78900000"
	b.Run("ParseNumeric", func(b *testing.B) {
		for b.Loop() {
			_, _ = ParseNumeric(s)
		}
	})
	b.Run("NewFromString", func(b *testing.B) {
		for b.Loop() {
			_, _ = decimal.NewFromString(s)
		}
	})
}
