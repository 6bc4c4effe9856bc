package main

import (
	"fmt"
	"math"
	"time"
)

// runResults is everything one run measured. A nil scenario was not run;
// failed[scenario] says why.
type runResults struct {
	Withdrawals *withdrawalResult
	NAV         *navResult
	NAVRate     float64 // the paced NAV rate asked for (navRate)
	NAVRateRule string  // how NAVRate was derived from the baseline
	Stats       *statsResult
	Baseline    baselineResult
	Procs       []procUsage
	GoBench     []goBenchFigure
	Failed      map[string]string
}

// Targets of the figures. The half-peak p99 target and the paced NAV rate
// are derived from the same run's pgbench baseline: halfPeakTarget and
// navRate.
var (
	ratioTarget     = atLeast(0.5, "× pgbench")
	lagTarget       = atMost(500, "ms")
	queryTarget     = atMost(10, "ms")
	rssTarget       = atMost(128, "MiB") // strictly below, see rssMet
	statsAllocCount = 1_000_000
)

// The targets' rules: the NAV → stats lag is measured at
// min(navRateCap, navRateShare × the pgbench peak tps) NAV/s, and the p99
// of withdrawals paced at half their peak must stay within
// halfPeakFactor × the pgbench p99 at one client.
const (
	navRateCap     = 500.0
	navRateShare   = 0.4
	halfPeakFactor = 3.0
)

// navRate is the paced NAV rate of the run: navRateShare × the pgbench
// peak, at most limit (navRateCap in a full run); limit itself when the
// baseline was not measured. rule says how it was derived.
func navRate(b baselineResult, limit float64) (rate float64, rule string) {
	peak := peakBaseline(b)
	if peak == nil || peak.TPS <= 0 {
		return limit, fmt.Sprintf("%s/s: no pgbench baseline to derive it from (%s)", num(limit), b.Err)
	}
	share := math.Round(navRateShare*peak.TPS*10) / 10 // to 0.1 NAV/s
	if share >= limit {
		return limit, fmt.Sprintf("%s/s, the cap (%s × pgbench peak %s tps at %d clients = %s/s)",
			num(limit), num(navRateShare), num(peak.TPS), peak.Clients, num(share))
	}
	return share, fmt.Sprintf("%s/s = %s × pgbench peak %s tps at %d clients (below the %s/s cap)",
		num(share), num(navRateShare), num(peak.TPS), peak.Clients, num(limit))
}

// halfPeakTarget is halfPeakFactor × the pgbench p99 at one client, in
// ms (rounded to 0.01 ms); no target when that step was not measured.
func halfPeakTarget(b baselineResult) (target, string) {
	b1 := b.at(1)
	if b1 == nil || len(b1.Latencies) == 0 {
		return none("ms"), "no pgbench step at 1 client"
	}
	p99 := ms(percentile(b1.Latencies, 99))
	return atMost(math.Round(halfPeakFactor*p99*100)/100, "ms"),
		fmt.Sprintf("%s × pgbench p99 at 1 client (%s ms)", num(halfPeakFactor), num(p99))
}

