// Package edge is the dev stack's HTTP edge: the local stand-in for the
// Envoy edge of docker-compose and Kubernetes. It routes by path prefix with
// the one route table in routes.go, answers GET /api/v1/health itself, keeps
// or assigns X-Request-Id, passes traceparent through, answers unrouted paths
// with a 404 envelope and unreachable services with a 503 envelope, and logs
// one access line per request. It also serves the API docs itself (docs.go):
// a page at /docs indexing every service's operations, its embedded assets
// under /docs/assets/, every service's document merged into one at
// /docs/openapi.json, and each service's OpenAPI document, proxied from the
// service's GET /openapi.json, at /docs/openapi/{service}.json. It
// enforces Envoy's rate-limit table (ratelimit.go): a bucket per client
// address and a global one, per row, answering 429 rate_limited with
// Retry-After. A service run as several replicas (Config.Replicas) is
// balanced over its ready replicas, with retries on another one when one
// cannot be reached (balance.go).
//
// Unlike Envoy it does not verify JWTs: every service verifies tokens itself
// (docs/api.md#authentication), which is what the dev stack relies on.
package edge

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/fundplatform/platform/libs/httpx"
)

// ErrServiceUnavailable is the answer when a route's service is not running
// or does not accept connections.
var ErrServiceUnavailable = httpx.NewError(http.StatusServiceUnavailable, "service_unavailable", "service unavailable")

// Config configures the edge handler.
type Config struct {
	// Backends maps a service name to its base URL, e.g.
	// "auth" → "http://127.0.0.1:8081". A route whose service has no entry
	// answers 503 (the service was not started).
	Backends map[string]string
	// Replicas maps a service name to the base URLs of all its replicas;
	// it replaces the service's Backends entry, and the edge balances over
	// them (see Pool).
	Replicas map[string][]string
	// Routes is the route table; nil means Routes.
	Routes []Route
	// Logger receives the access log and proxy errors; nil discards them.
	Logger *slog.Logger
	// Transport reaches the backends; nil means a transport with a short
	// connect timeout and no HTTP proxy.
	Transport http.RoundTripper
	// RateLimits is the rate-limit table (ratelimit.go); nil means
	// RateLimits, Envoy's. ExemptClients skip the per-client buckets.
	RateLimits    []RateLimit
	ExemptClients []string
	// Now is the rate limits' clock; nil means time.Now.
	Now func() time.Time
	// TracerProvider, when set, records a server span per request (a child
	// of the client's traceparent, if any) and a client span per call to a
	// backend, whose traceparent then names it; the access log gets the
	// trace id. Nil: traceparent is passed through as it came.
	TracerProvider trace.TracerProvider
}

// Handler is the edge's http.Handler.
type Handler struct {
	routes  []Route
	proxies map[string]*Pool
	log     *slog.Logger
	handler http.Handler
	limits  *rateLimiter
}

// New builds the edge handler.
func New(cfg Config) (*Handler, error) {
	h := &Handler{routes: cfg.Routes, proxies: map[string]*Pool{}, log: cfg.Logger}
	if h.routes == nil {
		h.routes = Routes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	table, now := cfg.RateLimits, cfg.Now
	if table == nil {
		table = RateLimits
	}
	if now == nil {
		now = time.Now
	}
	h.limits = newRateLimiter(table, cfg.ExemptClients, now)
	transport := cfg.Transport
	if transport == nil {
		transport = defaultTransport()
	}
	if cfg.TracerProvider != nil {
		transport = tracedTransport(transport, cfg.TracerProvider)
	}
	replicas := map[string][]string{}
	for name, base := range cfg.Backends {
		replicas[name] = []string{base}
	}
	for name, bases := range cfg.Replicas {
		replicas[name] = bases
	}
	for name, bases := range replicas {
		p, err := NewPool(name, bases, PoolOptions{Transport: transport, Logger: h.log})
		if err != nil {
			h.Close()
			return nil, err
		}
		h.proxies[name] = p
	}
	h.handler = httpx.RequestIDMiddleware(h.accessLog(http.HandlerFunc(h.route)))
	if tp := cfg.TracerProvider; tp != nil {
		h.handler = otelhttp.NewHandler(h.handler, "edge", otelhttp.WithTracerProvider(tp),
			otelhttp.WithPropagators(tracePropagator),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "edge " + r.Method + " " + r.URL.Path }))
	}
	return h, nil
}

