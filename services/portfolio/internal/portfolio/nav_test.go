package portfolio

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func dec(s string) decimal.Decimal {
	d, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func decPtr(s string) *decimal.Decimal {
	if s == "" {
		return nil
	}
	d := dec(s)
	return &d
}

// str formats an optional result as the API does ("" for null).
func str(d *decimal.Decimal) string {
	if d == nil {
		return ""
	}
	return money.Format(*d)
}

func prevSnapshot(nav string) *Snapshot {
	return &Snapshot{ID: 7, PortfolioID: 1, AsOf: t0, NAV: money.MustAmount(nav)}
}

// valuation is one case of Valuate: the previous NAV ("" : first
// snapshot), the input, and the expected profit, NAV per unit and period
// return ("" : null).
type valuation struct {
	name                 string
	prevNAV              string
	nav, netFlow, units  string
	profit, perUnit, ret string
}

var valuations = []valuation{
	// The baseline records no profit and no return, whatever it says.
	{name: "first snapshot", nav: "1000", profit: "0.00000000"},
	{name: "first with a net flow", nav: "1000", netFlow: "1000", profit: "0.00000000"},
	{name: "first with units", nav: "1000", units: "400", profit: "0.00000000", perUnit: "2.50000000"},

	{name: "gain", prevNAV: "100", nav: "110", profit: "10.00000000", ret: "0.10000000"},
	{name: "loss", prevNAV: "100", nav: "90", profit: "-10.00000000", ret: "-0.10000000"},
	{name: "flat", prevNAV: "100", nav: "100", profit: "0.00000000", ret: "0.00000000"},
	{name: "deposit is not profit", prevNAV: "100", nav: "160", netFlow: "50", profit: "10.00000000", ret: "0.06666667"},
	{name: "deposit only", prevNAV: "100", nav: "150", netFlow: "50", profit: "0.00000000", ret: "0.00000000"},
	{name: "negative net flow (withdrawal)", prevNAV: "100", nav: "75", netFlow: "-30", profit: "5.00000000", ret: "0.07142857"},
	{name: "withdrawal with a loss", prevNAV: "100", nav: "60", netFlow: "-30", profit: "-10.00000000", ret: "-0.14285714"},
	{name: "everything withdrawn: base 0", prevNAV: "100", nav: "0", netFlow: "-100", profit: "0.00000000"},
	{name: "base negative", prevNAV: "100", nav: "0", netFlow: "-150", profit: "50.00000000"},
	{name: "previous nav 0: base 0", prevNAV: "0", nav: "10", profit: "10.00000000"},
	{name: "previous nav 0 with a deposit", prevNAV: "0", nav: "110", netFlow: "100", profit: "10.00000000", ret: "0.10000000"},
	{name: "nav 0", prevNAV: "50", nav: "0", profit: "-50.00000000", ret: "-1.00000000"},
	{name: "exact 8 places", prevNAV: "0.00000001", nav: "0.00000003", profit: "0.00000002", ret: "2.00000000"},
	{name: "largest amounts", prevNAV: "999999999999.99999999", nav: "999999999999.99999999", netFlow: "-999999999999.99999999",
		profit: "999999999999.99999999"},

	// Rounding half to even at 8 places.
	{name: "return 1/3", prevNAV: "3", nav: "4", profit: "1.00000000", ret: "0.33333333"},
	{name: "return 2/3 rounds up", prevNAV: "3", nav: "5", profit: "2.00000000", ret: "0.66666667"},
	{name: "return half, even below", prevNAV: "2", nav: "2.00000001", profit: "0.00000001", ret: "0.00000000"},
	{name: "return half, even above", prevNAV: "2", nav: "2.00000003", profit: "0.00000003", ret: "0.00000002"},
	{name: "return half, 5 -> 4", prevNAV: "2", nav: "2.00000009", profit: "0.00000009", ret: "0.00000004"},
	{name: "return negative half, even below", prevNAV: "2", nav: "1.99999999", profit: "-0.00000001", ret: "0.00000000"},
	{name: "return negative half, even above", prevNAV: "2", nav: "1.99999997", profit: "-0.00000003", ret: "-0.00000002"},
	{name: "return just above half", prevNAV: "2.00000001", nav: "2.00000002", profit: "0.00000001", ret: "0.00000000"},
	// −14999.99999998 / 999999999999: just beyond −0.000000015 toward
	// zero; a 16-place division first would make it an exact half.
	{name: "return never rounds twice", prevNAV: "999999999999", nav: "999999984999.00000002",
		profit: "-14999.99999998", ret: "-0.00000001"},
	{name: "nav per unit 1/3", nav: "1", units: "3", profit: "0.00000000", perUnit: "0.33333333"},
	{name: "nav per unit 2/3", nav: "2", units: "3", profit: "0.00000000", perUnit: "0.66666667"},
	{name: "nav per unit half, even below", nav: "0.00000001", units: "2", profit: "0.00000000", perUnit: "0.00000000"},
	{name: "nav per unit half, even above", nav: "0.00000003", units: "2", profit: "0.00000000", perUnit: "0.00000002"},
	{name: "nav per unit half, 5 -> 2", nav: "0.00000025", units: "2", profit: "0.00000000", perUnit: "0.00000012"},
	{name: "nav per unit half, 7 -> 8", nav: "0.00000015", units: "2", profit: "0.00000000", perUnit: "0.00000008"},
	// 14999.99999998 / 999999999999 = 0.0000000149999999999800…: just
	// under a half. decimal.Div rounds it to 0.0000000150000000 first,
	// after which half-even would give 0.00000002; exact is 0.00000001.
	{name: "nav per unit never rounds twice", nav: "14999.99999998", units: "999999999999", profit: "0.00000000", perUnit: "0.00000001"},
	{name: "nav per unit with a gain", prevNAV: "100", nav: "110", units: "8", profit: "10.00000000", perUnit: "13.75000000", ret: "0.10000000"},
	{name: "nav 0 with units", prevNAV: "1", nav: "0", units: "5", profit: "-1.00000000", perUnit: "0.00000000", ret: "-1.00000000"},
}

func TestValuate(t *testing.T) {
	for _, c := range valuations {
		t.Run(c.name, func(t *testing.T) { checkValuation(t, c) })
	}
}

func checkValuation(t *testing.T, c valuation) {
	t.Helper()
	var prev *Snapshot
	if c.prevNAV != "" {
		prev = prevSnapshot(c.prevNAV)
	}
	in := NAVInput{AsOf: t0.Add(time.Hour), NAV: dec(c.nav), Units: decPtr(c.units)}
	if c.netFlow != "" {
		in.NetFlow = dec(c.netFlow)
	}
	v, err := Valuate(prev, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := money.Format(v.Profit); got != c.profit {
		t.Errorf("profit = %s, want %s", got, c.profit)
	}
	if got := str(v.NAVPerUnit); got != c.perUnit {
		t.Errorf("nav_per_unit = %q, want %q", got, c.perUnit)
	}
	if got := str(v.PeriodReturn); got != c.ret {
		t.Errorf("period_return = %q, want %q", got, c.ret)
	}
	// profit = nav − prev_nav − net_flow, exactly.
	if prev != nil && !v.Profit.Equal(in.NAV.Sub(prev.NAV.Decimal).Sub(in.NetFlow)) {
		t.Errorf("profit %s is not nav − prev_nav − net_flow", v.Profit)
	}
}

func TestValuateOrder(t *testing.T) {
	prev := prevSnapshot("100")
	for name, asOf := range map[string]time.Time{
		"same instant":              t0,
		"earlier":                   t0.Add(-time.Second),
		"same microsecond":          t0.Add(999 * time.Nanosecond),
		"same instant, other zone":  t0.In(time.FixedZone("UTC+2", 2*3600)),
		"much earlier, other value": t0.AddDate(-1, 0, 0),
	} {
		_, err := Valuate(prev, NAVInput{AsOf: asOf, NAV: dec("120")})
		if !errors.Is(err, ErrNAVOutOfOrder) {
			t.Errorf("%s: err = %v, want ErrNAVOutOfOrder", name, err)
		}
	}
	v, err := Valuate(prev, NAVInput{AsOf: t0.Add(time.Microsecond + 999*time.Nanosecond).In(time.FixedZone("x", 3600)), NAV: dec("120")})
	if err != nil {
		t.Fatal(err)
	}
	if !v.AsOf.Equal(t0.Add(time.Microsecond)) || v.AsOf.Location() != time.UTC {
		t.Errorf("as_of = %v, want it in UTC, truncated to the microsecond", v.AsOf)
	}
}

func TestValuateRejects(t *testing.T) {
	prev := prevSnapshot("100")
	cases := []struct {
		name  string
		prev  *Snapshot
		in    NAVInput
		field string // of a *httpx.ValidationError (code) or an *OutOfRangeError
		code  string // "" : out of range
	}{
		{"no as_of", nil, NAVInput{NAV: dec("1")}, "as_of", CodeValidationFailed},
		{"negative nav", nil, NAVInput{AsOf: t0, NAV: dec("-0.00000001")}, "nav", CodeInvalidAmount},
		{"zero units", nil, NAVInput{AsOf: t0, NAV: dec("1"), Units: decPtr("0")}, "units", CodeInvalidAmount},
		{"negative units", nil, NAVInput{AsOf: t0, NAV: dec("1"), Units: decPtr("-1")}, "units", CodeInvalidAmount},
		{"nav too large", nil, NAVInput{AsOf: t0, NAV: decimal.New(1, 12)}, "nav", CodeInvalidAmount},
		{"net flow too large", nil, NAVInput{AsOf: t0, NAV: dec("1"), NetFlow: decimal.New(-1, 12)}, "net_flow", CodeInvalidAmount},
		{"profit too large", dec0(), NAVInput{AsOf: t0.Add(time.Hour), NAV: dec("999999999999"), NetFlow: dec("-999999999999")}, "profit", ""},
		{"nav per unit too large", nil, NAVInput{AsOf: t0, NAV: dec("1000000"), Units: decPtr("0.00000001")}, "nav_per_unit", ""},
		{"return too large", &Snapshot{ID: 1, AsOf: t0, NAV: money.MustAmount("0.00000001")},
			NAVInput{AsOf: t0.Add(time.Hour), NAV: dec("100000")}, "period_return", ""},
		{"a bad value is reported before the order", prev, NAVInput{AsOf: t0, NAV: dec("-1")}, "nav", CodeInvalidAmount},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Valuate(c.prev, c.in)
			var ve *httpx.ValidationError
			var oe *OutOfRangeError
			switch {
			case c.code != "" && errors.As(err, &ve):
				if ve.Field != c.field || ve.Code != c.code {
					t.Errorf("err = %+v, want %s on %s", ve, c.code, c.field)
				}
			case c.code == "" && errors.As(err, &oe):
				if oe.Field != c.field {
					t.Errorf("out of range on %s, want %s", oe.Field, c.field)
				}
			default:
				t.Errorf("err = %v", err)
			}
		})
	}
}

