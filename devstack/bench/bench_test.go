package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one sample = %v", got)
	}
	if got := percentile(nil, 50); got != -1 || !math.IsNaN(ms(got)) {
		t.Errorf("p50 of nothing = %v, want the none marker", got)
	}
	r := result{Elapsed: 2 * time.Second, OK: 10, Latencies: []time.Duration{3 * time.Millisecond, time.Millisecond}}
	if r.Throughput() != 5 || r.P(50) != 1 || r.P(99) != 3 {
		t.Errorf("result figures: %v/s p50 %v p99 %v", r.Throughput(), r.P(50), r.P(99))
	}
}

func TestParseBenchLine(t *testing.T) {
	b, ok := parseBenchLine("BenchmarkLedgerReplay-2   \t       1\t2345678901 ns/op\t      6123 credits/s\t  512 B/op")
	if !ok || b.Name != "BenchmarkLedgerReplay" || b.N != 1 || b.Metrics["credits/s"] != 6123 || b.Metrics["ns/op"] != 2345678901 {
		t.Fatalf("parsed %+v, %v", b, ok)
	}
	b, ok = parseBenchLine("BenchmarkOutboxRelayPaced/rate=5000-8  1  1000 ns/op  41.5 p50-ms  187.25 p99-ms")
	if !ok || b.Name != "BenchmarkOutboxRelayPaced/rate=5000" || b.Metrics["p99-ms"] != 187.25 {
		t.Fatalf("parsed %+v, %v", b, ok)
	}
	for _, l := range []string{"PASS", "ok  \tgithub.com/x\t0.01s", "BenchmarkX-2 --- FAIL", "goos: linux", ""} {
		if _, ok := parseBenchLine(l); ok {
			t.Errorf("%q parsed as a result line", l)
		}
	}
}

func TestFillFigures(t *testing.T) {
	out := "goos: linux\nBenchmarkOutboxRelay-2  1  5 ns/op  12000 events/s\nBenchmarkOutboxRelayPaced-2  1  5 ns/op  40 p50-ms  300 p99-ms\nPASS\n"
	figs := append([]goBenchFigure(nil), goBenchRuns()[1].Figures...)
	fillFigures(figs, out, "")
	if figs[0].Value != 12000 || figs[1].Value != 300 || figs[2].Value != 40 || figs[0].Missing != "" {
		t.Fatalf("figures %+v", figs)
	}
	if figs[1].Target.met(figs[1].Value) != "**no**" || figs[0].Target.met(figs[0].Value) != "yes" {
		t.Errorf("targets: %+v", figs)
	}
	missing := append([]goBenchFigure(nil), goBenchRuns()[0].Figures...)
	fillFigures(missing, "PASS\nok\n", "")
	if !strings.HasPrefix(missing[0].Missing, "not measured: ") || !strings.Contains(missing[0].Missing, "BenchmarkLedgerReplay") {
		t.Errorf("absent benchmark: %+v", missing[0])
	}
	fillFigures(missing, "", "go test failed: build error")
	if missing[0].Missing != "not measured: go test failed: build error" {
		t.Errorf("failed run: %q", missing[0].Missing)
	}
}

func TestParseProc(t *testing.T) {
	stat := []byte("4242 (with) paren) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 8 0 123 456 789")
	pt, err := parseStat(stat)
	if err != nil || pt.ppid != 1 || pt.own != 3*time.Second || pt.children != 100*time.Millisecond {
		t.Fatalf("parseStat = %+v, %v", pt, err)
	}
	status := []byte("Name:\tstats\nVmPeak:\t  900 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n")
	if kib, ok := parseStatusKiB(status, "VmHWM"); !ok || kib != 51200 {
		t.Errorf("VmHWM = %d, %v", kib, ok)
	}
	if lat := appendPgbenchLatency(nil, "0 12 1834 0 1700000000 123456"); len(lat) != 1 || lat[0] != 1834*time.Microsecond {
		t.Errorf("pgbench log line: %v", lat)
	}
	if lat := appendPgbenchLatency(nil, "0 12 failed 0 1700000000 123456"); len(lat) != 0 {
		t.Errorf("failed transaction counted: %v", lat)
	}
}

