package serve

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	var dbDown atomic.Bool
	s := &Server{
		Config:  Config{HTTPAddr: "127.0.0.1:0", AppEnv: "development", DrainDelay: 200 * time.Millisecond, ShutdownTimeout: 10 * time.Second},
		Handler: handler,
		Checks: []Check{{Name: "db", Check: func(context.Context) error {
			if dbDown.Load() {
				return errors.New("down")
			}
			return nil
		}}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	addr := "http://" + <-s.Ready()

	get := func(path string) (int, string) {
		resp, err := http.Get(addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz = %d", code)
	}
	dbDown.Store(true)
	if code, body := get("/readyz"); code != 503 {
		t.Fatalf("readyz with failing check = %d %s", code, body)
	}
	dbDown.Store(false)

	inflight := make(chan string, 1)
	go func() {
		_, body := get("/slow")
		inflight <- body
	}()
	<-started
	cancel() // as SIGTERM would
	// During the drain delay the listener is still open and readiness is 503.
	deadline := time.Now().Add(150 * time.Millisecond)
	sawDraining := false
	for time.Now().Before(deadline) && !sawDraining {
		if code, _ := get("/readyz"); code == 503 {
			sawDraining = true
		}
	}
	if !sawDraining {
		t.Fatal("readiness did not turn 503 on shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned with a request in flight: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if body := <-inflight; body != "finished" {
		t.Fatalf("in-flight request got %q, want it finished", body)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if code, _ := get("/healthz"); code != 0 {
		t.Fatal("server still answering after Run returned")
	}
}
