// Command chaos runs the dev stack under steady load — NAV records,
// withdrawals and their transitions, reallocations, reads, all through the
// edge — while it SIGKILLs a random service every few seconds (the stack's
// supervisor restarts it), once restarts the PostgreSQL cluster, and
// injects two database faults, each a named phase of the summary with the
// errors the load's clients saw during it (faults.go): a statement timeout
// (locks held on hot tables past the services' statement timeout: SQLSTATE
// 57014) and a backend termination (pg_terminate_backend of every backend
// of the service databases: 57P01). It then waits for the stack to be
// quiet and checks that no money was created, lost or counted twice:
//
//   - the invariant checker (package invariants) passes;
//   - no event was dead-lettered (every fault is one the consumers retry);
//   - every acknowledged (2xx) NAV, withdrawal, transition and reallocation
//     is present exactly once, and nothing is present that was not sent;
//   - every NAV profit was allocated exactly once;
//   - every acknowledged request, sent again with its Idempotency-Key, gets
//     the original answer back.
//
// It prints a summary and exits 1 when anything does not hold. Loopback
// only, bounded in time (-duration of load, then at most -quiet to settle).
//
//	make build && go run ./devstack/chaos -bin .devstack/bin
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/stack"
)

type options struct {
	bin       string
	duration  time.Duration
	killEvery time.Duration
	quiet     time.Duration
	seed      uint64
	users     int
	replicas  int
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", ".devstack/bin", "directory of the service binaries (make build)")
	flag.DurationVar(&o.duration, "duration", 90*time.Second, "how long the load and the kills go on")
	flag.DurationVar(&o.killEvery, "kill-every", 5*time.Second, "pause between two kills")
	flag.DurationVar(&o.quiet, "quiet", 3*time.Minute, "longest wait for the stack to settle after the load")
	flag.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "random seed (printed, to replay a run's choices)")
	flag.IntVar(&o.users, "users", 6, "users (each with a portfolio; two per team)")
	flag.IntVar(&o.replicas, "replicas", 1, "processes per service; with 2 or more a kill takes one replica (the others keep serving) and a rolling restart of every service follows the PostgreSQL restart")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "chaos %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(ctx context.Context, o options) error {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	// Under /tmp, reachable by the postgres user the cluster runs as.
	state, err := os.MkdirTemp("/tmp", "chaos-")
	if err != nil {
		return err
	}
	if err := os.Chmod(state, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(state, "stack.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logf("seed %d; starting the stack (its log: %s)", o.seed, logPath)
	s, err := stack.Run(ctx, stack.Config{
		StateDir: filepath.Join(state, "stack"),
		BinDir:   bin,
		Env:      []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LOG_LEVEL=warn"},
		Out:      logFile,
		Restart:  true,
		Replicas: o.replicas,
	})
	if err != nil {
		return fmt.Errorf("stack did not start: %w (see %s)", err, logPath)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			logf("stopping the stack: %v", err)
		}
	}()
	rng := rand.New(rand.NewPCG(o.seed, 0x5eed))
	ready := s.Ready()
	d := newDriver(ready.EdgeURL)
	w, err := setUp(ctx, d, ready, o.users)
	if err != nil {
		return fmt.Errorf("set-up: %w", err)
	}
	logf("set up %d users, %d teams, %d portfolios, all funded", len(w.users), len(w.teams), len(w.portfolios))

	sum := &summary{seed: o.seed, kills: map[string]int{}, rolling: &d.rolling}
	var stopLoad atomic.Bool
	var wg sync.WaitGroup
	for i, pf := range w.portfolios {
		wg.Add(1)
		go func() { defer wg.Done(); w.navLoop(ctx, d, &stopLoad, pf, uint64(i)) }()
	}
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); w.withdrawalLoop(ctx, d, &stopLoad, uint64(100+i)) }()
	}
	wg.Add(2)
	go func() { defer wg.Done(); w.reallocationLoop(ctx, d, &stopLoad, 200) }()
	go func() { defer wg.Done(); w.readLoop(ctx, d, &stopLoad, 300) }()

	f := &faults{s: s, d: d, logPath: logPath}
	err = chaosLoop(ctx, s, d, o, rng, sum, f)
	sum.faults = f.done
	if err != nil {
		stopLoad.Store(true)
		wg.Wait()
		return err
	}
	stopLoad.Store(true)
	wg.Wait()
	logf("load stopped; waiting for the stack to be quiet (at most %v)", o.quiet)

	sum.count = &d.count
	failures := verify(ctx, d, w, o.quiet, sum)
	failures = append(failures, checkDLQ(ctx, ready.KafkaBrokers, sum)...)
	sum.print(os.Stdout, failures)
	if len(failures) > 0 {
		return fmt.Errorf("%d check(s) failed (stack log: %s)", len(failures), logPath)
	}
	return nil
}

// chaosLoop kills a random service process every killEvery and waits for
// the supervisor to bring it back. A quarter of the way through it holds
// locks until the services' statements time out, halfway through it
// restarts PostgreSQL, three quarters of the way through it terminates
// every backend of the service databases, and with replicas it then
// restarts every replica in turn (a rolling update) once. The time these
// steps take is added to the load's duration, so that the kills keep it.
func chaosLoop(ctx context.Context, s *stack.Stack, d *driver, o options, rng *rand.Rand, sum *summary, f *faults) error {
	start := time.Now()
	steps := []struct {
		at  time.Duration
		run func() error
	}{
		{o.duration / 4, func() error { return f.run(ctx, "statement timeout", f.statementTimeout) }},
		{o.duration / 2, func() error {
			if err := s.RestartPostgres(ctx); err != nil {
				return err
			}
			sum.pgRestarts++
			logf("restarted PostgreSQL")
			return nil
		}},
		{o.duration * 3 / 4, func() error { return f.run(ctx, "backend termination", f.terminateBackends) }},
	}
	if o.replicas > 1 {
		steps = append(steps, struct {
			at  time.Duration
			run func() error
		}{o.duration * 3 / 4, func() error { return rollingRestart(ctx, s, d, sum) }})
	}
	for time.Since(start) < o.duration || len(steps) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.killEvery):
		}
		if len(steps) > 0 && time.Since(start) > steps[0].at {
			began := time.Now()
			if err := steps[0].run(); err != nil {
				return err
			}
			steps = steps[1:]
			// -duration is the time of the kills: a step adds its own.
			start = start.Add(time.Since(began))
			continue
		}
		name := stack.ReplicaName(edge.Services[rng.IntN(len(edge.Services))], 1+rng.IntN(o.replicas))
		old, err := s.KillService(name)
		if err != nil {
			return err
		}
		sum.kills[name]++
		if err := waitRestarted(ctx, s, name, old); err != nil {
			return err
		}
		sum.restarts++
		logf("killed %s (pid %d); back as pid %d — acked %d, given up %d so far",
			name, old, s.ServicePID(name), d.count.acked.Load(), d.count.gaveUp.Load())
	}
	return nil
}

// waitRestarted waits until a killed service runs as a new process and is
// ready again.
func waitRestarted(ctx context.Context, s *stack.Stack, name string, old int) error {
	r, _ := s.Replica(name)
	url := r.URL + "/readyz"
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if pid := s.ServicePID(name); pid != 0 && pid != old {
			if resp, err := client.Get(url); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s was not ready again within 60 s of its kill", name)
}