func TestTargetsAndNumbers(t *testing.T) {
	if atMost(25, "ms").met(25) != "yes" || atMost(25, "ms").met(25.1) != "**no**" || atLeast(0.5, "×").met(0.4) != "**no**" ||
		none("ms").met(3) != "—" || atMost(1, "ms").met(math.NaN()) != "—" {
		t.Error("target.met")
	}
	for v, want := range map[float64]string{1234567: "1 234 567", 512: "512", 12.34: "12.3", 0.5: "0.50", -4321: "-4 321"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
	if atLeast(10000, "events/s").String() != "≥ 10 000 events/s" {
		t.Errorf("target string %q", atLeast(10000, "events/s").String())
	}
}

// sampleResults is a small run with one missed target of each kind.
func sampleResults() runResults {
	lat := func(ms ...int) []time.Duration {
		var d []time.Duration
		for _, m := range ms {
			d = append(d, time.Duration(m)*time.Millisecond)
		}
		return d
	}
	w := &withdrawalResult{Accounts: 50,
		Steps: []result{
			{Workers: 1, Elapsed: time.Second, OK: 100, Latencies: lat(5, 6, 9)},
			{Workers: 2, Elapsed: time.Second, OK: 150, Latencies: lat(8, 12, 30)},
		},
		HalfPeak: result{Workers: 64, Rate: 75, Elapsed: time.Second, OK: 75, Latencies: lat(7, 40)},
	}
	w.Peak = w.Steps[1]
	return runResults{
		Withdrawals: w,
		NAV: &navResult{Peak: result{Workers: 16, Elapsed: time.Second, OK: 300, Latencies: lat(20)},
			Paced: result{Workers: 256, Rate: 500, Elapsed: time.Second, OK: 480, Latencies: lat(30)},
			Lags:  lat(100, 200, 900), PollEvery: 25 * time.Millisecond,
			Sent: make([]sentNAV, 4), Traced: 3, CommitLags: lat(80, 150, 700, 60000),
			Hops: []hop{{Name: "POST → snapshot commit", N: 3, P50: 10 * time.Millisecond, P99: 50 * time.Millisecond},
				{Name: "stats consume → commit", N: 3, P50: 20 * time.Millisecond, P99: 650 * time.Millisecond}}},
		NAVRate: 280, NAVRateRule: "280/s = 0.40 × pgbench peak 700 tps at 2 clients (below the 500/s cap)",
		Stats: &statsResult{Target: 1000000, ViaKafka: 200000, ConsumeRate: 1500, ConsumeFor: time.Minute, Shortcut: 800000,
			Loaded: 1000000, Portfolios: 1000,
			Queries: []queryResult{{Name: "overview", Path: "/api/v1/stats/overview", result: result{OK: 3, Elapsed: time.Second, Latencies: lat(2, 3, 4)}}}},
		Baseline: baselineResult{Steps: []baselineStep{{Clients: 1, TPS: 400, Latencies: lat(2, 3)}, {Clients: 2, TPS: 700, Latencies: lat(3, 4)}}},
		Procs: []procUsage{{Name: "stats", PeakRSS: 200 * mib, CPU: 12 * time.Second, PhaseCPU: []time.Duration{time.Second, 11 * time.Second}},
			{Name: "portfolio", PeakRSS: 50 * mib, CPU: 20 * time.Second, PhaseCPU: []time.Duration{0, 20 * time.Second}}},
		GoBench: []goBenchFigure{{Label: "ledger replay", Benchmark: "BenchmarkLedgerReplay", Metric: "credits/s",
			Target: atLeast(5000, "credits/s"), Missing: "not measured: BenchmarkLedgerReplay does not exist yet"}},
		Failed: map[string]string{},
	}
}

func TestRender(t *testing.T) {
	res := sampleResults()
	rep := report{Machine: machine{CPU: "Test CPU", Cores: 2, RAM: 24 << 30, Go: "go1.26.8", Postgres: "15.14"},
		Date: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Duration: 14 * time.Minute, Mode: "full", Command: "go run ./devstack/bench",
		Rows: buildRows(res), Steps: steps(res), Procs: res.Procs, Phases: []string{"setup", "nav"}, Notes: []string{"a note"},
		Plot: "benchmarks-latency.png"}
	rep.Missed = missedTargets(rep.Rows, res, rep.Phases, profileInfo{Dir: "bench-profiles",
		Tops: map[string]string{"nav-paced-stats": "File: stats\nType: cpu", "nav-paced-portfolio": "File: portfolio\nBuild ID: 1234\nType: cpu\nTime: 2026-03-01 12:00:00 UTC\n      flat  flat%   sum%        cum   cum%\n" +
			"     0.10s  0.50%  0.50%      5.10s 25.50%  github.com/fundplatform/platform/libs/inbox.(*Consumer).process"}})
	var buf bytes.Buffer
	if err := render(&buf, rep); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"| CPU | Test CPU |", "| Cores | 2 |", "| RAM | 24.0 GiB |", "| PostgreSQL | 15.14 |", "2026-03-01 12:00 UTC",
		// (a): 150 req/s at 2 workers against 700 tps: ratio 0.21, missed.
		"| (a) withdrawals | withdrawals/s ÷ pgbench tps at the peak's concurrency | 0.21 × pgbench | ≥ 0.5 × pgbench | **no** |",
		// The half-peak target is 3 × the pgbench p99 at 1 client (3 ms).
		"p99 at half the peak rate (75.0 req/s paced, 0 errors) | 40.0 ms | ≤ 9 ms (3.00 × pgbench p99 at 1 client (3.00 ms)) | **no** | 13.3 × pgbench p99 at 1 client |",
		// (b): paced at 0.4 × the pgbench peak; the lag p99 is over 500 ms.
		"| lag p99 at 280 NAV/s (POST → stats commit) | 60 000 ms | ≤ 500 ms | **no** |",
		"3 of 4 paced NAVs traced through the databases; 1 not traced, counted at the drain bound) | 150 ms |",
		"| lag as seen by that client, p99 at 280 NAV/s | 900 ms | — | — |",
		"NAV rate achieved when paced at 280/s = 0.40 × pgbench peak 700 tps at 2 clients (below the 500/s cap) (0 errors) | 480 NAV/s | ≥ 266 NAV/s | yes |",
		// The missed targets, each with its phase's data.
		"## Missed targets",
		"### (b) NAV → stats: lag p99 at 280 NAV/s (POST → stats commit)\n\nMeasured 60 000 ms; target ≤ 500 ms.",
		// The dominant service's profile is quoted; the slowest leg's
		// service's is linked.
		"- CPU seconds during the nav phase: portfolio 20.0, stats 11.0.",
		"- The leg with the largest p99 is stats consume → commit: 650.0 ms of the lag's p99 of 60000.0 ms.",
		"- The leg with the largest p99 is the stats service's; its profile over the same step: [nav-paced-stats.txt](bench-profiles/nav-paced-stats.txt).",
		"([nav-paced-portfolio.txt](bench-profiles/nav-paced-portfolio.txt)):\n\n```\nType: cpu\n      flat  flat%",
		// A concurrency step's ratio below its target is a missed target too.
		"### (a) withdrawals: withdrawals/s ÷ pgbench tps at concurrency 1\n\nMeasured 0.25 × pgbench (100 req/s, pgbench 400 tps); target ≥ 0.5 × pgbench.",
		"### (d) processes: stats peak RSS (VmHWM)\n\nMeasured 200 MiB; target < 128 MiB.",
		// (c): met, and the shortcut is named.
		"GET /api/v1/stats/overview p99 (p50 3.00 ms; 1000 portfolios, 1000000 allocations (200000 via Kafka, 800000 bulk-written: shortcut)) | 4.00 ms | ≤ 10 ms | yes |",
		// (d): 200 MiB is over.
		"| (d) processes | stats peak RSS (VmHWM) | 200 MiB | < 128 MiB | **no** |",
		"| (f) pipeline | ledger replay (BenchmarkLedgerReplay, credits/s) | not measured: BenchmarkLedgerReplay does not exist yet | ≥ 5 000 credits/s | — |",
		"| 2 | 150 | 12.0 | 30.0 | 0 | 700 | 3.00 | 4.00 | 0.21 | ≥ 0.5 × pgbench | **no** |",
		"![Latency percentiles by concurrency](benchmarks-latency.png)",
		"| stats | 200.0 MiB | 12.0 | 1.0 | 11.0 |",
		"- a note",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q\n%s", want, md)
		}
	}
}

