package testkit

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "%d\n", i) })
	}
	wg.Wait()
	if got := len(b.String()); got != 16 {
		t.Fatalf("got %d bytes, want 16: %q", got, b.String())
	}
	if string(b.Bytes()) != b.String() {
		t.Fatal("Bytes and String differ")
	}
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	start := time.Now()
	calls := 0
	Eventually(t, time.Second, "third call", func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3", calls)
	}
	if time.Since(start) > time.Second {
		t.Fatal("Eventually waited too long")
	}
}

func TestBackgroundStopsTheRunAndWaitsForIt(t *testing.T) {
	returned := make(chan struct{})
	stop := Background(t, "worker", time.Second, func(ctx context.Context) error {
		<-ctx.Done()
		close(returned)
		return nil
	})
	stop()
	select {
	case <-returned:
	default:
		t.Fatal("stop returned before the run did")
	}
	stop() // a second call is harmless
}

func TestConcurrentlyRunsEveryWorker(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]bool{}
	Concurrently(t, 4, func(w int) error {
		mu.Lock()
		defer mu.Unlock()
		seen[w] = true
		return nil
	})
	if len(seen) != 4 || !seen[0] || !seen[3] {
		t.Fatalf("workers run: %v", seen)
	}
}

func TestFreeAddrIsFree(t *testing.T) {
	addr := FreeAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("FreeAddr gave %s, which cannot be listened on: %v", addr, err)
	}
	l.Close()
}
