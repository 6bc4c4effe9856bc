// Command bench is the platform's load benchmark. It builds the service
// binaries, starts the whole dev stack in a temporary directory, drives it
// through the edge, measures a pgbench baseline in the same run, and writes
// the figures beside their targets to a Markdown report with a latency
// plot:
//
//	go run ./devstack/bench -out docs/benchmarks.md   (from the repository root)
//	go run ./devstack/bench -quick -out /tmp/b.md      (small sizes, a smoke run)
//	go run ./devstack/bench -nav-only -out /tmp/b.md   (the fixture, the baseline and scenario (b) alone)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/stack"
)

// progress prints what the run is doing to stderr.
type progress struct{ start time.Time }

func (p *progress) stepf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6s] %s\n", time.Since(p.start).Round(time.Second), fmt.Sprintf(format, args...))
}

// sizes are the knobs of one run.
type sizes struct {
	Users, Teams, Portfolios int
	NAV                      navConfig
	Concurrency              []int
	Step                     time.Duration
	Stats                    statsConfig
	GoBenchTimeout           time.Duration
}

func fullSizes() sizes {
	return sizes{
		Users: 200, Teams: 10, Portfolios: 1000,
		// A poll reads all 1 000 portfolios' totals: every 25 ms it took a
		// quarter of a core from the pipeline it measures (stats and
		// PostgreSQL); every 100 ms the lag it reports is up to 100 ms
		// more than the truth, never less.
		NAV: navConfig{PeakWorkers: 16, PeakFor: 10 * time.Second, Rate: 500, RateFor: 15 * time.Second,
			PollEvery: 100 * time.Millisecond, DrainBound: 60 * time.Second},
		Concurrency: []int{1, 2, 4, 8, 16, 32},
		Step:        10 * time.Second,
		Stats: statsConfig{Allocations: statsAllocCount, Budget: 3 * time.Minute, Chunk: 20000, Shortcut: true,
			QueryFor: 5 * time.Second, Workers: 2},
		GoBenchTimeout: 5 * time.Minute,
	}
}

func quickSizes() sizes {
	return sizes{
		Users: 10, Teams: 3, Portfolios: 40,
		NAV: navConfig{PeakWorkers: 4, PeakFor: 3 * time.Second, Rate: 20, RateFor: 4 * time.Second,
			PollEvery: 25 * time.Millisecond, DrainBound: 30 * time.Second},
		Concurrency: []int{1, 2, 4},
		Step:        3 * time.Second,
		Stats: statsConfig{Allocations: 6000, Budget: 4 * time.Second, Chunk: 1000, Shortcut: true,
			QueryFor: 2 * time.Second, Workers: 2},
		GoBenchTimeout: 3 * time.Minute,
	}
}

func main() {
	out := flag.String("out", "docs/benchmarks.md", "the Markdown report to write (the plot goes beside it)")
	quick := flag.Bool("quick", false, "small sizes and short steps: a smoke run, not figures")
	goBench := flag.Bool("gobench", true, "run the pipeline Go benchmarks (f)")
	source := flag.String("source", "", "build the services (and read the withdrawal migrations) from this copy of the repository instead of the working tree")
	pprofDir := flag.String("pprof", "", "write CPU profiles of every service over each measured step to this directory, with their tops (.txt) that the report's Missed targets section quotes (profile.go)")
	navAnalyze := flag.Bool("nav-analyze", true, "VACUUM ANALYZE the services' databases between the closed NAV loop and the paced step, as autovacuum would (false: the paced step runs on the plans made while the tables were empty)")
	replicas := flag.Int("replicas", 1, "processes per service (the edge balances over them; the report's per-service CPU and memory are the first replica's)")
	navOnly := flag.Bool("nav-only", false, "run only the fixture, the pgbench baseline (e) the paced rate is derived from, and scenario (b), NAV → stats (about three minutes): to iterate on the pipeline's lag")
	flag.Parse()
	benchReplicas = *replicas
	if err := run(*out, *source, *pprofDir, *quick, *goBench, *navOnly, *navAnalyze); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// benchReplicas is -replicas: processes per service.
var benchReplicas = 1

// repoRoot is the directory above the working directory holding go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.work not found above the working directory")
		}
		dir = parent
	}
}

