package transport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fundplatform/platform/services/auth/internal/identity"
)

// loginFrom tries a login as a client at addr behind the edge, which
// appends the peer it saw to X-Forwarded-For (here after a forged entry
// claiming another address).
func (e *env) loginFrom(addr, email, password string) (status int, code string) {
	e.T.Helper()
	r := e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password},
		"X-Forwarded-For", "10.0.0.1, "+addr)
	var d struct{ Code string }
	_ = json.Unmarshal(r.Env.Data, &d)
	return r.Status, d.Code
}

// failures counts the recorded login failures of an email.
func (e *env) failures(t *testing.T, email string) int {
	t.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM login_failures WHERE email = $1`, email).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLockoutPerClientAddress: wrong passwords from one address lock that
// address out for the email, not the account: the owner logs in from
// another; an admin's unlock clears the lock.
func TestLockoutPerClientAddress(t *testing.T) {
	e := newEnv(t)
	for range identity.MaxLoginFailures {
		if st, code := e.loginFrom("10.0.0.2", adminEmail, "wrong-password"); st != 401 {
			t.Fatalf("wrong password = %d %s, want 401", st, code)
		}
	}
	r := e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": adminPass},
		"X-Forwarded-For", "10.0.0.2")
	r.Fails(t, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The forged first entry of loginFrom claims 10.0.0.1: it is not the
	// address counted, so 10.0.0.1 is free.
	var tk tokens
	e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": adminPass},
		"X-Forwarded-For", "10.0.0.1").OK(t, 200, &tk)
	if st, code := e.loginFrom("10.0.0.2", adminEmail, adminPass); st != 429 {
		t.Fatalf("the locked pair's right password = %d %s, want 429", st, code)
	}
	if n := e.failures(t, adminEmail); n != identity.MaxLoginFailures {
		t.Fatalf("%d failures recorded, want %d (a refused attempt is not counted)", n, identity.MaxLoginFailures)
	}

	var me user
	e.Do("GET", "/api/v1/auth/me", tk.AccessToken, nil).OK(t, 200, &me)
	path := fmt.Sprintf("/api/v1/users/%d/login-failures", me.ID)
	e.createUser(tk.AccessToken, "vic@example.com", "viewer")
	viewer := e.login("vic@example.com", "user-password-123").AccessToken
	e.Do("DELETE", path, viewer, nil).Fails(t, 403, "forbidden")
	e.Do("DELETE", "/api/v1/users/999999/login-failures", tk.AccessToken, nil).Fails(t, 404, "not_found")
	var cleared identity.Unlocked
	e.Do("DELETE", path, tk.AccessToken, nil).OK(t, 200, &cleared)
	if cleared.Cleared != int64(identity.MaxLoginFailures) {
		t.Fatalf("cleared %d, want %d", cleared.Cleared, identity.MaxLoginFailures)
	}
	if st, code := e.loginFrom("10.0.0.2", adminEmail, adminPass); st != 200 {
		t.Fatalf("after the unlock = %d %s, want 200", st, code)
	}
	e.Do("DELETE", path, tk.AccessToken, nil).OK(t, 200, &cleared)
	if cleared.Cleared != 0 {
		t.Fatalf("a second unlock cleared %d, want 0", cleared.Cleared)
	}
}

// TestLoginSlowdownPerEmail: failures from many addresses slow the email's
// logins down, progressively and bounded, and lock nobody out.
func TestLoginSlowdownPerEmail(t *testing.T) {
	e := newEnv(t)
	for i := range identity.SlowdownFailures {
		e.loginFrom(fmt.Sprintf("10.1.0.%d", i/identity.MaxLoginFailures), adminEmail, "wrong-password")
	}
	if d := e.takeDelays(); len(d) != 0 {
		t.Fatalf("delays %v below the slow-down threshold", d)
	}
	for i := range 3 {
		e.loginFrom(fmt.Sprintf("10.2.0.%d", i), adminEmail, "wrong-password")
	}
	if st, code := e.loginFrom("10.3.0.1", adminEmail, adminPass); st != 200 {
		t.Fatalf("the right password from another address = %d %s, want 200", st, code)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, identity.MaxLoginDelay}
	if d := e.takeDelays(); !slices.Equal(d, want) {
		t.Fatalf("delays %v, want %v", d, want)
	}
}

// TestRefreshRetryWithinGrace: a rotated token presented again within the
// grace window gets the same successor and the session survives, with one
// live token; once the successor is used, or after the window, it is a
// reuse that revokes the family.
func TestRefreshRetryWithinGrace(t *testing.T) {
	e := newEnv(t)
	first := e.login(adminEmail, adminPass)
	var second, retried, third tokens
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}).OK(t, 200, &second)
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}).OK(t, 200, &retried)
	if retried.RefreshToken != second.RefreshToken {
		t.Fatal("a retry got another refresh token, want the successor it got the first time")
	}
	e.Do("GET", "/api/v1/auth/me", retried.AccessToken, nil).OK(t, 200, nil)
	e.liveTokens(t, 1, 1)
	// The session goes on from the successor.
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": retried.RefreshToken}).OK(t, 200, &third)
	e.liveTokens(t, 1, 1)

	// The successor is used: the first token again is a reuse.
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}).Fails(t, 401, "refresh_token_reused")
	e.liveTokens(t, 0, 0)

	// Past the window, a retry is a reuse too.
	other := e.login(adminEmail, adminPass)
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": other.RefreshToken}).OK(t, 200, nil)
	e.ageRotations(t, identity.RefreshRetryGrace+time.Millisecond)
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": other.RefreshToken}).Fails(t, 401, "refresh_token_reused")
	e.liveTokens(t, 0, 0)
}

// ageRotations moves every rotation d into the past, as if d had passed
// (the clock offset cannot: the access tokens it issues would not be valid
// yet for the verifier).
func (e *env) ageRotations(t *testing.T, d time.Duration) {
	t.Helper()
	if _, err := e.Pool.Exec(context.Background(), `UPDATE refresh_tokens SET used_at = used_at - $1::interval WHERE used_at IS NOT NULL`,
		d.String()); err != nil {
		t.Fatal(err)
	}
}

// TestLoginFailuresArePurged: each failed login deletes a bounded batch of
// failures, of any email, older than the window.
func TestLoginFailuresArePurged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.Pool.Exec(ctx, `INSERT INTO login_failures (email, client, failed_at)
		SELECT 'sprayed-' || i || '@example.com', '10.9.9.9', $1 FROM generate_series(1, 150) i`,
		e.now().Add(-identity.LockoutWindow-time.Minute)); err != nil {
		t.Fatal(err)
	}
	expired := func() int {
		var n int
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM login_failures WHERE email LIKE 'sprayed-%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	e.loginFrom("10.0.0.2", "nobody@example.com", "wrong-password")
	if n := expired(); n != 50 {
		t.Fatalf("%d expired failures after one failed login, want 50 (a batch of 100 purged)", n)
	}
	e.loginFrom("10.0.0.2", "nobody@example.com", "wrong-password")
	if n := expired(); n != 0 {
		t.Fatalf("%d expired failures after two failed logins, want 0", n)
	}
	if n := e.failures(t, "nobody@example.com"); n != 2 {
		t.Fatalf("%d failures in the window, want the 2 just recorded", n)
	}
}

// TestLoginCaps: an email or password no account can have is 400 before
// any work, and records nothing.
func TestLoginCaps(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", identity.MaxEmailLength-len("@fund.test")+1) + "@fund.test"
	e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": long, "password": "wrong-password"}).
		FailsOn(t, 400, "validation_failed", "email")
	e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": strings.Repeat("é", 37)}).
		FailsOn(t, 400, "validation_failed", "password")
	if n := e.failures(t, adminEmail) + e.failures(t, long); n != 0 {
		t.Fatalf("%d failures recorded for refused input, want 0", n)
	}
	// At the limits the attempt is checked (and fails) as usual.
	e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": long[1:], "password": strings.Repeat("é", 36)}).
		Fails(t, 401, "invalid_credentials")
}
