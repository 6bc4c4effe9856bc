package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// navResult is scenario (b): NAV throughput and the lag until stats shows
// the allocation.
type navResult struct {
	Peak  result // closed loop: the most NAV records per second
	Paced result // at the target rate; its latencies are the POSTs' own
	// Lags are, for each NAV of the paced step, the time from sending its
	// POST to the first stats poll that shows its allocation (an upper
	// bound; the resolution is PollEvery plus the poll's own latency).
	Lags      []time.Duration
	Missing   int           // paced NAVs not visible within DrainBound
	PollEvery time.Duration // the stats poll period
	DrainWait time.Duration // how long stats took to catch up after the paced step
	DrainOK   bool
	// Backlog is the largest backlog of each stage (outbox rows, consumer
	// lag) during the paced step and its drain.
	Backlog string
	// Sent are the paced NAVs, traced through the databases after the
	// step (traceNAVs): CommitLags are their lags from the POST to the
	// commit of the stats transaction that applied their allocation (a
	// NAV not traced counts at DrainBound), Hops each leg of the way, or
	// HopsErr.
	Sent       []sentNAV
	Traced     int
	CommitLags []time.Duration
	Hops       []hop
	HopsErr    string
}

// pendingNAV is a NAV whose allocation stats has not shown yet: the
// portfolio's distributed total must reach expected.
type pendingNAV struct {
	expected float64
	sent     time.Time
	measured bool
}

// lagWatcher polls the stats service's per-portfolio totals and matches
// them against the NAVs sent.
type lagWatcher struct {
	mu      sync.Mutex
	pending map[int64][]pendingNAV
	lags    []time.Duration
}

func (w *lagWatcher) expect(portfolioID int64, expected float64, sent time.Time, measured bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending[portfolioID] = append(w.pending[portfolioID], pendingNAV{expected, sent, measured})
}

func (w *lagWatcher) outstanding() (all, measured int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ps := range w.pending {
		all += len(ps)
		for _, p := range ps {
			if p.measured {
				measured++
			}
		}
	}
	return all, measured
}

// observe takes one poll's distributed totals, seen at time seen.
func (w *lagWatcher) observe(distributed map[int64]float64, seen time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, d := range distributed {
		ps := w.pending[id]
		for len(ps) > 0 && ps[0].expected <= d+1e-9 {
			if ps[0].measured {
				w.lags = append(w.lags, seen.Sub(ps[0].sent))
			}
			ps = ps[1:]
		}
		w.pending[id] = ps
	}
}

// poll reads every portfolio's distributed total from stats, one page of
// 1 000 at a time.
func pollDistributed(ctx context.Context, c *client) (map[int64]float64, error) {
	out := map[int64]float64{}
	for offset := 0; ; offset += 1000 {
		var rows []struct {
			PortfolioID int64  `json:"portfolio_id"`
			Distributed string `json:"distributed"`
		}
		if _, err := c.do(ctx, "GET", fmt.Sprintf("/api/v1/stats/acc_profit?limit=1000&offset=%d", offset), nil, 200, &rows); err != nil {
			return nil, err
		}
		for _, r := range rows {
			d, err := strconv.ParseFloat(r.Distributed, 64)
			if err != nil {
				return nil, err
			}
			out[r.PortfolioID] = d
		}
		if len(rows) < 1000 {
			return out, nil
		}
	}
}

func (w *lagWatcher) run(ctx context.Context, c *client, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d, err := pollDistributed(ctx, c)
		if err == nil {
			w.observe(d, time.Now())
		}
	}
}

// navConfig sizes scenario (b).
type navConfig struct {
	PeakWorkers int
	PeakFor     time.Duration
	Rate        float64
	RateFor     time.Duration
	PollEvery   time.Duration
	DrainBound  time.Duration
	// Analyze runs VACUUM ANALYZE on every service database between the
	// closed loop and the paced step (-nav-analyze).
	Analyze bool
}

