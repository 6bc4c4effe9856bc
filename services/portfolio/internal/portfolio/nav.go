package portfolio

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
)

// Valuation is what one NAV snapshot derives (docs/api.md#portfolio-service):
//
//	profit        = nav − prev_nav − net_flow            (0 on the first snapshot)
//	nav_per_unit  = nav / units                          (half-even, 8 places; nil without units)
//	period_return = profit / (prev_nav + net_flow)       (half-even, 8 places; nil on the first
//	                                                       snapshot or when that base is <= 0)
//
// net_flow is capital that arrived at the start of the period, so it is
// part of the base the return is earned on, and not part of the profit.
type Valuation struct {
	AsOf         time.Time
	Profit       decimal.Decimal
	NAVPerUnit   *decimal.Decimal
	PeriodReturn *decimal.Decimal
}

// maxAmount is the first value with 13 integer digits: amounts are
// NUMERIC(20,8).
var maxAmount = decimal.New(1, money.IntegerDigits)

// Validate checks a valuation's own values: as_of is set, nav >= 0, units
// (when given) > 0, and every amount fits NUMERIC(20,8).
func (in NAVInput) Validate() error {
	if in.AsOf.IsZero() {
		return httpx.Invalid("as_of", "is required")
	}
	if in.NAV.IsNegative() {
		return invalidAmount("nav", "must be greater than or equal to 0")
	}
	if in.Units != nil && !in.Units.IsPositive() {
		return invalidAmount("units", "must be greater than 0")
	}
	for _, a := range []struct {
		field string
		d     *decimal.Decimal
	}{{"nav", &in.NAV}, {"net_flow", &in.NetFlow}, {"units", in.Units}} {
		if a.d != nil && !fitsAmount(*a.d) {
			return invalidAmount(a.field, "must have at most 12 integer and 8 fractional digits")
		}
	}
	return nil
}

// Valuate applies the NAV rules to a valuation that follows prev (nil when
// it is the portfolio's first, the baseline). It is pure: every figure of a
// snapshot comes from here. It returns ErrNAVOutOfOrder unless in.AsOf is
// later than prev's, and an *OutOfRangeError when a derived value would not
// fit an amount.
func Valuate(prev *Snapshot, in NAVInput) (Valuation, error) {
	if err := in.Validate(); err != nil {
		return Valuation{}, err
	}
	// PostgreSQL keeps microseconds: compare what will be stored.
	v := Valuation{AsOf: in.AsOf.UTC().Truncate(time.Microsecond)}
	if in.Units != nil {
		q := DivHalfEven(in.NAV, *in.Units, money.Places)
		if !fitsAmount(q) {
			return Valuation{}, &OutOfRangeError{Field: "nav_per_unit"}
		}
		v.NAVPerUnit = &q
	}
	if prev == nil {
		v.Profit = decimal.Zero
		return v, nil
	}
	if !v.AsOf.After(prev.AsOf) {
		return Valuation{}, ErrNAVOutOfOrder
	}
	prevNAV := prev.NAV.Decimal
	v.Profit = in.NAV.Sub(prevNAV).Sub(in.NetFlow)
	if !fitsAmount(v.Profit) {
		return Valuation{}, &OutOfRangeError{Field: "profit"}
	}
	if base := prevNAV.Add(in.NetFlow); base.IsPositive() {
		r := DivHalfEven(v.Profit, base, money.Places)
		if !fitsAmount(r) {
			return Valuation{}, &OutOfRangeError{Field: "period_return"}
		}
		v.PeriodReturn = &r
	}
	return v, nil
}

// NewSnapshot is the snapshot that recording in on p after prev makes, not
// yet stored (no ID). The owners are p's at this moment.
func NewSnapshot(p Portfolio, prev *Snapshot, in NAVInput, now time.Time) (Snapshot, error) {
	v, err := Valuate(prev, in)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{
		PortfolioID:  p.ID,
		AsOf:         v.AsOf,
		NAV:          money.NewAmount(in.NAV),
		NetFlow:      money.NewAmount(in.NetFlow),
		Units:        amountPtr(in.Units),
		NAVPerUnit:   amountPtr(v.NAVPerUnit),
		Profit:       money.NewAmount(v.Profit),
		PeriodReturn: amountPtr(v.PeriodReturn),
		UserID:       p.UserID,
		TeamID:       p.TeamID,
		CreatedAt:    now,
		Currency:     p.Currency,
	}
	if prev != nil {
		id := prev.ID
		s.PrevSnapshotID = &id
	}
	return s, nil
}

// DivHalfEven returns a / b rounded half to even at places fractional
// digits, exactly: the quotient is never rounded twice (decimal.Div first
// rounds to 16 places, which can turn a value just under a half into an
// exact half). b must not be zero.
func DivHalfEven(a, b decimal.Decimal, places int32) decimal.Decimal {
	// a = q·b + r with q truncated toward zero at places digits and
	// |r| < |b|·10^-places.
	q, r := a.QuoRem(b, places)
	if r.IsZero() {
		return q
	}
	// Compare the dropped part |r/b| with half a unit: 2|r| vs |b|·10^-places.
	twice := r.Abs().Add(r.Abs())
	unit := b.Abs().Shift(-places)
	away := false
	switch twice.Cmp(unit) {
	case 1:
		away = true
	case 0:
		away = q.Shift(places).BigInt().Bit(0) == 1 // odd last digit: round to even
	}
	if !away {
		return q
	}
	step := decimal.New(1, -places)
	if a.Sign()*b.Sign() < 0 {
		return q.Sub(step)
	}
	return q.Add(step)
}

// fitsAmount reports whether d has at most 12 integer digits.
func fitsAmount(d decimal.Decimal) bool { return d.Abs().LessThan(maxAmount) }

func amountPtr(d *decimal.Decimal) *money.Amount {
	if d == nil {
		return nil
	}
	a := money.NewAmount(*d)
	return &a
}
