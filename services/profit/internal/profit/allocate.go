// Package profit is the profit service's domain: allocation ratios and the
// allocation rule (docs/api.md#allocation-rule), which turns each recorded
// profit into shares for the portfolio's team, the platform and the portfolio's
// user.
package profit

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/money"
)

// Allocation statuses.
const (
	StatusAllocated      = "allocated"
	StatusAwaitingRatio  = "awaiting_ratio"
	StatusNoDistribution = "no_distribution"
)

// Ratio is one version of a portfolio's split; the three shares sum to 1.
type Ratio struct {
	ID          int64
	PortfolioID int64
	Version     int
	ToTeam      decimal.Decimal
	ToPlatform  decimal.Decimal
	ToUser      decimal.Decimal
	CreatedBy   int64
	CreatedAt   time.Time
	// EffectiveFrom is when the version takes effect: it applies to the
	// profits whose period ends then or later, until the next version's
	// (see RatioAt and EffectiveFrom).
	EffectiveFrom time.Time
}

// RatioAt is the version of a portfolio's ratio that applies to a profit
// whose period ends at end (docs/api.md#allocation-rule): the latest version
// in effect at end, or the first version when end is earlier than every
// version's EffectiveFrom (a profit that waited for the first ratio is
// allocated with it). versions are oldest first; nil when there are none.
// Since a new version takes effect only after every period_end already
// recorded (EffectiveFrom), the version a profit gets does not depend on
// when it is processed.
func RatioAt(versions []Ratio, end time.Time) *Ratio {
	if len(versions) == 0 {
		return nil
	}
	i := len(versions) - 1
	for i > 0 && versions[i].EffectiveFrom.After(end) {
		i--
	}
	return &versions[i]
}

// EffectiveFrom is when a new version of a portfolio's ratio, created at
// at, takes effect: at (to the microsecond), unless the portfolio's latest
// recorded period_end (last) or the previous version's EffectiveFrom (prev)
// is not earlier, and then a microsecond after the later of them. So a new
// version never applies to a profit already allocated, and versions take
// effect in order.
func EffectiveFrom(at time.Time, last *time.Time, prev *Ratio) time.Time {
	at = at.UTC().Truncate(time.Microsecond)
	if last != nil && !at.After(*last) {
		at = last.UTC().Add(time.Microsecond)
	}
	if prev != nil && !at.After(prev.EffectiveFrom) {
		at = prev.EffectiveFrom.UTC().Add(time.Microsecond)
	}
	return at
}

// Outcome is what the rule makes of one profit.
type Outcome struct {
	Status                 string
	LossCarryforwardBefore decimal.Decimal
	LossCarryforwardAfter  decimal.Decimal
	Distributable          decimal.Decimal
	ToTeam                 decimal.Decimal
	ToPlatform             decimal.Decimal
	ToUser                 decimal.Decimal
}

// Allocate applies the allocation rule to one profit p, given the
// portfolio's loss carry-forward (>= 0) and its current ratio.
//
//  1. Loss carry-forward (high-water mark): p < 0 adds −p to the
//     carry-forward and distributes nothing; p > 0 distributes
//     d = max(0, p − carry) and lowers the carry-forward by min(p, carry).
//  2. Split: to_team = floor8(d × team ratio), to_user = floor8(d × user
//     ratio), to_platform = d − to_team − to_user; the three sum to d exactly
//     and neither the team nor the user is ever credited more than its exact
//     share (the rounding remainder, < 2e-8, goes to the platform).
//  3. Without a ratio (nil) the profit waits: status awaiting_ratio and the
//     carry-forward untouched. Fold re-applies Allocate to the waiting
//     profits, in period_end order, once the first ratio exists; because a
//     later profit's outcome depends on the earlier ones through the
//     carry-forward, every profit of a portfolio waits while any does
//     (Decide). Allocate is one step of Fold, the one place the rule runs.
func Allocate(p, carry decimal.Decimal, ratio *Ratio) Outcome {
	out := Outcome{LossCarryforwardBefore: carry, LossCarryforwardAfter: carry,
		Distributable: decimal.Zero, ToTeam: decimal.Zero, ToPlatform: decimal.Zero, ToUser: decimal.Zero}
	if ratio == nil {
		out.Status = StatusAwaitingRatio
		return out
	}
	switch p.Sign() {
	case -1:
		out.LossCarryforwardAfter = carry.Sub(p)
	case 1:
		out.LossCarryforwardAfter = carry.Sub(decimal.Min(p, carry))
		out.Distributable = decimal.Max(decimal.Zero, p.Sub(carry))
	}
	if !out.Distributable.IsPositive() {
		out.Status = StatusNoDistribution
		return out
	}
	d := out.Distributable
	out.ToTeam = money.Floor8(d.Mul(ratio.ToTeam))
	out.ToUser = money.Floor8(d.Mul(ratio.ToUser))
	out.ToPlatform = d.Sub(out.ToTeam).Sub(out.ToUser)
	out.Status = StatusAllocated
	return out
}

// ValidRatio reports whether the three shares form a ratio: each in [0, 1]
// with at most 4 decimal places, summing to exactly 1.
func ValidRatio(team, platform, user decimal.Decimal) bool {
	one := decimal.NewFromInt(1)
	for _, s := range []decimal.Decimal{team, platform, user} {
		if s.IsNegative() || s.GreaterThan(one) || !s.Equal(s.Truncate(money.RatioPlaces)) {
			return false
		}
	}
	return team.Add(platform).Add(user).Equal(one)
}
