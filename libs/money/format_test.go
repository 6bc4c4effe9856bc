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
