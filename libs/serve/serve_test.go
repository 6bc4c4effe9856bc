package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
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

func TestWorkers(t *testing.T) {
	// A worker runs until the server has drained.
	var stoppedAfterDrain atomic.Bool
	var draining atomic.Bool
	s := &Server{Config: Config{HTTPAddr: "127.0.0.1:0", AppEnv: "development", DrainDelay: 50 * time.Millisecond},
		Handler: http.NotFoundHandler(),
		Workers: []func(context.Context) error{func(ctx context.Context) error {
			<-ctx.Done()
			stoppedAfterDrain.Store(draining.Load())
			return ctx.Err()
		}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Ready()
	draining.Store(true)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !stoppedAfterDrain.Load() {
		t.Fatal("worker stopped before the shutdown began")
	}

	// A worker that fails stops the server, and Run reports its error.
	boom := errors.New("broker gone for good")
	s = &Server{Config: Config{HTTPAddr: "127.0.0.1:0", AppEnv: "development"}, Handler: http.NotFoundHandler(),
		Workers: []func(context.Context) error{
			func(context.Context) error { time.Sleep(50 * time.Millisecond); return boom },
			func(ctx context.Context) error { <-ctx.Done(); return nil },
		}}
	select {
	case err := <-func() chan error {
		c := make(chan error, 1)
		go func() { c <- s.Run(context.Background()) }()
		return c
	}():
		if !errors.Is(err, boom) {
			t.Fatalf("Run = %v, want the worker's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server kept running after a worker failed")
	}
}

func TestDebugAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "[::1]:6060": true, "localhost:6060": true,
		":6060": false, "0.0.0.0:6060": false, "10.0.0.5:6060": false, "6060": false,
	} {
		err := Config{HTTPAddr: ":8080", AppEnv: "development", DebugAddr: addr}.Validate()
		if (err == nil) != ok {
			t.Errorf("DEBUG_ADDR %q: Validate = %v, want ok=%v", addr, err, ok)
		}
	}

	// The profiler answers on its own listener, and not on the service's.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	debugAddr := ln.Addr().String()
	_ = ln.Close()
	s := &Server{Config: Config{HTTPAddr: "127.0.0.1:0", AppEnv: "development", DebugAddr: debugAddr},
		Handler: http.NotFoundHandler()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	addr := <-s.Ready()
	status := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if code := status("http://" + debugAddr + "/debug/pprof/goroutine?debug=1"); code != 200 {
		t.Errorf("profiler goroutine dump = %d, want 200", code)
	}
	if code := status("http://" + addr + "/debug/pprof/"); code != 404 {
		t.Errorf("service port /debug/pprof/ = %d, want 404", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := http.Get("http://" + debugAddr + "/debug/pprof/"); err == nil {
		t.Error("profiler still answers after Run returned")
	}
}

func TestDebugAddrTakenLeavesTheServiceUp(t *testing.T) {
	// Another process holds the profiler's port: the service serves anyway
	// and logs why the profiler is off.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	s := &Server{Config: Config{HTTPAddr: "127.0.0.1:0", AppEnv: "development", DebugAddr: taken.Addr().String()},
		Handler: http.NotFoundHandler(), Logger: log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	addr := <-s.Ready()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("the service does not serve with its profiler port taken: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "profiler is off") {
		t.Errorf("no log says the profiler is off: %s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
