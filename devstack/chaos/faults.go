package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/devstack/stack"
	"github.com/fundplatform/platform/libs/pg"
)

// phase is one database fault injected during the load: what it did, and
// what the load's clients and the stack's log saw while it was under way.
type phase struct {
	name   string
	detail string // what was done, with its figures
	took   time.Duration
	// posts are the attempts of keyed POSTs, postErrors those answered
	// with a 5xx or not at all (each retried with its key); reads and
	// readErrors the same for GETs.
	posts, postErrors, reads, readErrors atomic.Int64
	mu                                   sync.Mutex
	errs                                 map[string]int // client-side error → count
	// logged counts the stack log's lines, per source, that carry the
	// fault's mark (logMarks), written while it was under way.
	logged map[string]int
}

// note counts one attempt's outcome.
func (p *phase) note(read bool, a answer, err error) {
	failed := err != nil || a.status >= 500
	if read {
		p.reads.Add(1)
	} else {
		p.posts.Add(1)
	}
	if !failed {
		return
	}
	if read {
		p.readErrors.Add(1)
	} else {
		p.postErrors.Add(1)
	}
	what := "no answer"
	if err == nil {
		what = strings.TrimSpace(fmt.Sprintf("%d %s", a.status, a.code))
	}
	p.mu.Lock()
	p.errs[what]++
	p.mu.Unlock()
}

// notePhase counts an attempt in the fault phase under way, if any.
func (d *driver) notePhase(read bool, a answer, err error) {
	if p := d.phase.Load(); p != nil {
		p.note(read, a, err)
	}
}

// logMarks are what the stack log's lines carry when a fault hit: the
// server's own message and the SQLSTATE the services log.
var logMarks = map[string][]string{
	"statement timeout":   {"canceling statement due to statement timeout", "SQLSTATE 57014"},
	"backend termination": {"terminating connection due to administrator command", "SQLSTATE 57P01"},
}

// hotTables are the tables locked by the statement timeout phase: every
// batch the stats consumer applies updates overview, and every withdrawal
// and every credit of the withdrawal service's consumer writes ledger
// entries.
var hotTables = map[string]string{"stats": "overview", "withdrawal": "entries"}

// faults injects the database faults on the stack's cluster.
type faults struct {
	s       *stack.Stack
	d       *driver
	logPath string
	done    []*phase
}

// run runs one fault as a named phase: the load's attempts during it are
// counted, and the stack log written meanwhile is searched for its marks.
func (f *faults) run(ctx context.Context, name string, inject func(context.Context) (string, error)) error {
	p := &phase{name: name, errs: map[string]int{}}
	from := logSize(f.logPath)
	start := time.Now()
	f.d.phase.Store(p)
	detail, err := inject(ctx)
	// What was already under way when the fault ended (a retry's backoff,
	// a request behind the lock) is the fault's too.
	time.Sleep(2 * time.Second)
	f.d.phase.Store(nil)
	p.took, p.detail = time.Since(start), detail
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	p.logged = countMarks(f.logPath, from, logMarks[name])
	f.done = append(f.done, p)
	logf("%s: %s; during it %d reads (%d failed), %d POST attempts (%d failed)", name, detail,
		p.reads.Load(), p.readErrors.Load(), p.posts.Load(), p.postErrors.Load())
	return nil
}

