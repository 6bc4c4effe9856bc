package edge

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/fundplatform/platform/libs/testkit"
)

// backendEcho is what a fake backend answers: who it is and what it got.
type backendEcho struct {
	Service     string `json:"service"`
	Path        string `json:"path"`
	Query       string `json:"query"`
	RequestID   string `json:"request_id"`
	Traceparent string `json:"traceparent"`
	Auth        string `json:"authorization"`
}

// startBackends starts one httptest server per service; each answers with
// a backendEcho and also sets its own X-Request-Id header, as the services
// do, so the test sees whether the edge duplicates it.
func startBackends(t *testing.T) map[string]string {
	t.Helper()
	backends := map[string]string{}
	for _, name := range Services {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(backendEcho{
				Service: name, Path: r.URL.Path, Query: r.URL.RawQuery,
				RequestID: r.Header.Get("X-Request-Id"), Traceparent: r.Header.Get("traceparent"),
				Auth: r.Header.Get("Authorization"),
			})
		}))
		t.Cleanup(srv.Close)
		backends[name] = srv.URL
	}
	return backends
}

func newEdge(t *testing.T, cfg Config) (*httptest.Server, *testkit.SyncBuffer) {
	t.Helper()
	// Requests run concurrently with the test reading the log.
	var logs testkit.SyncBuffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, &logs
}

func get(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// The route table of docs/api.md (every service's routes, through the edge). If
// this test fails, the edge and Envoy must change together.
var contractRoutes = []Route{
	{"/.well-known/jwks.json", "auth"},
	{"/api/v1/auth/", "auth"},
	{"/api/v1/users", "auth"},
	{"/api/v1/teams", "auth"},
	{"/api/v1/portfolios", "portfolio"},
	{"/api/v1/profit/", "profit"},
	{"/api/v1/balances", "withdrawal"},
	{"/api/v1/withdrawals", "withdrawal"},
	{"/api/v1/reallocations", "withdrawal"},
	{"/api/v1/ledger/", "withdrawal"},
	{"/api/v1/stats/", "stats"},
}

func TestRouteTableIsTheContracts(t *testing.T) {
	if len(Routes) != len(contractRoutes) {
		t.Fatalf("Routes has %d entries, the contract %d", len(Routes), len(contractRoutes))
	}
	for i, r := range contractRoutes {
		if Routes[i] != r {
			t.Errorf("Routes[%d] = %+v, want %+v", i, Routes[i], r)
		}
	}
	known := map[string]bool{}
	for _, s := range Services {
		known[s] = true
	}
	for _, r := range Routes {
		if !known[r.Service] {
			t.Errorf("route %s names unknown service %q", r.Prefix, r.Service)
		}
		if !strings.HasPrefix(r.Prefix, "/") {
			t.Errorf("route prefix %q does not start with /", r.Prefix)
		}
	}
}

func TestMatchRespectsSegmentBoundaries(t *testing.T) {
	cases := []struct {
		path    string
		service string // "" = no route
	}{
		{"/api/v1/users", "auth"},
		{"/api/v1/users/", "auth"},
		{"/api/v1/users/5", "auth"},
		{"/api/v1/usersX", ""},
		{"/api/v1/users-admin", ""},
		{"/api/v1/teams/3/members/7", "auth"},
		{"/api/v1/auth/login", "auth"},
		{"/api/v1/auth/", "auth"},
		{"/api/v1/auth", ""},
		{"/api/v1/authX/login", ""},
		{"/.well-known/jwks.json", "auth"},
		{"/.well-known/jwks.jsonX", ""},
		{"/api/v1/portfolios", "portfolio"},
		{"/api/v1/portfolios/42/nav", "portfolio"},
		{"/api/v1/portfoliosX", ""},
		{"/api/v1/profit/ratios", "profit"},
		{"/api/v1/profit", ""},
		{"/api/v1/balances/user:7", "withdrawal"},
		{"/api/v1/withdrawals/9/complete", "withdrawal"},
		{"/api/v1/reallocations", "withdrawal"},
		{"/api/v1/ledger/entries", "withdrawal"},
		{"/api/v1/stats/summary", "stats"},
		{"/api/v1/stats", ""},
		{"/api/v2/users", ""},
		{"/", ""},
		{"", ""},
	}
	for _, c := range cases {
		r, ok := Match(Routes, c.path)
		if c.service == "" {
			if ok {
				t.Errorf("Match(%q) = %s, want no route", c.path, r.Service)
			}
			continue
		}
		if !ok || r.Service != c.service {
			t.Errorf("Match(%q) = %q,%v; want %q", c.path, r.Service, ok, c.service)
		}
	}
}

func TestMatchPrefersLongestPrefix(t *testing.T) {
	routes := []Route{{"/api/v1/a", "one"}, {"/api/v1/a/b", "two"}}
	if r, _ := Match(routes, "/api/v1/a/b/c"); r.Service != "two" {
		t.Fatalf("got %s, want two", r.Service)
	}
	if r, _ := Match(routes, "/api/v1/a/bc"); r.Service != "one" {
		t.Fatalf("got %s, want one", r.Service)
	}
}

func TestEveryRouteReachesItsServiceThroughTheProxy(t *testing.T) {
	edge, _ := newEdge(t, Config{Backends: startBackends(t)})
	for _, r := range Routes {
		for _, p := range []string{r.Prefix, strings.TrimSuffix(r.Prefix, "/") + "/some/thing"} {
			resp, body := get(t, edge.URL+p+"?limit=5&x=a%20b", map[string]string{"Authorization": "Bearer t0k"})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d: %s", p, resp.StatusCode, body)
			}
			var got backendEcho
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("GET %s: %v: %s", p, err, body)
			}
			if got.Service != r.Service || got.Path != p || got.Query != "limit=5&x=a%20b" || got.Auth != "Bearer t0k" {
				t.Errorf("GET %s reached %+v, want service %s with path and query intact", p, got, r.Service)
			}
		}
	}
}

