package edge

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// limitedRequest is a request for path from the client address ip.
func limitedRequest(h http.Handler, ip, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, nil)
	req.RemoteAddr = ip + ":40000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// An exempt address skips its per-client bucket but not the global one;
// every other address keeps its own.
func TestExemptClientsTakeOnlyTheGlobalBucket(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	table := []RateLimit{{Name: "api",
		PerClient: Bucket{MaxTokens: 2, TokensPerFill: 1, FillInterval: time.Second},
		Global:    Bucket{MaxTokens: 5, TokensPerFill: 5, FillInterval: time.Second}}}
	h, err := New(Config{Backends: startBackends(t), RateLimits: table, ExemptClients: []string{"127.0.0.1"},
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if rec := limitedRequest(h, "127.0.0.1", "/api/v1/users"); rec.Code != http.StatusOK {
			t.Fatalf("exempt request %d: %d", i, rec.Code)
		}
	}
	for i, want := range []int{200, 200, 429} {
		if rec := limitedRequest(h, "127.0.0.2", "/api/v1/users"); rec.Code != want {
			t.Fatalf("request %d from 127.0.0.2: %d, want %d", i, rec.Code, want)
		}
	}
	// 5 of the global tokens are gone: the exempt address is refused too.
	if rec := limitedRequest(h, "127.0.0.1", "/api/v1/users"); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("exempt request over the global bucket: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// The dev stack's table is Envoy's with larger global buckets only.
func TestDevStackRateLimits(t *testing.T) {
	dev := DevStackRateLimits()
	if len(dev) != len(RateLimits) {
		t.Fatalf("%d rows, Envoy's table has %d", len(dev), len(RateLimits))
	}
	for i, r := range dev {
		e := RateLimits[i]
		if r.Name != e.Name || r.Path != e.Path || r.PerClient != e.PerClient {
			t.Errorf("row %d: %+v, Envoy's %+v", i, r, e)
		}
		if r.Global.MaxTokens <= e.Global.MaxTokens || r.Global.FillInterval != e.Global.FillInterval {
			t.Errorf("row %d: global %+v not above Envoy's %+v", i, r.Global, e.Global)
		}
	}
}
