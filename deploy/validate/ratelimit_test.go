package validate

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	lrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/fundplatform/platform/devstack/edge"
)

const localRateLimit = "envoy.filters.http.local_ratelimit"

// envoyRateLimits reads the rate-limit table of an Envoy configuration:
// the local_ratelimit filter's own config is the row without a path, and
// every route's per-filter config a row for its exact path. Each must key
// one descriptor on remote_address under the global token bucket, with
// Retry-After on.
func envoyRateLimits(t *testing.T, name string, b *bootstrapv3.Bootstrap) []edge.RateLimit {
	t.Helper()
	hcm, vh := edgeHCM(t, b)
	var rows []edge.RateLimit
	for _, f := range hcm.GetHttpFilters() {
		if f.GetName() != localRateLimit {
			continue
		}
		var c lrlv3.LocalRateLimit
		if err := f.GetTypedConfig().UnmarshalTo(&c); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rateLimitRow(t, name+": filter "+localRateLimit, "api", "", &c))
	}
	for _, r := range vh.GetRoutes() {
		a, ok := r.GetTypedPerFilterConfig()[localRateLimit]
		if !ok {
			continue
		}
		if r.GetMatch().GetPath() == "" {
			t.Errorf("%s: route %q has its own rate limit but no exact path", name, r.GetName())
			continue
		}
		var c lrlv3.LocalRateLimit
		if err := a.UnmarshalTo(&c); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rateLimitRow(t, name+": route "+r.GetName(), "", r.GetMatch().GetPath(), &c))
	}
	return rows
}

func rateLimitRow(t *testing.T, where, rowName, path string, c *lrlv3.LocalRateLimit) edge.RateLimit {
	t.Helper()
	full := func(fp *corev3.RuntimeFractionalPercent) bool {
		return fp.GetDefaultValue().GetNumerator() == 100 && fp.GetDefaultValue().GetDenominator() == typev3.FractionalPercent_HUNDRED
	}
	if !full(c.GetFilterEnabled()) || !full(c.GetFilterEnforced()) {
		t.Errorf("%s: not enabled and enforced for every request", where)
	}
	if !c.GetEnableRetryAfterHeader() {
		t.Errorf("%s: enable_retry_after_header is not set", where)
	}
	if v := c.GetAlwaysConsumeDefaultTokenBucket(); v != nil && !v.GetValue() {
		t.Errorf("%s: the global bucket is not always consumed", where)
	}
	if got := c.GetMaxDynamicDescriptors().GetValue(); got != edge.MaxClients {
		t.Errorf("%s: max_dynamic_descriptors %d, the dev edge keeps %d clients", where, got, edge.MaxClients)
	}
	rls := c.GetRateLimits()
	if len(rls) != 1 || len(rls[0].GetActions()) != 1 || rls[0].GetActions()[0].GetRemoteAddress() == nil {
		t.Errorf("%s: rate_limits must be the one action remote_address, got %v", where, rls)
	}
	ds := c.GetDescriptors()
	if len(ds) != 1 || len(ds[0].GetEntries()) != 1 || ds[0].GetEntries()[0].GetKey() != "remote_address" || ds[0].GetEntries()[0].GetValue() != "" {
		t.Fatalf("%s: descriptors must be one wildcard remote_address entry, got %v", where, ds)
	}
	if rowName == "" {
		for _, r := range edge.RateLimits {
			if r.Path == path {
				rowName = r.Name
			}
		}
	}
	row := edge.RateLimit{Name: rowName, Path: path, PerClient: bucketOf(ds[0].GetTokenBucket()), Global: bucketOf(c.GetTokenBucket())}
	// Envoy: a descriptor's fill_interval must be a multiple of the
	// filter's token bucket's.
	if g := row.Global.FillInterval; g <= 0 || row.PerClient.FillInterval%g != 0 {
		t.Errorf("%s: per-client fill_interval %s is not a multiple of the global %s", where, row.PerClient.FillInterval, g)
	}
	return row
}

func bucketOf(b *typev3.TokenBucket) edge.Bucket {
	return edge.Bucket{
		MaxTokens:     int(b.GetMaxTokens()),
		TokensPerFill: int(b.GetTokensPerFill().GetValue()),
		FillInterval:  b.GetFillInterval().AsDuration(),
	}
}

// checkTableIsTheDevEdges compares an Envoy table with the dev edge's.
func checkTableIsTheDevEdges(t *testing.T, name string, rows []edge.RateLimit) {
	t.Helper()
	want := map[string]edge.RateLimit{}
	for _, r := range edge.RateLimits {
		want[r.Path] = r
	}
	got := map[string]edge.RateLimit{}
	for _, r := range rows {
		got[r.Path] = r
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: rate-limit table\n got %+v\nwant %+v (devstack/edge.RateLimits)", name, rows, edge.RateLimits)
	}
}

