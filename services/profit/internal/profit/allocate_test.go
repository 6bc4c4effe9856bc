package profit

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func ratio(team, platform, user string) *Ratio {
	return &Ratio{ID: 1, Version: 1, ToTeam: dec(team), ToPlatform: dec(platform), ToUser: dec(user)}
}

func TestAllocateExamples(t *testing.T) {
	r := ratio("0.2000", "0.1000", "0.7000")
	cases := []struct {
		name                           string
		p, carry                       string
		ratio                          *Ratio
		status                         string
		after, d, team, platform, user string
	}{
		{"plain split", "100", "0", r, StatusAllocated, "0", "100", "20", "10", "70"},
		{"loss adds to carry", "-40", "10", r, StatusNoDistribution, "50", "0", "0", "0", "0"},
		{"profit below carry", "30", "50", r, StatusNoDistribution, "20", "0", "0", "0", "0"},
		{"profit equals carry", "50", "50", r, StatusNoDistribution, "0", "0", "0", "0", "0"},
		{"profit above carry", "80", "50", r, StatusAllocated, "0", "30", "6", "3", "21"},
		{"zero profit", "0", "5", r, StatusNoDistribution, "5", "0", "0", "0", "0"},
		{"rounding remainder to platform", "0.00000001", "0", ratio("0.3333", "0.3334", "0.3333"), StatusAllocated, "0", "0.00000001", "0", "0.00000001", "0"},
		{"thirds", "100", "0", ratio("0.3333", "0.3334", "0.3333"), StatusAllocated, "0", "100", "33.33", "33.34", "33.33"},
		{"floor not round", "0.00000009", "0", ratio("0.5000", "0", "0.5000"), StatusAllocated, "0", "0.00000009", "0.00000004", "0.00000001", "0.00000004"},
		{"no ratio waits", "100", "7", nil, StatusAwaitingRatio, "7", "0", "0", "0", "0"},
		{"no ratio waits for a loss too", "-100", "7", nil, StatusAwaitingRatio, "7", "0", "0", "0", "0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Allocate(dec(c.p), dec(c.carry), c.ratio)
			got := []decimal.Decimal{o.LossCarryforwardAfter, o.Distributable, o.ToTeam, o.ToPlatform, o.ToUser}
			want := []string{c.after, c.d, c.team, c.platform, c.user}
			if o.Status != c.status || !o.LossCarryforwardBefore.Equal(dec(c.carry)) {
				t.Fatalf("status %s before %s, want %s %s", o.Status, o.LossCarryforwardBefore, c.status, c.carry)
			}
			for i := range got {
				if !got[i].Equal(dec(want[i])) {
					t.Fatalf("outcome %+v, want after=%s d=%s team=%s platform=%s user=%s", o, c.after, c.d, c.team, c.platform, c.user)
				}
			}
		})
	}
}

// randomRatio draws a valid ratio with 4-place shares summing to 1.
func randomRatio(rng *rand.Rand) *Ratio {
	a := rng.IntN(10001)
	b := rng.IntN(10001 - a)
	shares := []int{a, b, 10000 - a - b}
	rng.Shuffle(3, func(i, j int) { shares[i], shares[j] = shares[j], shares[i] })
	s := func(n int) decimal.Decimal { return decimal.New(int64(n), -4) }
	return &Ratio{ID: 1, Version: 1, ToTeam: s(shares[0]), ToPlatform: s(shares[1]), ToUser: s(shares[2])}
}

// randomProfit draws an amount with up to 9 integer and 8 decimal digits
// (what an int64 of 1e-8 units holds comfortably), of either sign, often
// small so carry-forwards interact.
func randomProfit(rng *rand.Rand) decimal.Decimal {
	scale := []int64{100, 1_000_000, 100_000_000_000, 99_999_999_999_999_999}[rng.IntN(4)]
	units := rng.Int64N(scale) + 1
	if rng.IntN(3) == 0 {
		units = -units
	}
	if rng.IntN(10) == 0 {
		units = 0
	}
	return decimal.New(units, -8)
}

// checkShares asserts the split invariants of one outcome.
func checkShares(t *testing.T, o Outcome, r *Ratio) {
	t.Helper()
	d := o.Distributable
	if !o.ToTeam.Add(o.ToPlatform).Add(o.ToUser).Equal(d) {
		t.Fatalf("shares %s + %s + %s != distributable %s", o.ToTeam, o.ToPlatform, o.ToUser, d)
	}
	for _, s := range []decimal.Decimal{o.ToTeam, o.ToPlatform, o.ToUser, d, o.LossCarryforwardAfter} {
		if s.IsNegative() {
			t.Fatalf("negative figure in %+v", o)
		}
		if !s.Equal(s.Truncate(8)) {
			t.Fatalf("more than 8 places in %+v", o)
		}
	}
	if r == nil {
		return
	}
	exactTeam, exactUser, exactPlatform := d.Mul(r.ToTeam), d.Mul(r.ToUser), d.Mul(r.ToPlatform)
	if o.ToTeam.GreaterThan(exactTeam) || o.ToUser.GreaterThan(exactUser) {
		t.Fatalf("over-credited: team %s (exact %s), user %s (exact %s)", o.ToTeam, exactTeam, o.ToUser, exactUser)
	}
	// The platform takes the rounding remainder: at least its share, and
	// less than two units of the 8th place more.
	if o.ToPlatform.LessThan(exactPlatform) || o.ToPlatform.Sub(exactPlatform).GreaterThanOrEqual(dec("0.00000002")) {
		t.Fatalf("platform %s vs exact %s", o.ToPlatform, exactPlatform)
	}
}

