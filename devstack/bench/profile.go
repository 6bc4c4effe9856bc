package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profiler takes CPU profiles of the services through their DEBUG_ADDR
// (libs/serve): `-pprof DIR` writes DIR/<phase>-<service>.pprof, one
// profile of each service over each measured step (nav-paced: the paced
// NAV step and its drain; withdrawals-half-peak: the withdrawals paced at
// half their peak; stats-queries: the queries of scenario (c)), and after the
// run DIR/<phase>-<service>.txt, the top of each (`go tool pprof -top`,
// flat then cumulative), which the report's "Missed targets" section
// quotes. Files of an earlier run in DIR are removed first. A service's
// replicas would share its DEBUG_ADDR: profile one-replica runs only.
type profiler struct {
	dir   string
	addrs map[string]string // service → debug address
	wg    sync.WaitGroup
}

// newProfiler picks a loopback port for each service's profiler; nil
// when dir is empty (no profiling).
func newProfiler(dir string, services []string) (*profiler, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, pattern := range []string{"*.pprof", "*.txt"} {
		old, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return nil, err
			}
		}
	}
	p := &profiler{dir: dir, addrs: map[string]string{}}
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

// start begins a CPU profile of every service over the next length, for
// the phase; the files are written in the background (wait waits for
// them).
func (p *profiler) start(ctx context.Context, prog *progress, phase string, length time.Duration) {
	if p == nil {
		return
	}
	for name, addr := range p.addrs {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			path := filepath.Join(p.dir, phase+"-"+name+".pprof")
			if err := fetchProfile(ctx, addr, length, path); err != nil {
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

// summarize writes the top of every profile of the run beside it
// (<name>.txt: flat, then cumulative) and returns the cumulative tops by
// name (<phase>-<service>): they show the code paths the CPU went to.
func (p *profiler) summarize(ctx context.Context) (map[string]string, error) {
	if p == nil {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(p.dir, "*.pprof"))
	if err != nil {
		return nil, err
	}
	tops := map[string]string{}
	for _, f := range files {
		var text, cum []byte
		for _, args := range [][]string{{"-top"}, {"-top", "-cum"}} {
			cmd := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, args...), "-nodecount=30", f)...)
			out, err := cmd.Output()
			if err != nil {
				return nil, fmt.Errorf("go tool pprof %s: %w", f, err)
			}
			text, cum = append(append(text, out...), '\n'), out
		}
		name := strings.TrimSuffix(filepath.Base(f), ".pprof")
		if err := os.WriteFile(filepath.Join(p.dir, name+".txt"), text, 0o644); err != nil {
			return nil, err
		}
		tops[name] = string(cum)
	}
	return tops, nil
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
