package profit

import (
	"testing"
	"time"
)

func TestDecideWaitsBehindAnEarlierWaitingProfit(t *testing.T) {
	r := ratio("0.2000", "0.1000", "0.7000")
	if o := Decide(dec("100"), dec("0"), r, true); o.Status != StatusAwaitingRatio || !o.LossCarryforwardAfter.IsZero() {
		t.Fatalf("behind a waiting profit: %+v", o)
	}
	if o := Decide(dec("100"), dec("0"), nil, false); o.Status != StatusAwaitingRatio {
		t.Fatalf("without a ratio: %+v", o)
	}
	if o := Decide(dec("100"), dec("40"), r, false); o.Status != StatusAllocated || !o.Distributable.Equal(dec("60")) {
		t.Fatalf("with a ratio: %+v", o)
	}
}

func TestInOrder(t *testing.T) {
	last := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if !InOrder(nil, last) || !InOrder(&last, last) || !InOrder(&last, last.Add(time.Microsecond)) || InOrder(&last, last.Add(-time.Microsecond)) {
		t.Fatal("InOrder: none yet, equal and later are in order; earlier is not")
	}
}
