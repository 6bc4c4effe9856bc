package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fundplatform/platform/libs/httpx"
)

// A Pool sends each request to one replica of a service, round robin over
// the ready ones, as Envoy's cluster (and a Kubernetes Service) does:
//
//   - readiness: with more than one replica, each replica's GET /readyz is
//     polled every HealthInterval; a replica that answers anything but 200
//     (a draining one answers 503 from SIGTERM on) gets no new requests
//     until it answers 200 again. A replica whose connection just failed is
//     skipped for a second as well.
//   - retries: when a replica cannot be reached, the request goes to the
//     next one — always when the connection could not be opened (nothing
//     was sent), and after any other transport failure (reset, closed
//     connection) only when the request is safe to send again: GET, HEAD,
//     OPTIONS, or one carrying an Idempotency-Key (the services answer a
//     repeated key with the first answer). The request body is buffered
//     (up to 1 MiB; larger bodies are not retried). Each replica is tried
//     at most once; when none answers, the client gets 503
//     service_unavailable.
//
// When every replica is not ready, the request is still tried on all of
// them (Envoy's panic threshold), so a failed readiness probe alone never
// turns into a 503 here.
type Pool struct {
	service string
	targets []*target
	next    atomic.Uint64
	log     *slog.Logger
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

type target struct {
	base      string
	proxy     *httputil.ReverseProxy
	ready     atomic.Bool
	downUntil atomic.Int64 // unix nanoseconds; skipped until then after a connection failure
}

// PoolOptions tune a Pool; zero values take the defaults.
type PoolOptions struct {
	// Transport reaches the replicas (default: the edge's transport).
	Transport http.RoundTripper
	// Logger receives retries and failures (default: discarded).
	Logger *slog.Logger
	// HealthInterval is how often each replica's /readyz is polled when
	// there are several (default 200 ms).
	HealthInterval time.Duration
	// Internal marks a pool that stands in for a Kubernetes Service between
	// services (no edge in front): it keeps the caller's X-Request-Id
	// instead of setting the edge's.
	Internal bool
}

// maxRetryBody is the largest request body buffered so that the request
// can be sent to another replica.
const maxRetryBody = 1 << 20

// NewPool returns a pool over the replicas' base URLs; with more than one,
// it polls their readiness until Close.
func NewPool(service string, bases []string, opts PoolOptions) (*Pool, error) {
	if len(bases) == 0 {
		return nil, fmt.Errorf("edge: service %s has no replica", service)
	}
	if opts.Transport == nil {
		opts.Transport = defaultTransport()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 200 * time.Millisecond
	}
	p := &Pool{service: service, log: opts.Logger}
	for _, base := range bases {
		u, err := url.Parse(base)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("edge: backend %s: bad URL %q", service, base)
		}
		t := &target{base: base, proxy: p.newProxy(u, opts.Transport, opts.Internal)}
		t.ready.Store(true)
		p.targets = append(p.targets, t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	if len(p.targets) > 1 {
		client := &http.Client{Timeout: time.Second, Transport: opts.Transport}
		for _, t := range p.targets {
			p.wg.Add(1)
			go func() { defer p.wg.Done(); t.watch(ctx, client, opts.HealthInterval) }()
		}
	}
	return p, nil
}

// Close stops the readiness polls.
func (p *Pool) Close() {
	p.stop()
	p.wg.Wait()
}

// watch polls the replica's readiness until ctx ends.
func (t *target) watch(ctx context.Context, client *http.Client, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		t.ready.Store(err == nil && resp.StatusCode == http.StatusOK)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// usable reports whether the replica may get new requests now.
func (t *target) usable(now time.Time) bool {
	return t.ready.Load() && now.UnixNano() >= t.downUntil.Load()
}

// order is the replicas in the order to try them: the usable ones round
// robin from the next in turn, then the others.
func (p *Pool) order() []*target {
	n := len(p.targets)
	if n == 1 {
		return p.targets
	}
	start := int(p.next.Add(1) % uint64(n))
	now := time.Now()
	out := make([]*target, 0, n)
	var rest []*target
	for i := range n {
		t := p.targets[(start+i)%n]
		if t.usable(now) {
			out = append(out, t)
		} else {
			rest = append(rest, t)
		}
	}
	return append(out, rest...)
}

// attemptKey carries an attempt's outcome from the proxy's ErrorHandler
// back to ServeHTTP.
type attemptKey struct{}

type attempt struct {
	err        error
	clientGone bool
}

// ServeHTTP proxies r to one replica, trying the next ones as described on
// Pool.
func (p *Pool) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	replayable := Replayable(r)
	targets := p.order()
	var body []byte
	if r.Body != nil && r.Body != http.NoBody && len(targets) > 1 {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxRetryBody+1))
		if err != nil {
			if rec, ok := w.(*recorder); ok {
				rec.status = 499 // the client went away while sending
			}
			return
		}
		if len(b) > maxRetryBody { // too large to keep: one attempt, streamed
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
			targets = targets[:1]
		} else {
			body = b
		}
	}
	var lastErr error
	for _, t := range targets {
		a := &attempt{}
		req := r.WithContext(context.WithValue(r.Context(), attemptKey{}, a))
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		t.proxy.ServeHTTP(w, req)
		if a.err == nil || a.clientGone {
			return
		}
		lastErr = a.err
		t.downUntil.Store(time.Now().Add(time.Second).UnixNano())
		if !dialFailed(a.err) && !replayable {
			break
		}
		p.log.InfoContext(r.Context(), "replica unavailable; trying another", "service", p.service,
			"replica", t.base, "error", a.err.Error(), "request_id", httpx.RequestID(r.Context()))
	}
	p.log.WarnContext(r.Context(), "backend unavailable", "service", p.service,
		"error", lastErr.Error(), "request_id", httpx.RequestID(r.Context()))
	httpx.WriteError(r.Context(), w, ErrServiceUnavailable)
}

// Replayable reports whether a request may be sent again after a transport
// failure: a safe method, or an Idempotency-Key.
func Replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return r.Header.Get("Idempotency-Key") != ""
}

// dialFailed reports whether err is a failure to open the connection: the
// request was not sent.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (p *Pool) newProxy(target *url.URL, transport http.RoundTripper, internal bool) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: transport,
		// Rewrite (unlike Director) starts from a request with the
		// client's hop-by-hop and X-Forwarded-* headers removed; we add
		// the standard X-Forwarded-For/-Host/-Proto and nothing else.
		// Other headers — Authorization, traceparent, tracestate… — pass
		// through untouched.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // like Envoy: the backend sees the client's Host
			pr.SetXForwarded()
			if !internal {
				pr.Out.Header.Set(httpx.RequestIDHeader, httpx.RequestID(pr.In.Context()))
			}
		},
		// The edge already set X-Request-Id on the response (the same id
		// the backend got); drop the backend's copy rather than send two.
		ModifyResponse: func(resp *http.Response) error {
			if !internal {
				resp.Header.Del(httpx.RequestIDHeader)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a, _ := r.Context().Value(attemptKey{}).(*attempt)
			if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
				// The client went away; nobody is left to answer.
				if rec, ok := w.(*recorder); ok {
					rec.status = 499
				}
				a.clientGone = true
				return
			}
			a.err = err // ServeHTTP retries or answers 503
		},
	}
}

// defaultTransport reaches the backends: a short connect timeout, no HTTP
// proxy, and a connection kept per concurrent request to each backend, as
// Envoy's pools do (the default keeps 2 idle per host, so under more
// concurrency every other request dialled a new connection).
func defaultTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 0 // no limit over all backends
	t.MaxIdleConnsPerHost = 256
	return t
}