func TestUnroutedPathIs404Envelope(t *testing.T) {
	edge, _ := newEdge(t, Config{Backends: startBackends(t)})
	for _, p := range []string{"/", "/api/v1/usersX", "/api/v1/nothing", "/api/v1/stats"} {
		resp, body := get(t, edge.URL+p, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET %s: status %d", p, resp.StatusCode)
		}
		want := `{"isOK":false,"message":"not found","data":{"errorCode":404,"code":"not_found"}}`
		if strings.TrimSpace(string(body)) != want {
			t.Fatalf("GET %s: body %s, want %s", p, body, want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("GET %s: content type %q", p, ct)
		}
	}
}

func TestDownServiceIs503Envelope(t *testing.T) {
	// A port nobody listens on: take a free one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()
	backends := startBackends(t)
	backends["portfolio"] = down
	delete(backends, "stats") // not started at all
	edge, logs := newEdge(t, Config{Backends: backends})

	want := `{"isOK":false,"message":"service unavailable","data":{"errorCode":503,"code":"service_unavailable"}}`
	for _, p := range []string{"/api/v1/portfolios/1", "/api/v1/stats/summary"} {
		resp, body := get(t, edge.URL+p, nil)
		if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(string(body)) != want {
			t.Fatalf("GET %s: %d %s, want 503 %s", p, resp.StatusCode, body, want)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("GET %s: 503 without X-Request-Id", p)
		}
	}
	// The others still work.
	if resp, body := get(t, edge.URL+"/api/v1/users", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/users: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), `"msg":"backend unavailable","service":"portfolio"`) {
		t.Fatalf("proxy error not logged: %s", logs)
	}
}