// runNAV measures the closed-loop NAV rate, then NAVs paced at cfg.Rate
// spread round-robin over every portfolio, with the lag of each until
// stats shows its allocation. NAVs of one portfolio are sent one at a time
// (as_of must increase), so the paced step needs many portfolios. onPaced
// is called as the paced step starts (the bench profiles it).
func runNAV(ctx context.Context, p *progress, f *fixture, cfg navConfig, pipe *pipelineWatch, dbs map[string]string, onPaced func()) navResult {
	w := &lagWatcher{pending: map[int64][]pendingNAV{}}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go w.run(wctx, f.admin, cfg.PollEvery)
	go pipe.run(wctx, time.Second)

	var sentMu sync.Mutex
	var sentNAVs []sentNAV
	send := func(ctx context.Context, pf *portfolio, measured bool) error {
		pf.mu.Lock()
		defer pf.mu.Unlock()
		sent := time.Now()
		snapshot, err := postNAV(ctx, f.admin, pf)
		if err != nil {
			return err
		}
		w.expect(pf.id, pf.expected, sent, measured)
		if measured {
			sentMu.Lock()
			sentNAVs = append(sentNAVs, sentNAV{Snapshot: snapshot, Sent: sent})
			sentMu.Unlock()
		}
		return nil
	}
	var out navResult
	out.PollEvery = cfg.PollEvery

	// Closed loop: worker i owns the portfolios i, i+workers, …
	n := len(f.portfolios)
	workers := min(cfg.PeakWorkers, n)
	next := make([]int, workers)
	p.stepf("nav: closed loop, %d workers, %s", workers, cfg.PeakFor)
	out.Peak = runClosed(ctx, workers, cfg.PeakFor, func(ctx context.Context, wk, _ int) error {
		idx := wk + workers*(next[wk]%((n-wk+workers-1)/workers))
		next[wk]++
		return send(ctx, f.portfolios[idx], false)
	})
	p.stepf("nav: peak %.0f NAV/s (p50 %.1f ms, p99 %.1f ms, %d errors)", out.Peak.Throughput(), out.Peak.P(50), out.Peak.P(99), out.Peak.Errors)
	waitDrain(ctx, p, w, pipe, cfg.DrainBound, false)
	pipe.reset()
	// The closed loop took the services' tables from empty to thousands of
	// rows within a minute, before autovacuum's first look at them: give
	// them the VACUUM ANALYZE it would, so that the paced step runs on
	// plans made for tables of their size (a statement's plan cached while
	// its table was empty is a sequential scan).
	if cfg.Analyze {
		t0 := time.Now()
		for _, name := range slices.Sorted(maps.Keys(dbs)) {
			if err := vacuumAnalyze(ctx, dbs[name]); err != nil {
				p.stepf("nav: VACUUM ANALYZE %s: %v", name, err)
			}
		}
		p.stepf("nav: VACUUM ANALYZE of the services' databases took %s", time.Since(t0).Round(time.Millisecond))
	}

	p.stepf("nav: paced at %.0f NAV/s over %d portfolios for %s", cfg.Rate, n, cfg.RateFor)
	onPaced()
	out.Paced = runPaced(ctx, cfg.Rate, cfg.RateFor, 256, func(ctx context.Context, _, seq int) error {
		return send(ctx, f.portfolios[seq%n], true)
	})
	p.stepf("nav: paced step sent %d (%.0f/s achieved, %d errors); waiting for stats", out.Paced.OK, out.Paced.Throughput(), out.Paced.Errors)
	start := time.Now()
	out.DrainOK = waitDrain(ctx, p, w, pipe, cfg.DrainBound, true)
	out.DrainWait = time.Since(start)
	out.Backlog = pipe.summary(true)
	p.stepf("nav: largest backlog per stage: %s", out.Backlog)
	stopWatch()
	w.mu.Lock()
	out.Lags = append([]time.Duration(nil), w.lags...)
	w.mu.Unlock()
	_, out.Missing = w.outstanding()
	sentMu.Lock()
	out.Sent = sentNAVs
	sentMu.Unlock()
	for range out.Missing {
		// Not visible within the bound: counted at the bound, a lower
		// bound of their true lag.
		out.Lags = append(out.Lags, cfg.DrainBound)
	}
	lags := append([]time.Duration(nil), out.Lags...)
	p.stepf("nav: lag p50 %.1f ms, p99 %.1f ms over %d NAVs (%d not visible within %s)",
		ms(percentile(lags, 50)), ms(percentile(lags, 99)), len(lags), out.Missing, cfg.DrainBound)
	return out
}

// waitDrain waits until stats shows every NAV sent (or the bound passes).
func waitDrain(ctx context.Context, p *progress, w *lagWatcher, pipe *pipelineWatch, bound time.Duration, measuredOnly bool) bool {
	deadline := time.Now().Add(bound)
	last := time.Now()
	for {
		all, measured := w.outstanding()
		left := all
		if measuredOnly {
			left = measured
		}
		if left == 0 {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stepf("nav: %d NAVs still not visible in stats after %s", left, bound)
			return false
		}
		if time.Since(last) > 5*time.Second {
			p.stepf("nav: waiting for stats, %d NAVs not visible yet (backlog: %s)", left, pipe.summary(false))
			last = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}