// TestAllocatePropertiesOverSequences runs random sequences of profits
// through the rule with random ratio changes and checks, after every step,
// the split invariants and the high-water mark: the total distributed is
// max(0, the highest cumulative profit so far − the initial carry-forward),
// and the carry-forward is that total minus (cumulative profit − initial
// carry-forward).
func TestAllocatePropertiesOverSequences(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261122, 7))
	for seq := 0; seq < 2000; seq++ {
		initial := decimal.Zero
		if rng.IntN(2) == 0 {
			initial = randomProfit(rng).Abs()
		}
		carry := initial
		r := randomRatio(rng)
		distributed, cumulative, highWater := decimal.Zero, decimal.Zero, decimal.Zero
		for step := 0; step < 1+rng.IntN(30); step++ {
			if rng.IntN(5) == 0 {
				r = randomRatio(rng)
			}
			p := randomProfit(rng)
			o := Allocate(p, carry, r)
			checkShares(t, o, r)
			if !o.LossCarryforwardBefore.Equal(carry) {
				t.Fatalf("before %s, carry was %s", o.LossCarryforwardBefore, carry)
			}
			if (o.Status == StatusAllocated) != o.Distributable.IsPositive() {
				t.Fatalf("status %s with distributable %s", o.Status, o.Distributable)
			}
			carry = o.LossCarryforwardAfter
			distributed = distributed.Add(o.Distributable)
			cumulative = cumulative.Add(p)
			highWater = decimal.Max(highWater, cumulative.Sub(initial))
			if !distributed.Equal(highWater) {
				t.Fatalf("seq %d step %d: distributed %s, high-water mark %s", seq, step, distributed, highWater)
			}
			if !carry.Equal(distributed.Sub(cumulative.Sub(initial))) {
				t.Fatalf("seq %d step %d: carry %s, want %s", seq, step, carry, distributed.Sub(cumulative.Sub(initial)))
			}
		}
	}
}

// FuzzAllocate checks the split invariants for any profit, carry-forward
// and ratio the fuzzer finds.
func FuzzAllocate(f *testing.F) {
	f.Add(int64(10000000000), int64(0), uint16(2000), uint16(1000))
	f.Add(int64(1), int64(0), uint16(3333), uint16(3334))
	f.Add(int64(-5), int64(3), uint16(0), uint16(10000))
	f.Add(int64(99_999_999_999_999_999), int64(1), uint16(9999), uint16(1))
	f.Fuzz(func(t *testing.T, p, carry int64, a, b uint16) {
		if carry < 0 || carry > 99_999_999_999_999_999 || p > 99_999_999_999_999_999 || p < -99_999_999_999_999_999 {
			return
		}
		ta, tb := int64(a%10001), int64(b%10001)
		if ta+tb > 10000 {
			return
		}
		r := &Ratio{ToTeam: decimal.New(ta, -4), ToPlatform: decimal.New(tb, -4), ToUser: decimal.New(10000-ta-tb, -4)}
		if !ValidRatio(r.ToTeam, r.ToPlatform, r.ToUser) {
			t.Fatalf("generated ratio invalid: %+v", r)
		}
		o := Allocate(decimal.New(p, -8), decimal.New(carry, -8), r)
		checkShares(t, o, r)
	})
}

func TestValidRatio(t *testing.T) {
	ok := [][3]string{{"0.2", "0.1", "0.7"}, {"1", "0", "0"}, {"0.3333", "0.3334", "0.3333"}}
	bad := [][3]string{{"0.2", "0.1", "0.6"}, {"0.33333", "0.33333", "0.33334"}, {"-0.1", "0.6", "0.5"}, {"1.1", "0", "-0.1"}, {"0.5", "0.5", "0.0001"}}
	for _, r := range ok {
		if !ValidRatio(dec(r[0]), dec(r[1]), dec(r[2])) {
			t.Errorf("%v refused", r)
		}
	}
	for _, r := range bad {
		if ValidRatio(dec(r[0]), dec(r[1]), dec(r[2])) {
			t.Errorf("%v accepted", r)
		}
	}
}