// tracePropagator is the W3C trace context, as the services use it.
var tracePropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// tracedTransport records a client span for each proxied request that is
// part of a trace (the readiness polls are not) and sends its traceparent.
func tracedTransport(rt http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
	return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(tracePropagator),
		otelhttp.WithFilter(func(r *http.Request) bool { return trace.SpanContextFromContext(r.Context()).IsValid() }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "edge proxy " + r.Method + " " + r.URL.Path }))
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// Close stops the readiness polls of the services with several replicas.
func (h *Handler) Close() {
	for _, p := range h.proxies {
		p.Close()
	}
}

// route dispatches one request.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	if esc := r.URL.EscapedPath(); cleanPath(esc) != esc {
		// Match and forward the normalised path, as Envoy does with
		// normalize_path and merge_slashes: "/api/v1/x/../users" is
		// "/api/v1/users" for the route and for the backend alike. An
		// escaped slash (%2F) is not a separator (Envoy keeps it
		// unchanged), so "/api/v1/users/..%2fteams" stays one id segment
		// of /api/v1/users rather than climbing to /api/v1/teams.
		esc = cleanPath(esc)
		p, err := url.PathUnescape(esc)
		if err != nil {
			httpx.WriteError(r.Context(), w, httpx.ErrNotFound)
			return
		}
		r.URL.Path, r.URL.RawPath = p, ""
		if strings.Contains(esc, "%") {
			r.URL.RawPath = esc
		}
	}
	if h.limits.check(w, r) {
		return
	}
	if r.URL.Path == HealthPath {
		health(w, r)
		return
	}
	if isDocsPath(r.URL.Path) {
		h.docs(w, r)
		return
	}
	route, ok := Match(h.routes, r.URL.Path)
	if !ok {
		httpx.WriteError(r.Context(), w, httpx.ErrNotFound)
		return
	}
	if rec, ok := w.(*recorder); ok {
		rec.service = route.Service
	}
	proxy, ok := h.proxies[route.Service]
	if !ok {
		httpx.WriteError(r.Context(), w, ErrServiceUnavailable)
		return
	}
	proxy.ServeHTTP(w, r)
}

func health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpx.WriteError(r.Context(), w, httpx.ErrMethod)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
}

// cleanPath resolves "." and ".." segments and repeated slashes of an
// escaped path, keeping a trailing slash. Only a real "/" separates
// segments; a segment is a dot segment when it unescapes to "." or ".."
// (so "%2e%2e" is one, as in RFC 3986 normalisation, while "..%2f" is not).
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	var segs []string
	for _, seg := range strings.Split(p[1:], "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			dec = seg
		}
		switch dec {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, seg)
		}
	}
	np := "/" + strings.Join(segs, "/")
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// accessLog logs one line per request once it is answered.
func (h *Handler) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		reqPath := r.URL.Path // before normalisation: what the client asked for
		defer func() {
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			attrs := []any{
				"method", r.Method, "path", reqPath, "status", status,
				"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
				"bytes", rec.bytes, "request_id", httpx.RequestID(r.Context()),
			}
			if rec.service != "" {
				attrs = append(attrs, "service", rec.service)
			}
			if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
				attrs = append(attrs, "trace_id", sc.TraceID().String())
			}
			h.log.InfoContext(r.Context(), "request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// recorder remembers the status and size of a response for the access log.
type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	service string
}

func (r *recorder) WriteHeader(code int) {
	// 1xx (other than 101) are informational; the final status follows.
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack (streaming
// responses and protocol upgrades through the proxy).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// NewServer returns an http.Server for the edge handler with sane timeouts
// for a local edge.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}
