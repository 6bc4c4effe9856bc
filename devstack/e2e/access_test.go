package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/fundplatform/platform/devstack/edge"
)

// accessTests attack access control as a hostile client and a revoked
// admin would, through the dev edge (docs/api.md#rate-limits,
// #authentication, #auth-service): the edge's limits are per client
// address, the lock-out is per (email, address), a deactivated admin's
// unexpired token stops moving money within seconds, and a refresh
// retried after a lost answer keeps the session. 127.0.0.1 is the
// address every other test sends from; the attacker sends from 127.0.0.2
// (any 127.x address can be dialled on Linux).
func accessTests(t *testing.T, e *secEnv) {
	t.Run("LockoutPerAddress", func(t *testing.T) { accessLockout(t, e) })
	t.Run("LoginFlood", func(t *testing.T) { accessFlood(t, e) })
	t.Run("DeactivatedAdmin", func(t *testing.T) { accessDeactivatedAdmin(t, e) })
	t.Run("RefreshRetry", func(t *testing.T) { accessRefreshRetry(t, e) })
}

// attacker is the edge as seen from another client address.
const attacker = "127.0.0.2"

// fromAddr is c sending from the local address ip.
func fromAddr(c secClient, ip string) secClient {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c.hc = &http.Client{
		Timeout: secHTTP.Timeout,
		Transport: &http.Transport{Proxy: nil, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}},
		CheckRedirect: secHTTP.CheckRedirect,
	}
	return c
}

// accessLockout: 5 wrong passwords from the attacker's address lock that
// address out of the account (even with the right password: 429), and the
// owner logs in from its own address.
func accessLockout(t *testing.T, e *secEnv) {
	e.admin.must(t, 201, "POST", "/api/v1/users", map[string]string{"email": "acc-lock@example.com", "username": "lock",
		"password": "lock-password-1234", "role": "admin"}, nil)
	bad := fromAddr(e.edge, attacker)
	for i := 1; i <= 5; i++ {
		r := bad.do(t, "POST", "/api/v1/auth/login", map[string]string{"email": "acc-lock@example.com", "password": fmt.Sprintf("wrong-guess-%d", i)})
		if msg := r.refusal("invalid_credentials", 401); msg != "" {
			t.Fatalf("wrong password %d from %s: %s", i, attacker, msg)
		}
	}
	r := bad.do(t, "POST", "/api/v1/auth/login", map[string]string{"email": "acc-lock@example.com", "password": "lock-password-1234"})
	if msg := r.refusal("rate_limited", 429); msg != "" {
		t.Errorf("the right password from the locked-out %s: %s", attacker, msg)
	}
	secLogin(t, e.edge, "acc-lock@example.com", "lock-password-1234") // from 127.0.0.1: 200
}

// accessFlood: logins from one address beyond its bucket get the edge's
// 429 rate_limited with Retry-After, while another address logs in. The
// flood's bodies are broken JSON (400 from auth, no failure counted), so
// every 429 is the edge's.
func accessFlood(t *testing.T, e *secEnv) {
	var login edge.RateLimit
	for _, row := range edge.RateLimits {
		if row.Path == "/api/v1/auth/login" {
			login = row
		}
	}
	if login.PerClient.MaxTokens == 0 {
		t.Fatal("the edge's table has no row for /api/v1/auth/login")
	}
	bad := fromAddr(e.edge, attacker)
	var limited *secResp
	// The bucket holds MaxTokens and refills slowly; three times that
	// many requests must meet an empty bucket.
	for i := 0; i < 3*login.PerClient.MaxTokens && limited == nil; i++ {
		r := bad.do(t, "POST", "/api/v1/auth/login", []byte("{"))
		switch r.status {
		case http.StatusTooManyRequests:
			limited = &r
		case http.StatusBadRequest:
		default:
			t.Fatalf("login flood from %s: %s, want 400 or 429", attacker, r)
		}
	}
	if limited == nil {
		t.Fatalf("%d logins from %s: none rate-limited", 3*login.PerClient.MaxTokens, attacker)
	}
	if msg := limited.refusal("rate_limited", 429); msg != "" {
		t.Errorf("login flood: %s", msg)
	}
	if s, err := strconv.Atoi(limited.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("login flood: Retry-After %q, want whole seconds >= 1", limited.header.Get("Retry-After"))
	}
	secLogin(t, e.edge, e.ready.AdminEmail, e.ready.AdminPassword) // from 127.0.0.1, during the flood
	other := fromAddr(e.edge, "127.0.0.4")
	if r := other.do(t, "POST", "/api/v1/auth/login", []byte("{")); r.status != http.StatusBadRequest {
		t.Errorf("a login from a third address during the flood: %s, want auth's 400", r)
	}
}