func TestNAVRate(t *testing.T) {
	base := func(tps ...float64) baselineResult {
		var b baselineResult
		for i, x := range tps {
			b.Steps = append(b.Steps, baselineStep{Clients: 1 << i, TPS: x})
		}
		return b
	}
	for _, c := range []struct {
		b    baselineResult
		want float64
	}{
		{base(358, 987, 964), 394.8},             // below the cap: 0.4 × the best step, not the first
		{base(900, 1400, 1300), 500},             // 0.4 × 1400 = 560: capped
		{base(1000, 1250), 500},                  // exactly at the cap
		{baselineResult{Err: "no pgbench"}, 500}, // nothing to derive it from
	} {
		if got, rule := navRate(c.b, navRateCap); got != c.want || rule == "" {
			t.Errorf("navRate(%+v) = %v (%s), want %v", c.b.Steps, got, rule, c.want)
		}
	}
	if _, rule := navRate(base(358, 987), 500); !strings.Contains(rule, "0.40 × pgbench peak 987 tps at 2 clients") {
		t.Errorf("rule %q", rule)
	}
	// Rounded to 0.1 NAV/s, and so is the rate it must achieve (95 %).
	if got, _ := navRate(base(100, 209.66), navRateCap); got != 83.9 {
		t.Errorf("0.4 × 209.66 = %v, want 83.9", got)
	}
	res := sampleResults()
	res.NAVRate = 83.9
	found := false
	for _, r := range buildRows(res) {
		found = found || (strings.HasPrefix(r.Figure, "NAV rate achieved") && r.Target == "≥ 79.7 NAV/s")
	}
	if !found {
		t.Errorf("no NAV rate row with the target ≥ 79.7 NAV/s: %+v", buildRows(res))
	}
}

