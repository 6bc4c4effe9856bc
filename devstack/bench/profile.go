package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profiler takes CPU profiles of the services through their DEBUG_ADDR
// (libs/serve): `-pprof DIR` writes DIR/<phase>-<service>.pprof, one
// profile of each service over the first seconds of each phase, for
// `go tool pprof -top <binary> <file>`.
type profiler struct {
	dir    string
	length time.Duration
	addrs  map[string]string // service → debug address
	wg     sync.WaitGroup
}

// newProfiler picks a loopback port for each service's profiler; nil
// when dir is empty (no profiling).
func newProfiler(dir string, services []string, length time.Duration) (*profiler, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := &profiler{dir: dir, length: length, addrs: map[string]string{}}
	for _, name := range services {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p.addrs[name] = ln.Addr().String()
		_ = ln.Close()
	}
	return p, nil
}

// env is the stack's per-service DEBUG_ADDR.
func (p *profiler) env() map[string][]string {
	if p == nil {
		return nil
	}
	out := map[string][]string{}
	for name, addr := range p.addrs {
		out[name] = []string{"DEBUG_ADDR=" + addr}
	}
	return out
}

// start begins a CPU profile of every service for the phase; the files
// are written in the background (wait waits for them).
func (p *profiler) start(ctx context.Context, prog *progress, phase string) {
	if p == nil {
		return
	}
	for name, addr := range p.addrs {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			path := filepath.Join(p.dir, phase+"-"+name+".pprof")
			if err := fetchProfile(ctx, addr, p.length, path); err != nil {
				prog.stepf("pprof %s %s: %v", phase, name, err)
			}
		}()
	}
}

func (p *profiler) wait() {
	if p != nil {
		p.wg.Wait()
	}
}

func fetchProfile(ctx context.Context, addr string, length time.Duration, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(length.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
