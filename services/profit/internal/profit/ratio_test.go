package profit

import (
	"testing"
	"time"
)

// versions are three ratio versions taking effect on days 5, 10 and 20.
func versions() []Ratio {
	return []Ratio{
		{ID: 1, Version: 1, ToTeam: dec("0.2"), ToPlatform: dec("0.1"), ToUser: dec("0.7"), EffectiveFrom: day(5)},
		{ID: 2, Version: 2, ToTeam: dec("0.5"), ToPlatform: dec("0"), ToUser: dec("0.5"), EffectiveFrom: day(10)},
		{ID: 3, Version: 3, ToTeam: dec("0"), ToPlatform: dec("1"), ToUser: dec("0"), EffectiveFrom: day(20)},
	}
}

func TestRatioAt(t *testing.T) {
	vs := versions()
	for _, c := range []struct {
		name     string
		versions []Ratio
		end      time.Time
		want     int // version; 0: none
	}{
		{"no ratio", nil, day(7), 0},
		{"before every version: the first", vs, day(1), 1},
		{"the first version's start", vs, day(5), 1},
		{"between the first and the second", vs, day(9).Add(23 * time.Hour), 1},
		{"the second version's start", vs, day(10), 2},
		{"just before the third", vs, day(20).Add(-time.Microsecond), 2},
		{"after the last", vs, day(31), 3},
		{"one version, before it", vs[:1], day(1), 1},
	} {
		got := RatioAt(c.versions, c.end)
		if (got == nil) != (c.want == 0) || got != nil && got.Version != c.want {
			t.Errorf("%s: %+v, want version %d", c.name, got, c.want)
		}
	}
}

func TestEffectiveFrom(t *testing.T) {
	at := day(15).Add(123456789 * time.Nanosecond)
	last, lastAhead := day(14), day(15).Add(time.Second)
	prev, prevAhead := &Ratio{EffectiveFrom: day(10)}, &Ratio{EffectiveFrom: day(16)}
	for _, c := range []struct {
		name string
		last *time.Time
		prev *Ratio
		want time.Time
	}{
		{"first version, no profit", nil, nil, day(15).Add(123456 * time.Microsecond)},
		{"after the last period and the previous version", &last, prev, day(15).Add(123456 * time.Microsecond)},
		{"a period_end recorded ahead of the clock", &lastAhead, prev, lastAhead.Add(time.Microsecond)},
		{"a previous version ahead of the clock", &last, prevAhead, day(16).Add(time.Microsecond)},
		{"the later of both", &lastAhead, prevAhead, day(16).Add(time.Microsecond)},
		{"at exactly the last period_end", ptr(day(15).Add(123456 * time.Microsecond)), nil, day(15).Add(123457 * time.Microsecond)},
	} {
		if got := EffectiveFrom(at, c.last, c.prev); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestFoldAcrossVersions: each profit is split with the version in effect
// at its period_end, whatever the order the versions were created in
// relative to the profits' processing; a profit dated before the first
// version gets the first.
func TestFoldAcrossVersions(t *testing.T) {
	var in []Allocation
	for _, d := range []int{1, 5, 12, 19, 20, 25} {
		in = append(in, NewAllocation(NewProfit{PortfolioID: 1, Source: SourceNAV, PeriodEnd: day(d), Amount: dec("100")}))
	}
	got, _ := Fold(Ledger{Ratios: versions()}, in)
	for i, want := range []struct {
		version         int
		team, plat, usr string
	}{{1, "20", "10", "70"}, {1, "20", "10", "70"}, {2, "50", "0", "50"}, {2, "50", "0", "50"}, {3, "0", "100", "0"}, {3, "0", "100", "0"}} {
		a := got[i]
		if a.Status != StatusAllocated || *a.RatioVersion != want.version ||
			!a.ToTeam.Equal(dec(want.team)) || !a.ToPlatform.Equal(dec(want.plat)) || !a.ToUser.Equal(dec(want.usr)) {
			t.Errorf("profit of day %s: %+v, want version %d", a.PeriodEnd.Format(time.DateOnly), a, want.version)
		}
	}
}

func ptr[T any](v T) *T { return &v }
