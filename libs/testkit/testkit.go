// Package testkit holds the small helpers that the tests of several
// modules (libs, devstack, deploy/validate) share: a log buffer that
// goroutines may write to while the test reads it, a poll that waits for
// a condition, a runner for a worker's Run loop, concurrent workers, and a
// free loopback address. It is imported by tests only.
package testkit

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer safe for concurrent use: processes, loggers
// and exporters write to it from their own goroutines while the test reads
// what they wrote. The zero value is ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns a copy of everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Bytes returns a copy of everything written so far.
func (s *SyncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// Poll calls cond every interval until it holds, and fails the test with
// "timed out waiting for <what>" once timeout has passed.
func Poll(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(interval)
	}
}

// Eventually is Poll every 20 ms, for conditions that are cheap to check.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Poll(t, timeout, 20*time.Millisecond, what, cond)
}

// Background runs run(ctx) on its own goroutine until the returned stop is
// called, or the test ends. stop cancels ctx and waits up to stopTimeout
// for run to return; an error from run, or a run that does not return,
// fails the test (reported as name's). stop may be called more than once.
func Background(t testing.TB, name string, stopTimeout time.Duration, run func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
			case <-time.After(stopTimeout):
				t.Errorf("%s did not stop", name)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// Concurrently runs work(0) … work(workers-1) at once and, once all are
// done, fails the test with the errors they returned.
func Concurrently(t testing.TB, workers int, work func(w int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			if err := work(w); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := false
	for err := range errs {
		t.Error(err)
		failed = true
	}
	if failed {
		t.FailNow()
	}
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago: nothing listens there when it returns, so it serves both for a
// server the test starts and for an address where nothing answers.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
