package money

import (
	"encoding/json"
	"errors"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestParse(t *testing.T) {
	valid := map[string]string{
		"0":                     "0.00000000",
		"12.5":                  "12.50000000",
		"-3.1":                  "-3.10000000",
		"999999999999.99999999": "999999999999.99999999",
		"0.00000001":            "0.00000001",
		"000000000000001.5":     "1.50000000",
	}
	for in, want := range valid {
		d, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got := Format(d); got != want {
			t.Errorf("Format(Parse(%q)) = %q, want %q", in, got, want)
		}
	}
	invalid := []string{"", " 1", "1 ", "+1", "1e3", "1E-2", "NaN", "Infinity", "-Infinity", "0x10",
		"1.", ".5", "1.123456789", "1000000000000", "-1000000000000", "1,5", "--1", "1.2.3", "abc"}
	for _, in := range invalid {
		if _, err := Parse(in); !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("Parse(%q) = %v, want ErrInvalidAmount", in, err)
		}
	}
}

func TestAmountJSON(t *testing.T) {
	cases := map[string]string{
		`"12.5"`:                  `"12.50000000"`,
		`12.5`:                    `"12.50000000"`,
		`0.1`:                     `"0.10000000"`,
		`123456789012.12345678`:   `"123456789012.12345678"`,
		`"-0.00000001"`:           `"-0.00000001"`,
		`  7 `:                    `"7.00000000"`,
		`"999999999999.99999999"`: `"999999999999.99999999"`,
	}
	for in, want := range cases {
		var a Amount
		if err := json.Unmarshal([]byte(in), &a); err != nil {
			t.Errorf("unmarshal %s: %v", in, err)
			continue
		}
		out, _ := json.Marshal(a)
		if string(out) != want {
			t.Errorf("round trip %s = %s, want %s", in, out, want)
		}
	}
	// 0.1 + 0.2 must be exact: float64 would give 0.30000000000000004.
	var a, b Amount
	_ = json.Unmarshal([]byte(`0.1`), &a)
	_ = json.Unmarshal([]byte(`0.2`), &b)
	if got := Format(a.Add(b.Decimal)); got != "0.30000000" {
		t.Errorf("0.1+0.2 = %s", got)
	}
	for _, in := range []string{`1e3`, `"1e3"`, `null`, `true`, `""`, `"NaN"`, `1.000000001`, `[1]`, `{}`, `"Infinity"`} {
		var a Amount
		err := json.Unmarshal([]byte(in), &a)
		if !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("unmarshal %s = %v, want ErrInvalidAmount", in, err)
		}
	}
}

func TestFloorAndRound(t *testing.T) {
	cases := []struct{ in, floor, even string }{
		{"1.123456789", "1.12345678", "1.12345679"},
		{"-1.123456789", "-1.12345678", "-1.12345679"},
		{"0.000000005", "0.00000000", "0.00000000"},
		{"0.000000015", "0.00000001", "0.00000002"},
		{"0.000000025", "0.00000002", "0.00000002"},
	}
	for _, c := range cases {
		d := decimal.RequireFromString(c.in)
		if got := Format(Floor8(d)); got != c.floor {
			t.Errorf("Floor8(%s) = %s, want %s", c.in, got, c.floor)
		}
		if got := Format(RoundHalfEven8(d)); got != c.even {
			t.Errorf("RoundHalfEven8(%s) = %s, want %s", c.in, got, c.even)
		}
	}
}

func TestRatio(t *testing.T) {
	for in, want := range map[string]string{`"0.2"`: `"0.2000"`, `1`: `"1.0000"`, `0`: `"0.0000"`, `"0.3333"`: `"0.3333"`} {
		var r Ratio
		if err := json.Unmarshal([]byte(in), &r); err != nil {
			t.Fatalf("ratio %s: %v", in, err)
		}
		if out, _ := json.Marshal(r); string(out) != want {
			t.Errorf("ratio %s = %s, want %s", in, out, want)
		}
	}
	for _, in := range []string{`"1.0001"`, `-0.1`, `"0.12345"`, `2`, `"1e-1"`, `null`} {
		var r Ratio
		if err := json.Unmarshal([]byte(in), &r); !errors.Is(err, ErrInvalidRatio) {
			t.Errorf("ratio %s = %v, want ErrInvalidRatio", in, err)
		}
	}
}

var contractAmount = regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,8})?$`)

// FuzzParse checks Parse against an independent reading of the rules with
// math/big: what it accepts is exactly what the grammar allows, the value is
// exact, and formatting then parsing gives the same value back.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "1.5", "-0.00000001", "999999999999.99999999", "1e5", "NaN", "", "1.123456789", "0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		grammarOK := contractAmount.MatchString(s) &&
			len(strings.TrimLeft(strings.TrimPrefix(strings.SplitN(s, ".", 2)[0], "-"), "0")) <= IntegerDigits
		if (err == nil) != grammarOK {
			t.Fatalf("Parse(%q) err=%v, grammar says ok=%v", s, err, grammarOK)
		}
		if err != nil {
			return
		}
		want, ok := new(big.Rat).SetString(s)
		if !ok || want.Cmp(d.Rat()) != 0 {
			t.Fatalf("Parse(%q) = %s, not exact", s, d)
		}
		out := Format(d)
		if !strings.Contains(out, ".") || len(out)-strings.Index(out, ".")-1 != Places {
			t.Fatalf("Format(%q) = %q: not exactly %d places", s, out, Places)
		}
		back, err := Parse(out)
		if err != nil || !back.Equal(d) {
			t.Fatalf("Parse(Format(%q)) = %s, %v", s, back, err)
		}
		var a Amount
		if err := json.Unmarshal([]byte(`"`+s+`"`), &a); err != nil || !a.Equal(d) {
			t.Fatalf("json string %q: %v", s, err)
		}
	})
}

func TestMax(t *testing.T) {
	if got := Max.StringFixed(Places); got != "999999999999.99999999" {
		t.Fatalf("Max = %s", got)
	}
	if _, err := Parse(Max.String()); err != nil {
		t.Fatalf("Max does not parse as an amount: %v", err)
	}
	if _, err := Parse(Max.Add(decimal.New(1, -Places)).String()); err == nil {
		t.Fatal("Max + 0.00000001 parses as an amount")
	}
}
