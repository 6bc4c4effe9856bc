package edge

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// replica is a fake service replica: it counts the requests it served and
// the bodies it got, and its /readyz answers what ready says.
type replica struct {
	srv    *httptest.Server
	served atomic.Int64
	ready  atomic.Bool
	mu     sync.Mutex
	bodies []string
}

func startReplica(t *testing.T, name string) *replica {
	t.Helper()
	r := &replica{}
	r.ready.Store(true)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/readyz" {
			if !r.ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
		r.served.Add(1)
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// deadURL is the address of a listener that has been closed: connecting to
// it is refused.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	return url
}

// hangUpURL is a replica that is ready but, for any other request, reads it
// and closes the connection without answering (a process killed
// mid-request).
func hangUpURL(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var got atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			n, _ := c.Read(buf)
			switch {
			case strings.HasPrefix(string(buf[:n]), "GET /readyz"):
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			case n > 0:
				got.Add(1)
			}
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String(), &got
}

func newPoolEdge(t *testing.T, bases []string) (*httptest.Server, *Handler) {
	t.Helper()
	h, err := New(Config{Replicas: map[string][]string{Profit: bases}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, h
}

func send(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPoolRoundRobinsOverReplicas(t *testing.T) {
	a, b := startReplica(t, "a"), startReplica(t, "b")
	srv, _ := newPoolEdge(t, []string{a.srv.URL, b.srv.URL})
	for range 10 {
		if code, _ := send(t, "GET", srv.URL+"/api/v1/profit/x", "", ""); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if a.served.Load() != 5 || b.served.Load() != 5 {
		t.Errorf("served %d and %d, want 5 each", a.served.Load(), b.served.Load())
	}
}

// A replica that refuses connections is skipped for every method: nothing
// was sent to it. The body reaches the replica that answers, whole.
func TestPoolSkipsARefusingReplica(t *testing.T) {
	a := startReplica(t, "a")
	srv, _ := newPoolEdge(t, []string{deadURL(t), a.srv.URL})
	for i := range 6 {
		code, body := send(t, "POST", srv.URL+"/api/v1/profit/x", "", `{"n":1}`)
		if code != 200 || body != "a" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	for _, b := range a.bodies {
		if b != `{"n":1}` {
			t.Errorf("replica got body %q", b)
		}
	}
}

// A replica that drops the connection after the request was sent: a safe
// request (GET, or one with an Idempotency-Key) goes to the other replica,
// a POST without a key is answered 503 (it may have been applied).
func TestPoolRetriesOnlyReplayableRequestsAfterAHangUp(t *testing.T) {
	a := startReplica(t, "a")
	hang, hungUp := hangUpURL(t)
	srv, _ := newPoolEdge(t, []string{hang, a.srv.URL})
	for i := range 4 {
		if code, body := send(t, "GET", srv.URL+"/api/v1/profit/x", "", ""); code != 200 || body != "a" {
			t.Fatalf("GET %d: %d %q", i, code, body)
		}
	}
	// Each kind of POST is sent until one reaches the hanging replica (it
	// is skipped for a second after each failure).
	reach := func(key string, want int) {
		for range 100 {
			before := hungUp.Load()
			code, _ := send(t, "POST", srv.URL+"/api/v1/profit/x", key, `{}`)
			if hungUp.Load() > before {
				if code != want {
					t.Errorf("POST (Idempotency-Key %q) that reached the hanging replica: %d, want %d", key, code, want)
				}
				return
			}
			if code != 200 {
				t.Fatalf("POST (Idempotency-Key %q) answered by the other replica: %d", key, code)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("no POST (Idempotency-Key %q) reached the hanging replica", key)
	}
	reach("k-1", http.StatusOK)
	reach("", http.StatusServiceUnavailable)
}

// A replica whose /readyz answers 503 (draining) gets no new requests.
func TestPoolSendsNothingToANotReadyReplica(t *testing.T) {
	a, b := startReplica(t, "a"), startReplica(t, "b")
	srv, h := newPoolEdge(t, []string{a.srv.URL, b.srv.URL})
	b.ready.Store(false)
	pool := h.proxies[Profit]
	for pool.targets[1].ready.Load() {
		time.Sleep(20 * time.Millisecond)
	}
	before := b.served.Load()
	for range 10 {
		if code, body := send(t, "GET", srv.URL+"/api/v1/profit/x", "", ""); code != 200 || body != "a" {
			t.Fatalf("%d %q", code, body)
		}
	}
	if n := b.served.Load() - before; n != 0 {
		t.Errorf("the draining replica got %d requests", n)
	}
	b.ready.Store(true)
	for !pool.targets[1].ready.Load() {
		time.Sleep(20 * time.Millisecond)
	}
	for range 4 {
		send(t, "GET", srv.URL+"/api/v1/profit/x", "", "")
	}
	if b.served.Load() == before {
		t.Error("the replica got no request after it was ready again")
	}
}

// When no replica answers, the client gets the 503 envelope.
func TestPoolAllReplicasDown(t *testing.T) {
	srv, _ := newPoolEdge(t, []string{deadURL(t), deadURL(t)})
	code, body := send(t, "GET", srv.URL+"/api/v1/profit/x", "", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "service_unavailable") {
		t.Errorf("%d %s", code, body)
	}
}