func dec0() *Snapshot { return &Snapshot{ID: 1, AsOf: t0, NAV: money.MustAmount("0")} }

// exactHalfEven is the reference: a/b as an exact rational, rounded half to
// even at 8 places with big.Int arithmetic.
func exactHalfEven(a, b decimal.Decimal) decimal.Decimal {
	r := new(big.Rat).Quo(a.Rat(), b.Rat())
	r.Mul(r, big.NewRat(100_000_000, 1))
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	c := new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(r.Denom())
	if c > 0 || (c == 0 && q.Bit(0) == 1) {
		if r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return decimal.NewFromBigInt(q, -8)
}

func TestDivHalfEvenMatchesExactArithmetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	amount := func() decimal.Decimal {
		// Mostly small values, where halves are frequent, some large.
		var n int64
		if rng.IntN(2) == 0 {
			n = rng.Int64N(1000)
		} else {
			n = rng.Int64N(100_000_000_000_000_000)
		}
		return decimal.New(n, -int32(rng.IntN(9)))
	}
	for range 200_000 {
		a, b := amount(), amount()
		if b.IsZero() {
			continue
		}
		if rng.IntN(2) == 0 {
			a = a.Neg()
		}
		if rng.IntN(4) == 0 {
			b = b.Neg()
		}
		if got, want := DivHalfEven(a, b, 8), exactHalfEven(a, b); !got.Equal(want) {
			t.Fatalf("%s / %s = %s, want %s", a, b, got, want)
		}
	}
}