// statementTimeout holds an ACCESS EXCLUSIVE lock on a hot table of the
// stats and withdrawal databases for longer than the services' statement
// timeout (pg.DefaultStatementTimeout): their statements on it wait, then
// fail with SQLSTATE 57014, which requests answer with a 5xx and consumers
// retry as a fault of the database.
func (f *faults) statementTimeout(ctx context.Context) (string, error) {
	timeout, err := time.ParseDuration(pg.DefaultStatementTimeout)
	if err != nil {
		return "", err
	}
	hold := timeout + 5*time.Second
	var txs []pgx.Tx
	var locked []string
	defer func() {
		for _, tx := range txs {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			_ = tx.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	for svc, table := range hotTables {
		info, ok := f.s.Service(svc)
		if !ok {
			return "", fmt.Errorf("no %s service", svc)
		}
		conn, err := pgx.Connect(ctx, info.DatabaseURL)
		if err != nil {
			return "", err
		}
		tx, err := conn.Begin(ctx)
		if err == nil {
			_, err = tx.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE")
		}
		if err != nil {
			conn.Close(ctx)
			return "", fmt.Errorf("lock %s.%s: %w", svc, table, err)
		}
		txs = append(txs, tx)
		locked = append(locked, svc+"."+table)
	}
	slices.Sort(locked)
	waiting, err := watchWaiters(ctx, txs, hold)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("ACCESS EXCLUSIVE locks on %s held %v (statement timeout %v); at most %d statements waited on them at once",
		strings.Join(locked, ", "), hold, timeout, waiting), nil
}

// watchWaiters holds the locks of txs for hold and returns the largest
// number of backends seen waiting for a lock at once.
func watchWaiters(ctx context.Context, txs []pgx.Tx, hold time.Duration) (int, error) {
	most := 0
	for end := time.Now().Add(hold); time.Now().Before(end); {
		n := 0
		for _, tx := range txs {
			var w int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted AND database =
				(SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&w); err != nil {
				return 0, err
			}
			n += w
		}
		most = max(most, n)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return most, nil
}

// terminateBackends terminates every backend connected to a service
// database (pg_terminate_backend, SQLSTATE 57P01 on their next statement);
// the tool's own connection, to the maintenance database, is not one.
func (f *faults) terminateBackends(ctx context.Context) (string, error) {
	var names []string
	for _, svc := range f.s.Ready().Services {
		cfg, err := pgx.ParseConfig(svc.DatabaseURL)
		if err != nil {
			return "", err
		}
		names = append(names, cfg.Database)
	}
	conn, err := pgx.Connect(ctx, f.s.Ready().PostgresURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT datname, count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid() GROUP BY datname ORDER BY datname`, names)
	if err != nil {
		return "", err
	}
	per, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var db string
		var n int
		err := r.Scan(&db, &n)
		return fmt.Sprintf("%s %d", db, n), err
	})
	if err != nil {
		return "", err
	}
	// The load goes on against the reconnecting pools for a while.
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(5 * time.Second):
	}
	return "pg_terminate_backend of every backend of the service databases (" + strings.Join(per, ", ") + ")", nil
}

// logSize is the stack log's size: where a phase's lines start.
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// countMarks counts, per source tag, the lines of the log from offset on
// that contain any of marks.
func countMarks(path string, from int64, marks []string) map[string]int {
	counts := map[string]int{}
	file, err := os.Open(path)
	if err != nil {
		return counts
	}
	defer file.Close()
	b, err := io.ReadAll(io.NewSectionReader(file, from, 1<<40))
	if err != nil {
		return counts
	}
	for _, line := range strings.Split(string(b), "\n") {
		for _, m := range marks {
			if strings.Contains(line, m) {
				tag, _, _ := strings.Cut(line, " | ")
				counts[strings.TrimSpace(tag)]++
				break
			}
		}
	}
	return counts
}

// printFaults is the summary's lines on the fault phases.
func (s *summary) printFaults(w io.Writer) {
	for _, p := range s.faults {
		fmt.Fprintf(w, "%-18s %s, in %s; during it %d reads (%d failed) and %d POST attempts (%d answered 5xx or not at all, each retried with its key); clients saw %s; stack log lines with %s: %s\n",
			p.name, p.detail, p.took.Round(time.Second), p.reads.Load(), p.readErrors.Load(), p.posts.Load(), p.postErrors.Load(),
			countsText(p.errs, "no error"), strings.Join(logMarks[p.name], " / "), countsText(p.logged, "none"))
	}
}

// countsText lists counts as "key n, …", sorted by key.
func countsText(m map[string]int, none string) string {
	if len(m) == 0 {
		return none
	}
	var out []string
	for k, n := range m {
		out = append(out, fmt.Sprintf("%s ×%d", k, n))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// checkFaults fails the run when a fault did not reach the services: the
// server logged no statement of theirs cancelled by the statement timeout
// (only the services' connections have one), or no backend of theirs
// terminated.
func checkFaults(sum *summary) []string {
	var failures []string
	for _, p := range sum.faults {
		if p.logged["postgres"] == 0 {
			failures = append(failures, fmt.Sprintf("%s: the server logged no %q: the fault did not reach the services",
				p.name, logMarks[p.name][0]))
			continue
		}
		sum.checks = append(sum.checks, fmt.Sprintf("%s: the server logged %d × %q; the services logged it %d times",
			p.name, p.logged["postgres"], logMarks[p.name][0], servicesLogged(p.logged)))
	}
	return failures
}

// servicesLogged sums the counts of every source but the server.
func servicesLogged(m map[string]int) int {
	n := 0
	for tag, c := range m {
		if tag != "postgres" {
			n += c
		}
	}
	return n
}
