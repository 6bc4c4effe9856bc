package pg

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// GaugesTTL is how long the services' reading of their business gauges
// serves scrapes: Prometheus's usual scrape interval.
const GaugesTTL = 15 * time.Second

// Gauge is a gauge read from a service's database when Prometheus scrapes:
// SQL returns one row per series, its Labels' values as text columns in
// that order, then the value (cast to float8: a metric is an approximate
// reading, never money the service computes with).
type Gauge struct {
	Name   string
	Help   string
	Labels []string
	SQL    string
}

// Gauges is a prometheus.Collector of Gauges read from the database, at
// most once per TTL: a scrape in between gets the last reading, so
// frequent scrapes (and replicas, which each report the same database:
// aggregate them with max, not sum) cost the database one reading per TTL
// each. A query that fails is logged and its gauge left out of the
// scrape; each reading is bounded by Timeout.
type Gauges struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	ttl     time.Duration
	gauges  []Gauge
	descs   []*prometheus.Desc
	Timeout time.Duration

	mu   sync.Mutex
	read time.Time
	last []prometheus.Metric
}

// NewGauges is the collector of gauges on pool, read at most once per ttl.
func NewGauges(pool *pgxpool.Pool, log *slog.Logger, ttl time.Duration, gauges ...Gauge) *Gauges {
	g := &Gauges{pool: pool, log: log, ttl: ttl, gauges: gauges, Timeout: 5 * time.Second}
	for _, gg := range gauges {
		g.descs = append(g.descs, prometheus.NewDesc(gg.Name, gg.Help, gg.Labels, nil))
	}
	return g
}

// Describe sends every gauge's description.
func (g *Gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range g.descs {
		ch <- d
	}
}

// Collect sends the latest reading, reading the database again when the
// last one is older than the TTL.
func (g *Gauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil || time.Since(g.read) >= g.ttl {
		g.last, g.read = g.readAll(), time.Now()
	}
	for _, m := range g.last {
		ch <- m
	}
}

func (g *Gauges) readAll() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), g.Timeout)
	defer cancel()
	out := []prometheus.Metric{}
	for i, gg := range g.gauges {
		ms, err := g.readOne(ctx, g.descs[i], gg)
		if err != nil {
			g.log.Warn("read a gauge from the database", "metric", gg.Name, "error", err)
			continue
		}
		out = append(out, ms...)
	}
	return out
}

func (g *Gauges) readOne(ctx context.Context, desc *prometheus.Desc, gg Gauge) ([]prometheus.Metric, error) {
	rows, err := g.pool.Query(ctx, gg.SQL)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (prometheus.Metric, error) {
		labels := make([]string, len(gg.Labels))
		dest := make([]any, 0, len(labels)+1)
		for i := range labels {
			dest = append(dest, &labels[i])
		}
		var v float64
		if err := r.Scan(append(dest, &v)...); err != nil {
			return nil, err
		}
		return prometheus.NewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	})
}