func TestHalfPeakTarget(t *testing.T) {
	lat := func(n int, d time.Duration) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = d
		}
		return out
	}
	// At 1 client p99 10 ms (the 99th of 100 by nearest rank); at 2
	// clients 50 ms, which must not count.
	one := append(lat(98, 2*time.Millisecond), 10*time.Millisecond, 40*time.Millisecond)
	b := baselineResult{Steps: []baselineStep{{Clients: 2, TPS: 900, Latencies: lat(10, 50*time.Millisecond)}, {Clients: 1, TPS: 300, Latencies: one}}}
	tg, rule := halfPeakTarget(b)
	if tg != atMost(30, "ms") || !strings.Contains(rule, "10.0 ms") {
		t.Fatalf("target %+v (%s), want ≤ 30 ms", tg, rule)
	}
	if tg.met(28) != "yes" || tg.met(30.01) != "**no**" {
		t.Errorf("met: %s %s", tg.met(28), tg.met(30.01))
	}
	b.Steps[1].Latencies = lat(100, 1234*time.Microsecond)
	if tg, _ := halfPeakTarget(b); tg.Value != 3.7 {
		t.Errorf("3 × 1.234 ms = %v, want 3.7 (rounded to 0.01 ms)", tg.Value)
	}
	if tg, rule := halfPeakTarget(baselineResult{Err: "x"}); tg.Op != "" || rule == "" {
		t.Errorf("without a 1-client step: %+v %q", tg, rule)
	}
}

func TestRenderNothingMeasured(t *testing.T) {
	res := runResults{Failed: map[string]string{"withdrawals": "no funded account"}, Baseline: baselineResult{Err: "pgbench not found"}}
	var buf bytes.Buffer
	if err := render(&buf, report{Rows: buildRows(res), Steps: steps(res)}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"not measured: no funded account", "not measured: pgbench not found", "(c) stats queries"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q\n%s", want, buf.String())
		}
	}
}
