package edge

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fundplatform/platform/libs/httpx"
)

// ErrRateLimited is the answer to a request over a rate limit: Envoy's
// local reply for 429 (deploy/envoy/envoy.yaml) in the API's envelope.
var ErrRateLimited = httpx.NewError(http.StatusTooManyRequests, "rate_limited", "too many requests, try again later")

// Bucket is a token bucket as Envoy's (type.v3.TokenBucket): it starts
// full with MaxTokens and gains TokensPerFill every FillInterval, up to
// MaxTokens; each request takes one token or is refused.
type Bucket struct {
	MaxTokens     int
	TokensPerFill int
	FillInterval  time.Duration
}

// RateLimit is one row of the edge's rate-limit table: requests whose path
// is Path (every request no other row takes when Path is empty) take a
// token from the bucket of their client address (PerClient) and from the
// bucket all clients share (Global, the safety limit above them). Envoy:
// the local_ratelimit filter (Path empty) or a route's per-filter config
// (Path set), with token_bucket = Global and one descriptor keyed on
// remote_address with token_bucket = PerClient.
type RateLimit struct {
	Name      string
	Path      string
	PerClient Bucket
	Global    Bucket
}

// MaxClients is how many client addresses a row keeps a bucket for
// (Envoy: max_dynamic_descriptors); beyond it a client's bucket is
// forgotten, which starts it full again.
const MaxClients = 10000

// RateLimits is the edge's one rate-limit table; deploy/envoy/envoy.yaml
// and the Helm chart's default values must say the same (deploy/validate
// checks it and acts it out against this edge).
var RateLimits = []RateLimit{
	{
		Name:      "login",
		Path:      "/api/v1/auth/login",
		PerClient: Bucket{MaxTokens: 10, TokensPerFill: 1, FillInterval: 3 * time.Second},
		Global:    Bucket{MaxTokens: 60, TokensPerFill: 20, FillInterval: time.Second},
	},
	{
		Name:      "api",
		PerClient: Bucket{MaxTokens: 200, TokensPerFill: 100, FillInterval: time.Second},
		Global:    Bucket{MaxTokens: 2000, TokensPerFill: 1000, FillInterval: time.Second},
	},
}

// DevStackRateLimits is the table the dev stack's edge runs: RateLimits
// with every global bucket a thousand times larger. With it the dev stack
// exempts 127.0.0.1 from the per-client buckets (Config.ExemptClients):
// the e2e suite, the benchmarks and the chaos and invariant tools all send
// everything from there, far over one client's share. Every other address
// (127.0.0.2, …) has Envoy's per-client buckets exactly, which is what the
// e2e tests of the limits use.
func DevStackRateLimits() []RateLimit {
	out := append([]RateLimit(nil), RateLimits...)
	for i := range out {
		out[i].Global.MaxTokens *= 1000
		out[i].Global.TokensPerFill *= 1000
	}
	return out
}

// DevStackExemptClients are the addresses the dev stack exempts from the
// per-client buckets (see DevStackRateLimits).
var DevStackExemptClients = []string{"127.0.0.1"}

// bucket is a Bucket's state: tokens left at last, the time of the last
// fill. Fills happen whole, every FillInterval, as Envoy's timer does.
type bucket struct {
	tokens int
	last   time.Time
}

// take refills b up to now and takes a token; when there is none it
// returns the time until the next fill.
func (b *bucket) take(cfg Bucket, now time.Time) (bool, time.Duration) {
	if cfg.FillInterval > 0 {
		if fills := int64(now.Sub(b.last) / cfg.FillInterval); fills > 0 {
			add := fills * int64(cfg.TokensPerFill)
			b.tokens = int(min(int64(cfg.MaxTokens), int64(b.tokens)+add))
			b.last = b.last.Add(time.Duration(fills) * cfg.FillInterval)
		}
	}
	if b.tokens > 0 {
		b.tokens--
		return true, 0
	}
	return false, b.last.Add(cfg.FillInterval).Sub(now)
}

// limiter enforces one RateLimit row.
type limiter struct {
	cfg     RateLimit
	mu      sync.Mutex
	global  bucket
	clients map[string]*bucket
}

// allow takes a token from client's bucket and then from the global one
// (Envoy's order: the matching descriptor, then the default bucket), and
// returns Retry-After's seconds when refused.
func (l *limiter) allow(client string, exempt bool, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !exempt {
		if ok, wait := l.clientBucket(client, now).take(l.cfg.PerClient, now); !ok {
			return false, retryAfter(wait)
		}
	}
	if ok, wait := l.global.take(l.cfg.Global, now); !ok {
		return false, retryAfter(wait)
	}
	return true, 0
}

// clientBucket is client's bucket, new and full the first time.
func (l *limiter) clientBucket(client string, now time.Time) *bucket {
	b, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= MaxClients {
			for k := range l.clients { // forget one (Envoy: the least recently used)
				delete(l.clients, k)
				break
			}
		}
		b = &bucket{tokens: l.cfg.PerClient.MaxTokens, last: now}
		l.clients[client] = b
	}
	return b
}

// retryAfter is Envoy's Retry-After: whole seconds until the next token,
// at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// rateLimiter enforces a table; rows with a Path first, then the default.
type rateLimiter struct {
	byPath map[string]*limiter
	def    *limiter
	exempt map[string]bool
	now    func() time.Time
}

func newRateLimiter(table []RateLimit, exempt []string, now func() time.Time) *rateLimiter {
	rl := &rateLimiter{byPath: map[string]*limiter{}, exempt: map[string]bool{}, now: now}
	for _, a := range exempt {
		rl.exempt[a] = true
	}
	start := now()
	for _, row := range table {
		l := &limiter{cfg: row, clients: map[string]*bucket{}, global: bucket{tokens: row.Global.MaxTokens, last: start}}
		if row.Path == "" {
			rl.def = l
		} else {
			rl.byPath[row.Path] = l
		}
	}
	return rl
}

// ClientAddress is the address the edge limits by: the connection's peer,
// as Envoy's remote_address with xff_num_trusted_hops 0 (the dev edge has
// no proxy in front of it).
func ClientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// check answers 429 rate_limited with Retry-After when r is over a limit,
// and reports whether it did.
func (rl *rateLimiter) check(w http.ResponseWriter, r *http.Request) bool {
	l, ok := rl.byPath[r.URL.Path]
	if !ok {
		l = rl.def
	}
	if l == nil {
		return false
	}
	client := ClientAddress(r)
	ok, after := l.allow(client, rl.exempt[client], rl.now())
	if ok {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(after))
	httpx.WriteError(r.Context(), w, ErrRateLimited)
	return true
}
