package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/auth/authtest"
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/serve"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// freeAddr is a loopback address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRun starts the whole service as main does — real PostgreSQL, a
// Kafka-protocol broker, a stand-in auth service serving the JWKS and the
// owner lookups — and follows one profit from the API to Kafka.
func TestRun(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	var introspected atomic.Int64
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/auth/me": // the revocation check of writes
			introspected.Add(1)
			httpx.WriteOK(w, http.StatusOK, map[string]any{})
		case r.URL.Path == "/.well-known/jwks.json":
			_ = json.NewEncoder(w).Encode(libauth.JWKS{Keys: []libauth.JWK{libauth.PublicJWK(pub)}})
		case strings.HasPrefix(r.URL.Path, "/api/v1/users/"), strings.HasPrefix(r.URL.Path, "/api/v1/teams/"):
			httpx.WriteOK(w, http.StatusOK, map[string]any{})
		default:
			http.NotFound(w, r)
		}
	}))
	defer auth.Close()
	pool, dbURL := pgtest.NewWithURL(t, nil)
	brokers := kafkatest.Start(t, eventbus.Topics...)

	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("KAFKA_BROKERS", strings.Join(brokers, ","))
	t.Setenv("AUTH_URL", auth.URL)
	t.Setenv("JWKS_URL", auth.URL+"/.well-known/jwks.json")
	t.Setenv("HTTP_ADDR", freeAddr(t))
	cfg, err := loadConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// -migrate-only applies the migrations and returns.
	if err := run(context.Background(), cfg, log, true); err != nil {
		t.Fatalf("-migrate-only: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, log, false) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return after its context ended")
		}
	}()

	base := "http://" + cfg.HTTPAddr
	deadline := time.Now().Add(20 * time.Second)
	for serve.Healthcheck(cfg.HTTPAddr) != nil {
		if time.Now().After(deadline) {
			resp, err := http.Get(base + "/readyz")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Fatalf("not ready: %s", b)
			}
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ready struct {
		Checks map[string]string `json:"checks"`
	}
	getJSON(t, base+"/readyz", "", &ready)
	for _, c := range []string{"database", "outbox", "jwks"} {
		if ready.Checks[c] != "ok" {
			t.Errorf("readiness check %s = %q", c, ready.Checks[c])
		}
	}

	token := authtest.Sign(t, jwt.SigningMethodEdDSA, key, libauth.Thumbprint(pub), jwt.MapClaims{"iss": "fund-auth", "aud": "fund-api",
		"sub": "1", "role": "admin", "teams": []int64{}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "jti": "j"})
	var p struct{ ID int64 }
	postJSON(t, base+"/api/v1/portfolios", token, `{"name":"P","user_id":7,"team_id":3}`, &p)
	if introspected.Load() == 0 {
		t.Error("the write did not ask the auth service whether its token is current")
	}
	for _, body := range []string{`{"as_of":"2026-01-01T00:00:00Z","nav":"100"}`, `{"as_of":"2026-01-02T00:00:00Z","nav":"112.5"}`} {
		postJSON(t, fmt.Sprintf("%s/api/v1/portfolios/%d/nav", base, p.ID), token, body, nil)
	}

	// The relay publishes the outbox: portfolio.created, then the one
	// profit (the baseline records none), keyed by the portfolio.
	msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicPortfolio, 2, 10*time.Second)
	// Once published, the rows are marked (right after the write).
	var rows, published int
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := pool.QueryRow(context.Background(), `SELECT count(*), count(published_at) FROM outbox`).Scan(&rows, &published); err != nil {
			t.Fatal(err)
		}
		if published == rows || time.Now().After(end) {
			break
		}
	}
	if len(msgs) != 2 || rows != 2 || published != 2 {
		t.Logf("outbox: %d rows, %d published", rows, published)
		t.Fatalf("%d messages on %s, want 2", len(msgs), eventbus.TopicPortfolio)
	}
	for i, want := range []string{eventbus.TypePortfolioCreated, eventbus.TypePortfolioProfitRecorded} {
		m := msgs[i]
		if string(m.Key) != fmt.Sprint(p.ID) || eventbus.HeaderValue(m.Headers, eventbus.HeaderEventType) != want ||
			eventbus.HeaderValue(m.Headers, eventbus.HeaderContentType) != eventbus.ContentTypeJSON {
			t.Errorf("message %d: key %s headers %v, want %s", i, m.Key, m.Headers, want)
		}
		if err := eventbus.Validate(want, m.Value); err != nil {
			t.Error(err)
		}
	}
	if !bytes.Contains(msgs[1].Value, []byte(`"profit":"12.50000000"`)) {
		t.Errorf("profit_recorded = %s", msgs[1].Value)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"fund_outbox_published_total", "fund_outbox_backlog"} {
		if !bytes.Contains(metrics, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func getJSON(t *testing.T, url, token string, into any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	do(t, req, http.StatusOK, into, false)
}

func postJSON(t *testing.T, url, token, body string, into any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	do(t, req, http.StatusCreated, into, true)
}

func do(t *testing.T, req *http.Request, status int, into any, enveloped bool) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s = %d: %s", req.Method, req.URL, resp.StatusCode, b)
	}
	if into == nil {
		return
	}
	if enveloped {
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatal(err)
		}
		b = env.Data
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %s", err, b)
	}
}