func composeRateLimits(t *testing.T) []edge.RateLimit {
	t.Helper()
	y, err := os.ReadFile(filepath.Join(repoRoot, "deploy/envoy/envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return envoyRateLimits(t, "deploy/envoy/envoy.yaml", loadBootstrap(t, "deploy/envoy/envoy.yaml", y))
}

func TestEnvoyRateLimitsAreTheDevEdges(t *testing.T) {
	checkTableIsTheDevEdges(t, "deploy/envoy/envoy.yaml", composeRateLimits(t))
}

func TestHelmRateLimitsAreTheDevEdges(t *testing.T) {
	for _, m := range render(t, "") {
		if cm, ok := m.obj.(*corev1.ConfigMap); ok {
			if y, ok := cm.Data["envoy.yaml"]; ok {
				name := "helm ConfigMap " + cm.Name
				checkTableIsTheDevEdges(t, name, envoyRateLimits(t, name, loadBootstrap(t, name, []byte(y))))
			}
		}
	}
}

// TestEnvoyRateLimitTableActedOutOnTheDevEdge runs a dev edge with the
// table read from deploy/envoy/envoy.yaml, on a clock that only the test
// moves, and checks each row: one address gets its bucket and then 429
// rate_limited with Retry-After while another still passes; many
// addresses together get the global bucket and then 429; a fill lets the
// next request through.
func TestEnvoyRateLimitTableActedOutOnTheDevEdge(t *testing.T) {
	for _, row := range composeRateLimits(t) {
		t.Run(row.Name, func(t *testing.T) {
			path := row.Path
			if path == "" {
				path = "/api/v1/portfolios"
			}
			t.Run("per client", func(t *testing.T) {
				e := newLimitedEdge(t, composeRateLimits(t))
				for i := 0; i < row.PerClient.MaxTokens; i++ {
					e.want(t, "127.0.0.2", path, http.StatusOK)
				}
				e.wantLimited(t, "127.0.0.2", path, row.PerClient.FillInterval)
				e.want(t, "127.0.0.3", path, http.StatusOK)
				e.advance(row.PerClient.FillInterval)
				for i := 0; i < row.PerClient.TokensPerFill; i++ {
					e.want(t, "127.0.0.2", path, http.StatusOK)
				}
				e.wantLimited(t, "127.0.0.2", path, row.PerClient.FillInterval)
			})
			t.Run("global", func(t *testing.T) {
				e := newLimitedEdge(t, composeRateLimits(t))
				sent, client := 0, 0
				for sent < row.Global.MaxTokens {
					client++
					for i := 0; i < row.PerClient.MaxTokens && sent < row.Global.MaxTokens; i++ {
						e.want(t, clientIP(client), path, http.StatusOK)
						sent++
					}
				}
				e.wantLimited(t, clientIP(client+1), path, row.Global.FillInterval)
				e.advance(row.Global.FillInterval)
				e.want(t, clientIP(client+2), path, http.StatusOK)
			})
		})
	}
}

func clientIP(n int) string { return fmt.Sprintf("127.0.%d.%d", 1+n/200, 1+n%200) }

type limitedEdge struct {
	url string
	mu  sync.Mutex
	now time.Time
}

func newLimitedEdge(t *testing.T, table []edge.RateLimit) *limitedEdge {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"isOK":true,"message":"","data":{}}`)
	}))
	t.Cleanup(backend.Close)
	e := &limitedEdge{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	backends := map[string]string{}
	for _, s := range edge.Services {
		backends[s] = backend.URL
	}
	h, err := edge.New(edge.Config{Backends: backends, RateLimits: table, Now: func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.now
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *limitedEdge) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// post sends POST path from the local address ip.
func (e *limitedEdge) post(t *testing.T, ip, path string) *http.Response {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}}
	req, err := http.NewRequest("POST", e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s from %s: %v", path, ip, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (e *limitedEdge) want(t *testing.T, ip, path string, status int) {
	t.Helper()
	if r := e.post(t, ip, path); r.StatusCode != status {
		t.Fatalf("POST %s from %s: %d, want %d", path, ip, r.StatusCode, status)
	}
}

// wantLimited expects 429 rate_limited in the envelope with Retry-After:
// the whole seconds of wait, at least 1.
func (e *limitedEdge) wantLimited(t *testing.T, ip, path string, wait time.Duration) {
	t.Helper()
	r := e.post(t, ip, path)
	var env struct {
		IsOK bool `json:"isOK"`
		Data struct {
			ErrorCode int    `json:"errorCode"`
			Code      string `json:"code"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
		t.Fatalf("POST %s from %s: %d, body not JSON: %v", path, ip, r.StatusCode, err)
	}
	if r.StatusCode != http.StatusTooManyRequests || env.IsOK || env.Data.Code != "rate_limited" || env.Data.ErrorCode != 429 {
		t.Fatalf("POST %s from %s: %d %+v, want 429 rate_limited", path, ip, r.StatusCode, env)
	}
	want := strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second)))
	if got := r.Header.Get("Retry-After"); got != want {
		t.Errorf("POST %s from %s: Retry-After %q, want %q", path, ip, got, want)
	}
}