func TestHealthIsAnsweredByTheEdge(t *testing.T) {
	edge, _ := newEdge(t, Config{}) // no backends at all
	resp, body := get(t, edge.URL+"/api/v1/health", nil)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"status":"healthy"}` {
		t.Fatalf("health: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Fatal("health: no X-Request-Id")
	}
	req, _ := http.NewRequest(http.MethodPost, edge.URL+"/api/v1/health", nil)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST health: %d, want 405", r2.StatusCode)
	}
}

func TestRequestIDIsKeptOrGenerated(t *testing.T) {
	edge, logs := newEdge(t, Config{Backends: startBackends(t)})

	// A valid incoming id is kept, sent to the backend, and returned once.
	resp, body := get(t, edge.URL+"/api/v1/users/1", map[string]string{"X-Request-Id": "my-req-42"})
	var got backendEcho
	json.Unmarshal(body, &got)
	if got.RequestID != "my-req-42" {
		t.Fatalf("backend got request id %q", got.RequestID)
	}
	if ids := resp.Header.Values("X-Request-Id"); len(ids) != 1 || ids[0] != "my-req-42" {
		t.Fatalf("response X-Request-Id = %q, want exactly [my-req-42]", ids)
	}
	if !strings.Contains(logs.String(), `"request_id":"my-req-42"`) {
		t.Fatalf("access log lacks the request id: %s", logs)
	}

	// Missing or invalid ids are replaced by a new UUID, the same one the
	// backend got.
	for _, in := range []string{"", "bad id with spaces", strings.Repeat("x", 200)} {
		resp, body := get(t, edge.URL+"/api/v1/portfolios", map[string]string{"X-Request-Id": in})
		var got backendEcho
		json.Unmarshal(body, &got)
		ids := resp.Header.Values("X-Request-Id")
		if len(ids) != 1 {
			t.Fatalf("in=%q: response X-Request-Id = %q", in, ids)
		}
		if _, err := uuid.Parse(ids[0]); err != nil {
			t.Fatalf("in=%q: generated id %q is not a UUID", in, ids[0])
		}
		if got.RequestID != ids[0] {
			t.Fatalf("in=%q: backend got %q, client %q", in, got.RequestID, ids[0])
		}
	}

	// Answers of the edge itself carry one too.
	resp, _ = get(t, edge.URL+"/nope", map[string]string{"X-Request-Id": "abc"})
	if resp.Header.Get("X-Request-Id") != "abc" {
		t.Fatalf("404: X-Request-Id = %q", resp.Header.Get("X-Request-Id"))
	}
}

func TestTraceparentPassesThrough(t *testing.T) {
	edge, _ := newEdge(t, Config{Backends: startBackends(t)})
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	_, body := get(t, edge.URL+"/api/v1/withdrawals", map[string]string{"traceparent": tp})
	var got backendEcho
	json.Unmarshal(body, &got)
	if got.Traceparent != tp {
		t.Fatalf("backend got traceparent %q", got.Traceparent)
	}
}

func TestPathIsNormalisedBeforeRouting(t *testing.T) {
	edge, _ := newEdge(t, Config{Backends: startBackends(t)})
	// Sent raw: the client library would otherwise clean it itself.
	conn, err := net.Dial("tcp", strings.TrimPrefix(edge.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /api/v1/stats/../users//5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got backendEcho
	json.NewDecoder(resp.Body).Decode(&got)
	if got.Service != "auth" || got.Path != "/api/v1/users/5" {
		t.Fatalf("normalised request reached %+v", got)
	}
}

func TestAccessLogLine(t *testing.T) {
	edge, logs := newEdge(t, Config{Backends: startBackends(t)})
	get(t, edge.URL+"/api/v1/teams?secret=1", map[string]string{"X-Request-Id": "rid-1"})
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &line); err != nil {
		t.Fatalf("access log is not one JSON line: %v: %s", err, logs)
	}
	for k, v := range map[string]any{"msg": "request", "method": "GET", "path": "/api/v1/teams",
		"status": float64(200), "request_id": "rid-1", "service": "auth"} {
		if line[k] != v {
			t.Errorf("access log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("access log has no duration: %v", line)
	}
	if strings.Contains(logs.String(), "secret") {
		t.Errorf("access log contains the query string: %s", logs)
	}
}

func TestDocsPageAndAssetsAreServedByTheEdge(t *testing.T) {
	srv, _ := newEdge(t, Config{Backends: startBackends(t)})
	resp, body := get(t, srv.URL+"/docs", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	page := string(body)
	for _, want := range []string{"/docs/assets/docs.js", "/docs/assets/docs.css"} {
		if !strings.Contains(page, want) {
			t.Errorf("page does not reference %s", want)
		}
	}
	if strings.Contains(page, "://") {
		t.Errorf("page references an absolute URL (a CDN?):\n%s", page)
	}
	if resp, _ := get(t, srv.URL+"/docs/", nil); resp.StatusCode != 200 {
		t.Errorf("GET /docs/ = %d", resp.StatusCode)
	}
	resp, body = get(t, srv.URL+"/docs/assets/docs.js", nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("GET docs.js = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, s := range Services {
		if !strings.Contains(string(body), `"`+s+`"`) {
			t.Errorf("docs.js does not load service %s", s)
		}
	}
	if resp, _ := get(t, srv.URL+"/docs/assets/docs.css", nil); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET docs.css = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/docs/assets/nope.js", "/docs/assets/", "/docs/assets/../index.html", "/docs/other", "/docsx"} {
		resp, body := get(t, srv.URL+p, nil)
		if resp.StatusCode != 404 || !bytes.Contains(body, []byte(`"isOK":false`)) {
			t.Errorf("GET %s = %d %s, want a 404 envelope", p, resp.StatusCode, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/docs", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 {
		t.Errorf("POST /docs = %v %v, want 405", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestDocsOpenAPIDocumentsAreProxied(t *testing.T) {
	srv, logs := newEdge(t, Config{Backends: startBackends(t)})
	for _, s := range Services {
		resp, body := get(t, srv.URL+"/docs/openapi/"+s+".json?x=1", map[string]string{"Authorization": "Bearer secret"})
		var got backendEcho
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /docs/openapi/%s.json = %d %s (%v)", s, resp.StatusCode, body, err)
		}
		if got.Service != s || got.Path != "/openapi.json" || got.Query != "" || got.Auth != "" {
			t.Errorf("%s document came from %+v", s, got)
		}
		if got.RequestID == "" || got.RequestID != resp.Header.Get("X-Request-Id") {
			t.Errorf("request id %q, response header %q", got.RequestID, resp.Header.Get("X-Request-Id"))
		}
	}
	if !strings.Contains(logs.String(), `"path":"/docs/openapi/stats.json"`) || !strings.Contains(logs.String(), `"service":"stats"`) {
		t.Errorf("access log:\n%s", logs)
	}
}

func TestDocsUnknownServiceIs404AndDownServiceIs503(t *testing.T) {
	backends := startBackends(t)
	delete(backends, Stats)
	srv, _ := newEdge(t, Config{Backends: backends})
	for _, p := range []string{"/docs/openapi/nope.json", "/docs/openapi/.json", "/docs/openapi/auth", "/docs/openapi/auth/x.json"} {
		resp, body := get(t, srv.URL+p, nil)
		if resp.StatusCode != 404 || !bytes.Contains(body, []byte(`"isOK":false`)) {
			t.Errorf("GET %s = %d %s, want a 404 envelope", p, resp.StatusCode, body)
		}
	}
	resp, body := get(t, srv.URL+"/docs/openapi/stats.json", nil)
	if resp.StatusCode != 503 || !bytes.Contains(body, []byte("service_unavailable")) {
		t.Errorf("GET stats document without stats = %d %s, want 503", resp.StatusCode, body)
	}
}
