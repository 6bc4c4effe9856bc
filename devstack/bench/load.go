package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// op is one request of a load step. worker is the index of the goroutine
// running it (0..workers-1), seq a number unique within the step.
type op func(ctx context.Context, worker, seq int) error

// result is what one load step measured. Latencies are those of the
// successful requests only; errors are counted apart.
type result struct {
	Workers   int
	Rate      float64 // the paced rate asked for; 0 for a closed loop
	Elapsed   time.Duration
	OK        int
	Errors    int
	FirstErr  string
	Latencies []time.Duration
}

// Throughput is the successful requests per second.
func (r result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// P is the p-th percentile of the latencies in milliseconds (NaN when none).
func (r result) P(p float64) float64 { return ms(percentile(r.Latencies, p)) }

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of d, or
// -1 when d is empty. d is sorted in place.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return -1
	}
	slices.Sort(d)
	rank := int(math.Ceil(p / 100 * float64(len(d))))
	rank = min(max(rank, 1), len(d))
	return d[rank-1]
}

// ms is d in milliseconds; NaN for the "none" marker of percentile.
func ms(d time.Duration) float64 {
	if d < 0 {
		return math.NaN()
	}
	return float64(d) / float64(time.Millisecond)
}

// recorder collects the outcomes of a step from many goroutines.
type recorder struct {
	mu  sync.Mutex
	res result
}

func (rc *recorder) add(lat time.Duration, err error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil {
		rc.res.Errors++
		if rc.res.FirstErr == "" {
			rc.res.FirstErr = err.Error()
		}
		return
	}
	rc.res.OK++
	rc.res.Latencies = append(rc.res.Latencies, lat)
}

// runClosed runs a closed loop: workers goroutines each send one request
// after the other for d. Latency is from send to answer.
func runClosed(ctx context.Context, workers int, d time.Duration, fn op) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var rc recorder
	var seq atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := int(seq.Add(1) - 1)
				t0 := time.Now()
				// The request itself is not cut off by the step's end: it
				// is counted when it completes.
				err := fn(context.WithoutCancel(ctx), w, n)
				rc.add(time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	rc.res.Workers, rc.res.Elapsed = workers, time.Since(start)
	return rc.res
}

// runPaced runs an open loop: requests are due at a constant rate for d
// and are sent by at most maxInFlight goroutines. Latency is measured from
// when a request was due, not when a goroutine got free to send it, so a
// server that falls behind is charged for the queueing it causes
// (no coordinated omission).
func runPaced(ctx context.Context, rate float64, d time.Duration, maxInFlight int, fn op) result {
	n := int(rate * d.Seconds())
	type job struct {
		seq int
		due time.Time
	}
	jobs := make(chan job, n)
	var rc recorder
	var wg sync.WaitGroup
	start := time.Now()
	for w := range maxInFlight {
		wg.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				err := fn(ctx, w, j.seq)
				rc.add(time.Since(j.due), err)
			}
		})
	}
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			break
		}
		jobs <- job{seq: i, due: due}
	}
	close(jobs)
	wg.Wait()
	rc.res.Workers, rc.res.Rate, rc.res.Elapsed = maxInFlight, rate, time.Since(start)
	return rc.res
}