// buildServices builds every service binary into dir.
func buildServices(p *progress, repo, dir string) error {
	for _, name := range edge.Services {
		p.stepf("build: %s", name)
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./services/"+name+"/cmd/"+name)
		cmd.Dir = repo
		if raw, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", name, err, raw)
		}
	}
	return nil
}

func run(outPath, source, pprofDir string, quick, goBench, navOnly, navAnalyze bool) (err error) {
	p := &progress{start: time.Now()}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	if source == "" {
		source = repo
	}
	if !filepath.IsAbs(outPath) {
		outPath = filepath.Join(repo, outPath)
	}
	if pprofDir != "" && !filepath.IsAbs(pprofDir) {
		pprofDir = filepath.Join(repo, pprofDir)
	}
	sz, mode := fullSizes(), "full"
	if quick {
		sz, mode = quickSizes(), "quick (smoke sizes: not comparable figures)"
	}
	if benchReplicas > 1 {
		mode += fmt.Sprintf(", %d replicas per service", benchReplicas)
	}
	sz.NAV.Analyze = navAnalyze

	tmp, err := os.MkdirTemp("", "fund-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// PostgreSQL runs as the postgres user when we are root: it must reach
	// its directory.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(tmp, "bin")
	if err := buildServices(p, source, bin); err != nil {
		return err
	}
	logPath := filepath.Join(tmp, "stack.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	defer func() {
		if err != nil {
			p.stepf("stack log, last lines:\n%s", strings.ReplaceAll(tailFile(logPath, 30), " | ", "\n"))
		}
	}()
	prof, err := newProfiler(pprofDir, edge.Services)
	if err != nil {
		return err
	}
	p.stepf("stack: starting (service logs in %s while it runs)", logPath)
	s, err := stack.Run(ctx, stack.Config{
		StateDir: filepath.Join(tmp, "stack"),
		BinDir:   bin,
		// A long token lifetime so one login lasts the run; a low bcrypt
		// cost only speeds up creating the fixture's users (logins and
		// user creation are not measured).
		Env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LOG_LEVEL=warn",
			"ACCESS_TOKEN_TTL=2h", "BCRYPT_COST=4"},
		ServiceEnv: prof.env(),
		Out:        logFile,
		Replicas:   benchReplicas,
	})
	if err != nil {
		return fmt.Errorf("stack did not start: %w (log: %s)", err, tailFile(logPath, 20))
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = s.Stop()
		}
	}()
	ready := s.Ready()
	p.stepf("stack: ready, edge %s", ready.EdgeURL)
	started := time.Now()
	mach := describeMachine(ctx, ready.PostgresURL)

	watch := newProcWatch()
	servicePIDs := map[int]bool{}
	for _, svc := range ready.Services {
		pid := s.ServicePID(svc.Name)
		servicePIDs[pid] = true
		watch.add(svc.Name, func() time.Duration { t, _ := readStat(pid); return t.own },
			func() (int64, error) { return peakRSS(pid) })
	}
	for _, pid := range s.PIDs() {
		if !servicePIDs[pid] {
			watch.add("postgresql (all backends)", func() time.Duration { return treeCPU(pid) }, nil)
			break
		}
	}
	self := os.Getpid()
	watch.add("bench process (load, edge, Kafka broker)", func() time.Duration { t, _ := readStat(self); return t.own }, nil)
	watch.mark("start")

	res := runResults{Failed: map[string]string{}}
	hc := newHTTPClient()
	admin, err := login(ctx, hc, ready.EdgeURL, ready.AdminEmail, ready.AdminPassword)
	if err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	fix, err := buildFixture(ctx, p, admin, sz.Users, sz.Teams, sz.Portfolios)
	if err != nil {
		return err
	}
	watch.mark("setup")

	// (e) first: the paced NAV rate and the half-peak target are derived
	// from it. Its scratch database has accounts of its own, as many as
	// the fixture's users the withdrawals spread over.
	res.Baseline = runPgbench(ctx, p, source, ready.PostgresURL, len(fix.users), sz.Concurrency, sz.Step)
	if res.Baseline.Err != "" {
		p.stepf("pgbench: %s", res.Baseline.Err)
	}
	watch.mark("pgbench")
	sz.NAV.Rate, res.NAVRateRule = navRate(res.Baseline, sz.NAV.Rate)
	res.NAVRate = sz.NAV.Rate
	p.stepf("nav: the paced rate is %s", res.NAVRateRule)

	urls := map[string]string{}
	dbs := map[string]string{}
	for _, svc := range ready.Services {
		urls[svc.Name], dbs[svc.Name] = svc.URL, svc.DatabaseURL
	}
	nav := runNAV(ctx, p, fix, sz.NAV, newPipelineWatch(urls), dbs,
		func() { prof.start(ctx, p, "nav-paced", sz.NAV.RateFor+5*time.Second) })
	traceNAV(ctx, p, &nav, dbs, sz.NAV.DrainBound)
	res.NAV = &nav
	prof.wait()
	watch.mark("nav")

	if navOnly {
		for _, scenario := range []string{"withdrawals", "stats"} {
			res.Failed[scenario] = "skipped (-nav-only)"
		}
		goBench = false
	} else {
		// Each account must cover its share of the withdrawal steps, at up to
		// 300 requests/s.
		need := (len(sz.Concurrency)+1)*int(sz.Step.Seconds())*300/len(fix.users) + 1
		accounts, err := fundedAccounts(ctx, p, fix, need, 90*time.Second)
		if err != nil {
			res.Failed["withdrawals"] = err.Error()
		} else {
			w := runWithdrawals(ctx, p, fix, accounts, sz.Concurrency, sz.Step,
				func() { prof.start(ctx, p, "withdrawals-half-peak", sz.Step) })
			res.Withdrawals = &w
		}
		prof.wait()
		watch.mark("withdrawals")

		st := runStats(ctx, p, fix, ready.KafkaBrokers, dbs[edge.Stats], sz.Stats, newPipelineWatch(urls),
			func(d time.Duration) { prof.start(ctx, p, "stats-queries", d) })
		prof.wait()
		res.Stats = &st
		watch.mark("stats")
	}
	res.Procs = watch.usage()
	phases := slices.Clone(watch.phases[1:])
	elapsed := time.Since(started)

	p.stepf("stack: stopping")
	if err := s.Stop(); err != nil {
		p.stepf("stack: stop: %v", err)
	}
	stopped = true

	profInfo := profileInfo{Why: "the run was not given -pprof"}
	if prof != nil {
		profInfo.Why = "the profile was not written (see the run's output)"
		if profInfo.Tops, err = prof.summarize(ctx); err != nil {
			p.stepf("pprof: %v", err)
		}
		if rel, err := filepath.Rel(filepath.Dir(outPath), prof.dir); err == nil {
			profInfo.Dir = rel
		}
	}
	if goBench {
		res.GoBench = runGoBenchmarks(ctx, p, repo, sz.GoBenchTimeout)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	mach.LoadEnd = loadAverage()
	rows := buildRows(res)
	rep := report{Machine: mach, Date: time.Now(), Duration: time.Since(p.start), Mode: mode,
		Command: strings.TrimSpace("go run ./devstack/bench " + strings.Join(os.Args[1:], " ")), Rows: rows, Steps: steps(res),
		Procs: res.Procs, Phases: phases, Notes: methodNotes(sz, res, elapsed), Missed: missedTargets(rows, res, phases, profInfo)}
	if navOnly {
		rep.Mode += ", scenario (b) only"
	}
	if source != repo {
		rep.Notes = append(rep.Notes, "The services were built from "+source+" (-source), not from the working tree.")
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return err
	}
	plotPath := strings.TrimSuffix(outPath, filepath.Ext(outPath)) + "-latency.png"
	if len(rep.Steps) > 0 {
		if err := writePlot(plotPath, rep.Steps); err != nil {
			p.stepf("plot: %v", err)
		} else {
			rep.Plot = filepath.Base(plotPath)
		}
	}
	f, err := os.Create(outPath)
	if err != nil {
		return err
	}
	if err := render(f, rep); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	p.stepf("report: %s (plot %s)", outPath, plotPath)
	return nil
}

