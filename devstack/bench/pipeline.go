package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pipelineWatch samples, once a second, each service's unpublished outbox
// rows (fund_outbox_backlog) and consumer lag (fund_consumer_lag, summed
// over partitions) from its /metrics, so that the report can say which
// stage of NAV → profit → stats held the backlog.
type pipelineWatch struct {
	urls map[string]string // service → base URL

	mu  sync.Mutex
	now map[string]float64 // "portfolio outbox" → the last sample
	max map[string]float64 // the largest sample
}

func newPipelineWatch(urls map[string]string) *pipelineWatch {
	return &pipelineWatch{urls: urls, now: map[string]float64{}, max: map[string]float64{}}
}

// run samples until ctx ends.
func (w *pipelineWatch) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample scrapes every service once.
func (w *pipelineWatch) sample(ctx context.Context) {
	for name, url := range w.urls {
		outbox, lag, err := scrapeBacklog(ctx, url)
		if err != nil {
			continue
		}
		w.mu.Lock()
		for stage, v := range map[string]float64{name + " outbox": outbox, name + " consumer": lag} {
			w.now[stage] = v
			w.max[stage] = max(w.max[stage], v)
		}
		w.mu.Unlock()
	}
}

// reset forgets the maxima (at the start of a step).
func (w *pipelineWatch) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.max = map[string]float64{}
}

// summary lists the stages with a backlog, largest first: "profit consumer
// 5 400, stats consumer 120"; of the last samples or of the maxima.
func (w *pipelineWatch) summary(maxima bool) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.now
	if maxima {
		m = w.max
	}
	var stages []string
	for stage, v := range m {
		if v > 0 {
			stages = append(stages, stage)
		}
	}
	slices.SortFunc(stages, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(stages))
	for i, s := range stages {
		parts[i] = s + " " + thousands(fmt.Sprintf("%.0f", m[s]))
	}
	if len(parts) == 0 {
		return "no backlog"
	}
	return strings.Join(parts, ", ")
}

// scrapeBacklog reads the outbox backlog and the summed consumer lag from
// a service's /metrics (zero when it has neither).
func scrapeBacklog(ctx context.Context, baseURL string) (outbox, lag float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("%s/metrics: %s", baseURL, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexByte(line, '{'); i >= 0 {
			name = line[:i]
			if j := strings.LastIndexByte(line, ' '); j > i {
				rest = line[j+1:]
			}
		}
		v, perr := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if perr != nil {
			continue
		}
		switch name {
		case "fund_outbox_backlog":
			outbox += v
		case "fund_consumer_lag":
			lag += v
		}
	}
	return outbox, lag, sc.Err()
}
