package identity

import (
	"testing"
	"time"
)

// TestPairLockedUntil: MaxLoginFailures in the window lock the pair until
// fewer remain, whatever order the store returns them in.
func TestPairLockedUntil(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(minutes ...int) []time.Time {
		var ts []time.Time
		for _, m := range minutes {
			ts = append(ts, t0.Add(time.Duration(m)*time.Minute))
		}
		return ts
	}
	cases := []struct {
		name     string
		failures []time.Time
		locked   bool
		until    time.Time
	}{
		{"none", nil, false, time.Time{}},
		{"one below the limit", at(1, 2, 3, 4), false, time.Time{}},
		{"at the limit: until the oldest leaves the window", at(1, 2, 3, 4, 5), true, t0.Add(time.Minute + LockoutWindow)},
		{"unordered", at(5, 1, 4, 2, 3), true, t0.Add(time.Minute + LockoutWindow)},
		{"above the limit: until only four remain", at(0, 1, 2, 3, 4, 5), true, t0.Add(time.Minute + LockoutWindow)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			until, locked := pairLockedUntil(c.failures)
			if locked != c.locked || !until.Equal(c.until) {
				t.Fatalf("pairLockedUntil = %v, %v; want %v, %v", until, locked, c.until, c.locked)
			}
		})
	}
}

// TestLoginDelay: no delay below SlowdownFailures, then doubling from 1 s,
// never above MaxLoginDelay.
func TestLoginDelay(t *testing.T) {
	cases := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0},
		{SlowdownFailures - 1, 0},
		{SlowdownFailures, time.Second},
		{SlowdownFailures + 1, 2 * time.Second},
		{SlowdownFailures + 2, 4 * time.Second},
		{SlowdownFailures + 3, MaxLoginDelay},
		{SlowdownFailures + 64, MaxLoginDelay},
		{1 << 40, MaxLoginDelay},
	}
	for _, c := range cases {
		if got := loginDelay(c.failures); got != c.want {
			t.Errorf("loginDelay(%d) = %v, want %v", c.failures, got, c.want)
		}
	}
}

// TestSealedSuccessor: only the rotated token opens its successor's seal.
func TestSealedSuccessor(t *testing.T) {
	presented, _ := newOpaqueToken()
	next, _ := newOpaqueToken()
	sealed, err := sealSuccessor(presented, next)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := openSuccessor(presented, sealed); err != nil || got != next {
		t.Fatalf("open = %q, %v; want the successor", got, err)
	}
	other, _ := newOpaqueToken()
	if _, err := openSuccessor(other, sealed); err == nil {
		t.Fatal("another token opened the seal")
	}
	if _, err := openSuccessor(presented, sealed[:5]); err == nil {
		t.Fatal("a truncated seal opened")
	}
}