// traceNAV traces the paced NAVs through the services' databases: the lag
// to the stats commit and its legs (hops.go). A NAV not traced counts at
// the drain bound.
func traceNAV(ctx context.Context, p *progress, nav *navResult, dbs map[string]string, bound time.Duration) {
	traces, err := traceNAVs(ctx, dbs, nav.Sent)
	if err != nil {
		nav.HopsErr = err.Error()
		p.stepf("nav: not traced: %v", err)
		return
	}
	nav.Traced, nav.CommitLags, nav.Hops = len(traces), commitLags(traces), legHops(traces)
	for range len(nav.Sent) - len(traces) {
		nav.CommitLags = append(nav.CommitLags, bound)
	}
	p.stepf("nav: %d of %d paced NAVs traced; lag to the stats commit p50 %.1f ms, p99 %.1f ms; legs: %s", len(traces), len(nav.Sent),
		ms(percentile(nav.CommitLags, 50)), ms(percentile(nav.CommitLags, 99)), hopsSummary(nav.Hops))
}

// tailFile is the last n lines of a file, for error messages.
func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	return lastLines(string(b), n)
}

// quietNote says how long the stack took to go quiet before the queries.
func quietNote(s *statsResult) string {
	if s == nil || s.Backlog == "" {
		return ""
	}
	if s.Backlog == "no backlog" {
		return fmt.Sprintf(" (it took %s)", s.QuietAfter.Round(time.Second))
	}
	return fmt.Sprintf(" (after %s there was still: %s)", s.QuietAfter.Round(time.Second), s.Backlog)
}

