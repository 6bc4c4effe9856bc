package observability

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric the platform exports.
const Namespace = "fund"

// NewRegistry returns a registry with the Go runtime and process collectors
// and a constant "service" label on everything registered through it.
func NewRegistry(service string) (*prometheus.Registry, prometheus.Registerer) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, prometheus.WrapRegistererWith(prometheus.Labels{"service": service}, reg)
}

// HTTPMetrics counts requests by route pattern, method and status and
// observes their latency. Routes are patterns, never raw paths, so label
// values stay bounded.
type HTTPMetrics struct {
	log      *slog.Logger
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewHTTPMetrics registers the HTTP metrics; when log is not nil, Wrap also
// writes one access-log record per request.
func NewHTTPMetrics(reg prometheus.Registerer, log *slog.Logger) *HTTPMetrics {
	m := &HTTPMetrics{
		log: log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests handled, by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency, by route pattern and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight)
	return m
}

// Wrap instruments h under the route label.
func (m *HTTPMetrics) Wrap(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Inc()
		elapsed := time.Since(start)
		m.duration.WithLabelValues(route, r.Method).Observe(elapsed.Seconds())
		if m.log != nil {
			level := slog.LevelInfo
			if sw.status >= 500 {
				level = slog.LevelError
			}
			m.log.Log(r.Context(), level, "request", "method", r.Method, "route", route, "path", r.URL.Path,
				"status", sw.status, "duration_ms", float64(elapsed.Microseconds())/1000)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