// withCurrency sends body with "currency":"USD"; when this build does not
// know that field yet (400 naming it), it sends body without it. Only the
// setup uses it: the refusals checked below come before the body is read.
func withCurrency(t *testing.T, c secClient, method, path string, body map[string]any) secResp {
	t.Helper()
	with := map[string]any{"currency": "USD"}
	for k, v := range body {
		with[k] = v
	}
	r := c.do(t, method, path, with)
	if r.status == http.StatusBadRequest {
		var d secErrData
		_ = json.Unmarshal(r.Data, &d)
		if _, named := d.Fields["currency"]; named {
			return c.do(t, method, path, body)
		}
	}
	return r
}

// accessDeactivatedAdmin: an admin's unexpired access token, refused on
// the money-moving writes within 5 s of the admin's deactivation, while
// reads still take it; the pending withdrawal it tried to complete stays
// pending.
func accessDeactivatedAdmin(t *testing.T, e *secEnv) {
	var mallory, w secID
	e.admin.must(t, 201, "POST", "/api/v1/users", map[string]string{"email": "acc-mallory@example.com", "username": "mallory",
		"password": "mallory-password-1234", "role": "admin"}, &mallory)
	access, _ := secLogin(t, e.edge, "acc-mallory@example.com", "mallory-password-1234")
	m := e.edge.as(access)
	realloc := map[string]any{"from_type": "platform", "to_type": "team", "to_id": e.teamID, "amount": "0.01", "reason": "access test"}
	if r := withCurrency(t, m, "POST", "/api/v1/reallocations", realloc); r.status != http.StatusCreated {
		t.Fatalf("POST /api/v1/reallocations by the admin before deactivation: %s", r)
	}
	r := withCurrency(t, e.alice, "POST", "/api/v1/withdrawals", map[string]any{"from_type": "user", "owner_id": e.aliceID, "amount": "0.01"})
	if r.status != http.StatusCreated || json.Unmarshal(r.Data, &w) != nil {
		t.Fatalf("POST /api/v1/withdrawals by alice: %s", r)
	}

	e.admin.must(t, 200, "PATCH", fmt.Sprintf("/api/v1/users/%d", mallory.ID), map[string]any{"is_active": false}, nil)
	deactivated := time.Now()
	// Probe with writes that change nothing while the token still passes
	// (no such withdrawal: 404; an empty body: 400) until both are 401.
	for {
		p1 := m.do(t, "POST", "/api/v1/withdrawals/999999999/complete", nil)
		p2 := m.do(t, "POST", "/api/v1/reallocations", map[string]any{})
		if p1.status == http.StatusUnauthorized && p2.status == http.StatusUnauthorized {
			break
		}
		if time.Since(deactivated) > 5*time.Second {
			t.Fatalf("5 s after the deactivation the admin's token still passes: complete %s, reallocation %s", p1, p2)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r = m.do(t, "POST", fmt.Sprintf("/api/v1/withdrawals/%d/complete", w.ID), nil)
	if msg := r.refusal("unauthenticated", 401); msg != "" {
		t.Errorf("POST /api/v1/withdrawals/{id}/complete by the deactivated admin: %s", msg)
	}
	realloc["currency"] = "USD" // the other build's body: refused before it is read
	r = m.do(t, "POST", "/api/v1/reallocations", realloc)
	if msg := r.refusal("unauthenticated", 401); msg != "" {
		t.Errorf("POST /api/v1/reallocations by the deactivated admin: %s", msg)
	}
	var got struct {
		Status string `json:"status"`
	}
	e.admin.must(t, 200, "GET", fmt.Sprintf("/api/v1/withdrawals/%d", w.ID), nil, &got)
	if got.Status != "pending" {
		t.Errorf("the withdrawal the deactivated admin tried to complete is %q, want pending", got.Status)
	}
	m.must(t, 200, "GET", "/api/v1/withdrawals", nil, nil) // reads keep the token until it expires
}

// accessRefreshRetry: a refresh retried within the grace window (the
// client lost the first answer) gets the same new refresh token, and the
// session goes on with it.
func accessRefreshRetry(t *testing.T, e *secEnv) {
	e.admin.must(t, 201, "POST", "/api/v1/users", map[string]string{"email": "acc-rita@example.com", "username": "rita",
		"password": "rita-password-1234", "role": "user"}, nil)
	_, r0 := secLogin(t, e.edge, "acc-rita@example.com", "rita-password-1234")
	type pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	var first, retry, next pair
	e.edge.must(t, 200, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": r0}, &first)
	e.edge.must(t, 200, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": r0}, &retry)
	if retry.RefreshToken != first.RefreshToken || retry.AccessToken == "" {
		t.Fatalf("the retried refresh got another refresh token (or none): %q, first %q", retry.RefreshToken, first.RefreshToken)
	}
	e.edge.must(t, 200, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": retry.RefreshToken}, &next)
	e.edge.as(next.AccessToken).must(t, 200, "GET", "/api/v1/auth/me", nil, nil)
	e.edge.as(retry.AccessToken).must(t, 200, "POST", "/api/v1/auth/logout", map[string]string{"refresh_token": next.RefreshToken}, nil)
}