func TestSnapshotEvents(t *testing.T) {
	p := Portfolio{ID: 3, UserID: 11, TeamID: 22, Currency: "JPY"}
	prev := &Snapshot{ID: 5, PortfolioID: 3, AsOf: t0, NAV: money.MustAmount("100")}
	record := func(prev *Snapshot, nav, flow string) Snapshot {
		in := NAVInput{AsOf: t0.Add(24 * time.Hour), NAV: dec(nav), NetFlow: dec(flow)}
		s, err := NewSnapshot(p, prev, in, t0)
		if err != nil {
			t.Fatal(err)
		}
		s.ID = 6
		return s
	}
	if ev := SnapshotEvents(nil, record(nil, "100", "0")); len(ev) != 0 {
		t.Errorf("baseline emitted %v", ev)
	}
	if ev := SnapshotEvents(prev, record(prev, "150", "50")); len(ev) != 0 {
		t.Errorf("zero profit emitted %v", ev)
	}
	s := record(prev, "90", "-20")
	ev := SnapshotEvents(prev, s)
	if len(ev) != 1 || ev[0].Type != EventProfitRecorded || ev[0].PortfolioID != 3 {
		t.Fatalf("events = %+v, want one profit_recorded", ev)
	}
	d := ev[0].Data.(ProfitRecordedData)
	want := ProfitRecordedData{PortfolioID: 3, SnapshotID: 6, UserID: 11, TeamID: 22, AsOf: s.AsOf, PeriodEnd: s.AsOf,
		Profit: money.MustAmount("10"), NAV: money.MustAmount("90"), PrevNAV: money.MustAmount("100"), NetFlow: money.MustAmount("-20"), Currency: "JPY"}
	if d.PortfolioID != want.PortfolioID || d.SnapshotID != want.SnapshotID || d.UserID != want.UserID || d.TeamID != want.TeamID ||
		!d.AsOf.Equal(want.AsOf) || !d.PeriodEnd.Equal(d.AsOf) || d.Profit.String() != want.Profit.String() ||
		d.NAV.String() != want.NAV.String() || d.PrevNAV.String() != want.PrevNAV.String() || d.NetFlow.String() != want.NetFlow.String() ||
		d.Currency != "JPY" {
		t.Errorf("data = %+v, want %+v", d, want)
	}
	if s.PrevSnapshotID == nil || *s.PrevSnapshotID != 5 || s.UserID != 11 || s.TeamID != 22 {
		t.Errorf("snapshot = %+v", s)
	}
	// The base currency is left out of the event (eventbus.EventCurrency),
	// so consumers of the previous release keep accepting it.
	usd := s
	usd.Currency = "USD"
	if d := SnapshotEvents(prev, usd)[0].Data.(ProfitRecordedData); d.Currency != "" {
		t.Errorf("a USD profit's event states currency %q, want none", d.Currency)
	}
}

func TestValidateCurrency(t *testing.T) {
	for _, ok := range []string{"USD", "EUR", "JPY", "CHF", "GBP"} {
		if err := ValidateCurrency(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "usd", "US", "USDD", "U$D", "ZZZ", " USD", "Usd"} {
		if err := ValidateCurrency(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