// analyzeNote says what happened to the service databases between the
// closed NAV loop and the paced step.
func analyzeNote(analyzed bool) string {
	if !analyzed {
		return "nothing between it and the paced step (-nav-analyze=false): the paced step runs on the plans the services' " +
			"connections made while their tables were empty"
	}
	return "VACUUM ANALYZE of every service database, as autovacuum would give tables that grew from empty to thousands of rows " +
		"within its first minute (statements planned while a table was empty keep a sequential scan until then)"
}

// methodNotes says how each figure was measured, with this run's sizes.
func methodNotes(sz sizes, res runResults, elapsed time.Duration) []string {
	accounts := 0
	if res.Withdrawals != nil {
		accounts = res.Withdrawals.Accounts
	}
	conc := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(sz.Concurrency)), ", "), "[]")
	notes := []string{
		fmt.Sprintf("Fixture: %d users, %d teams, %d portfolios created through the edge; each portfolio has a baseline NAV and a ratio "+
			"(user 0.90, team 0.05, platform 0.05). Every later NAV is +1 on the day after the previous one, so each is a profit of 1 "+
			"that the profit service allocates and the withdrawal service credits (90 %% to the portfolio's user).", sz.Users, sz.Teams, sz.Portfolios),
		fmt.Sprintf("(a) Withdrawals: POST /api/v1/withdrawals through the edge as the admin, %s each, each with its own Idempotency-Key, "+
			"round-robin over the %d user accounts funded by the NAV profits of (b). A closed loop of N workers for %s per concurrency (%s); "+
			"latency from send to answer, percentiles by nearest rank over every successful request. Then an open loop paced at half the "+
			"peak rate for %s, latency measured from each request's due time (no coordinated omission).", withdrawalAmount, accounts, sz.Step, conc, sz.Step),
		fmt.Sprintf("(b) NAV: POST /api/v1/portfolios/{id}/nav. First a closed loop (%d workers, each on its own portfolios) for %s; then "+
			"%s; then paced at %s NAV/s for %s round-robin over all portfolios (one NAV in flight per portfolio). A watcher polls "+
			"GET /api/v1/stats/acc_profit (all portfolios, pages of 1 000) every %s and records, for each paced NAV, the time from sending "+
			"its POST to the answer of the first poll whose `distributed` for that portfolio includes it: an upper bound, coarse by the "+
			"poll period plus the poll's own latency. NAVs not visible within %s count at that bound.",
			sz.NAV.PeakWorkers, sz.NAV.PeakFor, analyzeNote(sz.NAV.Analyze), num(sz.NAV.Rate), sz.NAV.RateFor, sz.NAV.PollEvery, sz.NAV.DrainBound),
		fmt.Sprintf("(c) Stats: profit.allocated events (valid envelopes, allocation ids from %d, one per portfolio and day) are produced "+
			"straight to profit.events with franz-go, in chunks of %d, each once the stats consumer has applied the previous one, for at most %s; "+
			"the consume rate is events applied ÷ time. The withdrawal service consumes them too and credits its ledger, as for real "+
			"allocations. Before the queries the bench waits (up to 3 min) until no service has an outbox backlog or consumer lag%s, "+
			"then runs VACUUM ANALYZE on the stats database, as autovacuum would after the load; each route is then measured by a "+
			"closed loop of %d workers for %s.", allocationIDBase, sz.Stats.Chunk, sz.Stats.Budget, quietNote(res.Stats), sz.Stats.Workers, sz.Stats.QueryFor),
		fmt.Sprintf("(d) Peak RSS is VmHWM from /proc/<pid>/status at the end of the scenarios; CPU is utime+stime from /proc/<pid>/stat "+
			"between phase boundaries (PostgreSQL: the postmaster with its live and exited backends). The scenarios ran for %s.", elapsed.Round(time.Second)),
		"(e) Baseline: pgbench (PostgreSQL 15) on the stack's own server, in a scratch database created with the withdrawal service's " +
			"migrations and libs/idempotency's, running a script with the writes of one withdrawal: Idempotency-Key claim; one transaction " +
			"that upserts and locks the account and its hold account, inserts the withdrawal, the transfer, two hash-chained entries " +
			"(SHA-256 in SQL), updates both accounts and inserts the outbox row; then the stored response. Same concurrencies and step " +
			"length, one funded account per fixture user (the accounts the withdrawals spread over); it runs first, right " +
			"after the fixture, because the paced NAV rate and the half-peak target are derived from it, and its scratch " +
			"database is dropped (and a checkpoint taken) before the scenarios. Latencies from pgbench's per-transaction log. It leaves out HTTP, JSON, JWT checks, " +
			"the edge and the outbox relay: the ratio is the share of the database's capacity the service delivers.",
		"(f) Pipeline benchmarks: `go test -run '^$' -bench '^BenchmarkLedgerReplay$' -benchtime 1x ./internal/events/` in " +
			"services/withdrawal and `go test -run '^$' -bench 'BenchmarkOutboxRelay' -benchtime 1x ./outbox/` in libs, after the stack " +
			"is stopped; the custom metrics are read from the benchmark result lines.",
		"The load generator, the edge and the Kafka broker share the bench process and the machine's cores with the services and " +
			"PostgreSQL, so every figure includes that contention.",
	}
	if n := res.NAV; n != nil && len(n.Hops) > 0 {
		notes = append(notes, "(b) The lag to the stats commit, and each leg of it, come from tracing every paced NAV through the "+
			"services' databases after the step: its snapshot, the portfolio outbox row of its event, the allocation the profit "+
			"service made of it and that allocation's outbox row, and the stats inbox row of the allocation's event. Commits are "+
			"pg_xact_commit_timestamp of the rows a transaction left (the dev stack's PostgreSQL keeps commit timestamps); a relay's "+
			"pickup and a consumer's start are the now() of its transaction (outbox.published_at, processed_events.processed_at); "+
			"the POST's send time is the bench's clock (the same machine's). The allocation is visible to every reader of stats from "+
			"the commit on, so this lag is exact to the clock; the poller's figure adds its own period. Legs (p50 / p99, each over "+
			"the traced NAVs; they add up to the lag per NAV, not per percentile): "+hopsSummary(n.Hops)+".")
	}
	if n := res.NAV; n != nil && n.Backlog != "" {
		notes = append(notes, "(b) Where the NAV → stats lag accumulates: the largest backlog of each stage during the paced step and "+
			"its drain, sampled every second from the services' /metrics (an outbox's unpublished rows, fund_outbox_backlog; a "+
			"consumer's messages behind the log end, fund_consumer_lag, over its topics): "+n.Backlog+".")
	}
	if s := res.Stats; s != nil && s.Shortcut > 0 {
		notes = append(notes, fmt.Sprintf("**Shortcut in (c):** the stats consumer had no time for all %d allocations, so after the %d "+
			"applied via Kafka the other %d were bulk-written straight into the stats service's tables (applied_allocations, overview, "+
			"portfolio_totals, hourly_owner_profit, summary_hourly) with set-based SQL that has the same effect as its handler; the "+
			"inbox's processed_events rows were not written (no query reads them). The query figures are measured on that read model.",
			s.Target, s.ViaKafka, s.Shortcut))
	}
	return notes
}
