package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fundplatform/platform/devstack/stack"
)

// rolling counts what the load got while a rolling restart was under way.
type rolling struct {
	on atomic.Bool
	// posts are the attempts of keyed POSTs, postErrors those answered
	// with a 5xx or a transport error (the load retries them with their
	// key); reads and readErrors the same for GETs (not retried).
	posts, postErrors, reads, readErrors atomic.Int64
}

// note counts one attempt's outcome while a rolling restart is under way.
func (r *rolling) note(read bool, a answer, err error) {
	if !r.on.Load() {
		return
	}
	failed := err != nil || a.status >= 500
	switch {
	case read:
		r.reads.Add(1)
		if failed {
			r.readErrors.Add(1)
		}
	default:
		r.posts.Add(1)
		if failed {
			r.postErrors.Add(1)
		}
	}
}

// rollingRestart restarts every replica of every service, one at a time,
// as a Kubernetes rolling update does: SIGTERM (the replica drains:
// readiness 503 while it still serves, so the edge stops sending to it;
// then in-flight requests finish), and the next one only once the
// supervisor has started it again and it is ready.
func rollingRestart(ctx context.Context, s *stack.Stack, d *driver, sum *summary) error {
	d.rolling.on.Store(true)
	defer d.rolling.on.Store(false)
	start := time.Now()
	for _, svc := range s.Ready().Services {
		for _, r := range svc.Replicas {
			old, err := s.TerminateService(r.Name)
			if err != nil {
				return err
			}
			if err := waitRestarted(ctx, s, r.Name, old); err != nil {
				return err
			}
			sum.rolled = append(sum.rolled, r.Name)
			logf("rolling restart: %s (pid %d) drained, stopped and back as pid %d", r.Name, old, s.ServicePID(r.Name))
		}
	}
	sum.rollingTook = time.Since(start)
	return nil
}

// printRolling is the summary's line on the rolling restart.
func (s *summary) printRolling(w io.Writer, r *rolling) {
	if len(s.rolled) == 0 {
		fmt.Fprintln(w, "rolling restart    none (it needs -replicas=2 or more)")
		return
	}
	fmt.Fprintf(w, "rolling restart    %d replicas one at a time (%s) in %s; during it %d reads (%d failed) and %d POST attempts (%d answered 5xx or not at all, each retried with its key)\n",
		len(s.rolled), strings.Join(s.rolled, ", "), s.rollingTook.Round(time.Second),
		r.reads.Load(), r.readErrors.Load(), r.posts.Load(), r.postErrors.Load())
}

// checkRolling fails the run when a request sent during the rolling
// restart got an error it could not retry (a read), or a keyed request
// was given up.
func checkRolling(d *driver, sum *summary) []string {
	if len(sum.rolled) == 0 {
		return nil
	}
	if n := d.rolling.readErrors.Load(); n > 0 {
		return []string{fmt.Sprintf("rolling restart: %d of %d reads failed (only retried requests may see an error)", n, d.rolling.reads.Load())}
	}
	sum.checks = append(sum.checks, fmt.Sprintf("rolling restart: no read failed (%d), %d of %d POST attempts retried", d.rolling.reads.Load(), d.rolling.postErrors.Load(), d.rolling.posts.Load()))
	return nil
}