// ratio is a/b, NaN when b is not positive.
func ratio(a, b float64) float64 {
	if b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// vs describes a ratio to the baseline.
func vs(r float64, what string) string {
	if math.IsNaN(r) {
		return "—"
	}
	return fmt.Sprintf("%s × %s", num(r), what)
}

// steps pairs each withdrawal step with the pgbench step of the same
// concurrency.
func steps(res runResults) []stepRow {
	if res.Withdrawals == nil {
		return nil
	}
	var out []stepRow
	for _, s := range res.Withdrawals.Steps {
		r := stepRow{Clients: s.Workers, RPS: s.Throughput(), P50: s.P(50), P99: s.P(99), Errors: s.Errors,
			TPS: math.NaN(), BaseP50: math.NaN(), BaseP99: math.NaN(), RatioTarget: ratioTarget}
		if b := res.Baseline.at(s.Workers); b != nil {
			r.TPS, r.BaseP50, r.BaseP99 = b.TPS, ms(percentile(b.Latencies, 50)), ms(percentile(b.Latencies, 99))
		}
		r.Ratio = ratio(r.RPS, r.TPS)
		out = append(out, r)
	}
	return out
}

// peakBaseline is the best pgbench step.
func peakBaseline(b baselineResult) *baselineStep {
	var best *baselineStep
	for i := range b.Steps {
		if best == nil || b.Steps[i].TPS > best.TPS {
			best = &b.Steps[i]
		}
	}
	return best
}

// buildRows turns the results into the figures table.
func buildRows(res runResults) []row {
	var rows []row
	base := peakBaseline(res.Baseline)
	baseTPS := math.NaN()
	if base != nil {
		baseTPS = base.TPS
	}
	vsPeak := func(v float64) string {
		if base == nil {
			return "—"
		}
		return vs(ratio(v, baseTPS), fmt.Sprintf("pgbench peak (%s tps at %d clients)", num(baseTPS), base.Clients))
	}

	// (a) withdrawals
	const a = "(a) withdrawals"
	if w := res.Withdrawals; w != nil && w.Peak.OK > 0 {
		pk := w.Peak
		b := res.Baseline.at(pk.Workers)
		tps, bp50, bp99 := math.NaN(), math.NaN(), math.NaN()
		if b != nil {
			tps, bp50, bp99 = b.TPS, ms(percentile(b.Latencies, 50)), ms(percentile(b.Latencies, 99))
		}
		rt := ratio(pk.Throughput(), tps)
		rows = append(rows,
			figure(a, fmt.Sprintf("peak withdrawals/s (at concurrency %d, %d accounts)", pk.Workers, w.Accounts), pk.Throughput(), none("req/s"),
				vs(rt, fmt.Sprintf("pgbench at %d clients (%s tps)", pk.Workers, num(tps)))),
			figure(a, "withdrawals/s ÷ pgbench tps at the peak's concurrency", rt, ratioTarget, ""),
			figure(a, fmt.Sprintf("p50 at the peak (concurrency %d)", pk.Workers), pk.P(50), none("ms"), vs(ratio(pk.P(50), bp50), "pgbench p50")),
			figure(a, fmt.Sprintf("p99 at the peak (concurrency %d)", pk.Workers), pk.P(99), none("ms"), vs(ratio(pk.P(99), bp99), "pgbench p99")))
		ht, rule := halfPeakTarget(res.Baseline)
		if hp := w.HalfPeak; hp.OK > 0 {
			b1 := res.Baseline.at(1)
			bp := math.NaN()
			if b1 != nil {
				bp = ms(percentile(b1.Latencies, 99))
			}
			r := figure(a, fmt.Sprintf("p99 at half the peak rate (%s req/s paced, %d errors)", num(hp.Rate), hp.Errors),
				hp.P(99), ht, vs(ratio(hp.P(99), bp), "pgbench p99 at 1 client"))
			r.Target += " (" + rule + ")"
			rows = append(rows, r)
		} else {
			rows = append(rows, notMeasured(a, "p99 at half the peak rate", ht, "not measured: "+hp.FirstErr))
		}
	} else {
		rows = append(rows, notMeasured(a, "withdrawals", ratioTarget, "not measured: "+res.Failed["withdrawals"]))
	}

	// (b) NAV
	const bsec = "(b) NAV → stats"
	if n := res.NAV; n != nil {
		rule := res.NAVRateRule
		if rule == "" {
			rule = num(res.NAVRate) + "/s"
		}
		rows = append(rows,
			figure(bsec, fmt.Sprintf("NAV records/s (closed loop, %d workers, %d errors)", n.Peak.Workers, n.Peak.Errors),
				n.Peak.Throughput(), none("NAV/s"), vsPeak(n.Peak.Throughput())),
			figure(bsec, fmt.Sprintf("NAV rate achieved when paced at %s (%d errors)", rule, n.Paced.Errors),
				n.Paced.Throughput(), atLeast(math.Round(res.NAVRate*0.95*10)/10, "NAV/s"), vsPeak(n.Paced.Throughput())),
			figure(bsec, "NAV POST p99 when paced", n.Paced.P(99), none("ms"), ""))
		rate := fmt.Sprintf("at %s NAV/s", num(res.NAVRate))
		if n.HopsErr == "" {
			note := fmt.Sprintf("%d of %d paced NAVs traced through the databases", n.Traced, len(n.Sent))
			if untraced := len(n.Sent) - n.Traced; untraced > 0 {
				note += fmt.Sprintf("; %d not traced, counted at the drain bound", untraced)
			}
			rows = append(rows, figure(bsec, "lag NAV POST → commit of the stats transaction that applied its allocation, p50 ("+note+")",
				ms(percentile(n.CommitLags, 50)), none("ms"), ""))
		}
		lagRow := figure(bsec, "lag p99 "+rate+" (POST → stats commit)", ms(percentile(n.CommitLags, 99)), lagTarget, "")
		if n.HopsErr != "" {
			lagRow = notMeasured(bsec, "lag p99 "+rate, lagTarget, "not traced: "+n.HopsErr)
		}
		if n.Paced.Throughput() < res.NAVRate*0.95 && lagRow.Met == "yes" {
			lagRow.Met = "**no** (rate not reached)"
		}
		rows = append(rows, lagRow)
		lags := append([]time.Duration(nil), n.Lags...)
		note := fmt.Sprintf("over %d NAVs; an upper bound: up to one poll period and the poll's own time later than the commit", len(lags))
		if n.Missing > 0 {
			note += fmt.Sprintf("; %d not visible within the bound, counted at it", n.Missing)
		}
		rows = append(rows,
			figure(bsec, fmt.Sprintf("lag as seen by a client polling GET /stats/acc_profit every %s, p50 (%s)", n.PollEvery, note),
				ms(percentile(lags, 50)), none("ms"), ""),
			figure(bsec, fmt.Sprintf("lag as seen by that client, p99 %s", rate), ms(percentile(lags, 99)), none("ms"), ""))
	} else {
		rows = append(rows, notMeasured(bsec, "NAV", lagTarget, "not measured: "+res.Failed["nav"]))
	}

	// (c) stats
	const c = "(c) stats queries"
	if s := res.Stats; s != nil {
		rows = append(rows, figure(c, fmt.Sprintf("stats consumer apply rate (profit.allocated via Kafka, %d events in %s)",
			s.ViaKafka, s.ConsumeFor.Round(time.Second)), s.ConsumeRate, none("events/s"), vsPeak(s.ConsumeRate)))
		loaded := fmt.Sprintf("%d portfolios, %d allocations", s.Portfolios, s.Loaded)
		if s.Shortcut > 0 {
			loaded += fmt.Sprintf(" (%d via Kafka, %d bulk-written: shortcut)", s.ViaKafka, s.Shortcut)
		}
		for _, q := range s.Queries {
			r := figure(c, fmt.Sprintf("GET %s p99 (p50 %s ms; %s)", q.Path, num(q.P(50)), loaded), q.P(99), queryTarget, "")
			if q.OK == 0 {
				r = notMeasured(c, "GET "+q.Path, queryTarget, "not measured: "+q.FirstErr)
			} else if s.Loaded < int64(s.Target) && r.Met == "yes" {
				r.Met = fmt.Sprintf("**no** (only %d allocations loaded)", s.Loaded)
			}
			rows = append(rows, r)
		}
		if s.ShortcutErr != "" {
			rows = append(rows, notMeasured(c, "loading 1 000 000 allocations", none(""), s.ShortcutErr))
		}
	} else {
		rows = append(rows, notMeasured(c, "stats queries", queryTarget, "not measured: "+res.Failed["stats"]))
	}

	// (d) processes
	const d = "(d) processes"
	for _, p := range res.Procs {
		if p.PeakRSS > 0 {
			r := figure(d, p.Name+" peak RSS (VmHWM)", float64(p.PeakRSS)/mib, rssTarget, "")
			if float64(p.PeakRSS)/mib >= 128 {
				r.Met = "**no**"
			}
			r.Target = "< 128 MiB"
			rows = append(rows, r)
		}
		rows = append(rows, figure(d, p.Name+" CPU time over the run", p.CPU.Seconds(), none("s"), ""))
	}

	// (e) baseline
	const e = "(e) baseline"
	if res.Baseline.Err != "" {
		rows = append(rows, notMeasured(e, "pgbench", none(""), "not measured: "+res.Baseline.Err))
	}
	for _, st := range res.Baseline.Steps {
		rows = append(rows, figure(e, fmt.Sprintf("pgbench withdrawal script, %d clients (p99 %s ms, %d failed)", st.Clients,
			num(ms(percentile(st.Latencies, 99))), st.Failed), st.TPS, none("tps"), "1 (the baseline)"))
	}

	// (f) pipeline benchmarks
	const f = "(f) pipeline"
	for _, g := range res.GoBench {
		name := fmt.Sprintf("%s (%s, %s)", g.Label, g.Benchmark, g.Metric)
		if g.Missing != "" {
			rows = append(rows, notMeasured(f, name, g.Target, g.Missing))
			continue
		}
		t := g.Target
		rows = append(rows, figure(f, name, g.Value, t, ""))
	}
	return rows
}
