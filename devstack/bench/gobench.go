package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// benchLine is one result line of `go test -bench`.
type benchLine struct {
	Name    string // without the -GOMAXPROCS suffix
	N       int
	Metrics map[string]float64 // unit → value, e.g. "ns/op", "credits/s"
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parseBenchLine parses "BenchmarkX-2   1   123 ns/op   4567 credits/s".
func parseBenchLine(line string) (benchLine, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return benchLine{}, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return benchLine{}, false
	}
	b := benchLine{Name: procsSuffix.ReplaceAllString(f[0], ""), N: n, Metrics: map[string]float64{}}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return benchLine{}, false
		}
		b.Metrics[f[i+1]] = v
	}
	return b, true
}

// goBenchFigure is one metric of scenario (f).
type goBenchFigure struct {
	Label     string
	Benchmark string // the benchmark's name (a sub-benchmark's parent matches too)
	Metric    string
	Target    target
	Value     float64
	Missing   string // "not measured: …" reason when Value is absent
}

// goBenchRun is one `go test -bench` command and the figures it yields.
type goBenchRun struct {
	Dir     string // module directory under the repository
	Pkg     string
	Pattern string
	Figures []goBenchFigure
}

// goBenchRuns are the pipeline benchmarks of scenario (f).
func goBenchRuns() []goBenchRun {
	return []goBenchRun{
		{Dir: "services/withdrawal", Pkg: "./internal/events/", Pattern: "^BenchmarkLedgerReplay$", Figures: []goBenchFigure{
			{Label: "ledger replay", Benchmark: "BenchmarkLedgerReplay", Metric: "credits/s", Target: atLeast(5000, "credits/s")},
		}},
		{Dir: "libs", Pkg: "./outbox/", Pattern: "BenchmarkOutboxRelay", Figures: []goBenchFigure{
			{Label: "outbox relay", Benchmark: "BenchmarkOutboxRelay", Metric: "events/s", Target: atLeast(10000, "events/s")},
			{Label: "outbox relay at 5 000 events/s, p99", Benchmark: "BenchmarkOutboxRelayPaced", Metric: "p99-ms", Target: atMost(250, "ms")},
			{Label: "outbox relay at 5 000 events/s, p50", Benchmark: "BenchmarkOutboxRelayPaced", Metric: "p50-ms", Target: none("ms")},
		}},
	}
}

// fillFigures takes the figures from a run's output; a figure the output
// lacks gets reason (or, without one, "benchmark not found").
func fillFigures(figs []goBenchFigure, output string, reason string) {
	var lines []benchLine
	for _, l := range strings.Split(output, "\n") {
		if b, ok := parseBenchLine(l); ok {
			lines = append(lines, b)
		}
	}
	for i := range figs {
		f := &figs[i]
		found, why := false, reason
		for _, b := range lines {
			if b.Name != f.Benchmark && !strings.HasPrefix(b.Name, f.Benchmark+"/") {
				continue
			}
			if v, ok := b.Metrics[f.Metric]; ok {
				f.Value, found = v, true
				break
			}
			why = "no metric " + f.Metric + " in " + b.Name + "'s output"
		}
		if !found {
			if why == "" {
				why = f.Benchmark + " does not exist yet"
			}
			f.Missing = "not measured: " + why
		}
	}
}

// runGoBenchmarks runs each benchmark command once (bounded by timeout)
// and parses its figures.
func runGoBenchmarks(ctx context.Context, p *progress, repo string, timeout time.Duration) []goBenchFigure {
	var out []goBenchFigure
	for _, r := range goBenchRuns() {
		p.stepf("go bench: %s %s in %s", r.Pattern, r.Pkg, r.Dir)
		cctx, cancel := context.WithTimeout(ctx, timeout)
		cmd := exec.CommandContext(cctx, "go", "test", "-run", "^$", "-bench", r.Pattern, "-benchtime", "1x",
			"-timeout", timeout.String(), r.Pkg)
		cmd.Dir = filepath.Join(repo, r.Dir)
		raw, err := cmd.CombinedOutput()
		cancel()
		reason := ""
		if err != nil {
			reason = "go test failed (" + err.Error() + "): " + lastLines(string(raw), 3)
		}
		figs := append([]goBenchFigure(nil), r.Figures...)
		fillFigures(figs, string(raw), reason)
		for _, f := range figs {
			if f.Missing != "" {
				p.stepf("go bench: %s: %s", f.Label, f.Missing)
			} else {
				p.stepf("go bench: %s: %g %s", f.Label, f.Value, f.Metric)
			}
		}
		out = append(out, figs...)
	}
	return out
}
