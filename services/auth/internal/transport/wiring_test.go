package transport_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/auth/authtest"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/servicetest"
	"github.com/fundplatform/platform/services/auth/internal/endpoint"
	"github.com/fundplatform/platform/services/auth/internal/identity"
	"github.com/fundplatform/platform/services/auth/internal/keys"
	"github.com/fundplatform/platform/services/auth/internal/store"
	"github.com/fundplatform/platform/services/auth/internal/transport"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	issuer     = servicetest.Issuer
	audience   = servicetest.Audience
	adminEmail = "admin@fund.test"
	adminPass  = "admin-password-123"
)

// env is one auth service over a fresh database, behind httptest.
type env struct {
	*servicetest.Server
	store  *store.Store
	key    ed25519.PrivateKey
	offset atomic.Int64 // added to the wall clock, to move time forward

	mu     sync.Mutex
	delays []time.Duration // the login slow-downs asked for, never waited
}

// sleep is the service's Options.Sleep: it records the delay and returns.
func (e *env) sleep(_ context.Context, d time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.delays = append(e.delays, d)
	return nil
}

// takeDelays returns the delays recorded since the last call.
func (e *env) takeDelays() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.delays
	e.delays = nil
	return d
}

func (e *env) now() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

func newEnv(t *testing.T) *env {
	t.Helper()
	s := servicetest.New(t, store.Migrations())
	// The JWKS is not an envelope (docs/api.md#response-envelope).
	s.RawPaths = []string{"/api/v1/auth/jwks.json"}
	e := &env{Server: s, store: store.New(s.Pool), key: keys.Generate()}
	ctx := context.Background()
	signer := keys.NewSigner(e.key, issuer, audience, servicetest.TokenTTL)
	pub, err := keys.NewPublisher(ctx, signer, e.store, e.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := identity.Bootstrap(ctx, e.store, adminEmail, adminPass, bcrypt.MinCost, e.now()); err != nil {
		t.Fatal(err)
	}
	svc := identity.New(e.store, signer, identity.Options{BcryptCost: bcrypt.MinCost, Now: e.now, Sleep: e.sleep})
	verifier := libauth.NewVerifier(libauth.StaticKeys{signer.KID(): signer.Public()}, issuer, audience)
	verifier.CheckRevocationOnWrites(transport.Revocation(svc)) // as main does
	s.Serve("auth", transport.NewHandler(endpoint.New(svc, pub), verifier, s.Metrics()))
	return e
}

// The API's login answer, user and team are the identity package's types as
// they are (docs/api.md#auth-service).
type (
	tokens = identity.TokenPair
	user   = identity.User
	team   = identity.Team
)

func (e *env) login(email, password string) tokens {
	e.T.Helper()
	var tk tokens
	e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}).OK(e.T, 200, &tk)
	return tk
}

func (e *env) createUser(admin, email, role string) user {
	e.T.Helper()
	var u user
	e.Do("POST", "/api/v1/users", admin, map[string]string{"email": email, "username": strings.Split(email, "@")[0],
		"password": "user-password-123", "role": role}).OK(e.T, 201, &u)
	return u
}

func TestLoginMeAndTeams(t *testing.T) {
	e := newEnv(t)
	tk := e.login(adminEmail, adminPass)
	var tm team
	var alice, other user
	var atk tokens
	_ = t.Run("admin", func(t *testing.T) { tm, alice = adminTeamsAndUsers(t, e, tk) }) &&
		t.Run("user", func(t *testing.T) { atk, other = userSeesItsOwn(t, e, tk, tm, alice) }) &&
		t.Run("viewer", func(t *testing.T) { viewerAndRemoval(t, e, tk, atk, tm, alice, other) })
}

// adminTeamsAndUsers: the admin's tokens and me; a team and its member
// alice.
func adminTeamsAndUsers(t *testing.T, e *env, tk tokens) (tm team, alice user) {
	if tk.TokenType != "Bearer" || tk.ExpiresIn != 900 || tk.RefreshToken == "" {
		t.Fatalf("tokens = %+v", tk)
	}
	var me user
	e.Do("GET", "/api/v1/auth/me", tk.AccessToken, nil).OK(t, 200, &me)
	if me.Email != adminEmail || me.Role != "admin" || !me.IsActive {
		t.Fatalf("me = %+v", me)
	}
	if strings.Contains(string(e.Do("GET", "/api/v1/auth/me", tk.AccessToken, nil).Raw), "password") {
		t.Fatal("user JSON exposes a password field")
	}

	e.Do("POST", "/api/v1/teams", tk.AccessToken, map[string]string{"name": "Alpha", "description": "first"}).OK(t, 201, &tm)
	e.Do("POST", "/api/v1/teams", tk.AccessToken, map[string]string{"name": "alpha"}).Fails(t, 409, "team_name_taken")
	alice = e.createUser(tk.AccessToken, "Alice@Example.com", "user")
	if alice.Email != "alice@example.com" {
		t.Fatalf("email not normalised: %q", alice.Email)
	}
	e.Do("POST", "/api/v1/users", tk.AccessToken, map[string]string{"email": "ALICE@example.com", "username": "a2",
		"password": "user-password-123", "role": "user"}).Fails(t, 409, "email_taken")

	// Membership is idempotent both ways.
	for range 2 {
		e.Do("PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", tm.ID, alice.ID), tk.AccessToken, nil).OK(t, 200, &tm)
	}
	if len(tm.MemberIDs) != 1 || tm.MemberIDs[0] != alice.ID {
		t.Fatalf("members = %v", tm.MemberIDs)
	}
	e.Do("PUT", fmt.Sprintf("/api/v1/teams/%d/members/999999", tm.ID), tk.AccessToken, nil).Fails(t, 404, "user_not_found")
	e.Do("PUT", fmt.Sprintf("/api/v1/teams/999999/members/%d", alice.ID), tk.AccessToken, nil).Fails(t, 404, "team_not_found")
	return tm, alice
}

// userSeesItsOwn: alice's token carries her team; a user sees its own
// teams only, and only itself. It returns alice's tokens and another user.
func userSeesItsOwn(t *testing.T, e *env, tk tokens, tm team, alice user) (atk tokens, other user) {
	// Alice logs in; her token carries her team.
	atk = e.login("alice@example.com", "user-password-123")
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(atk.AccessToken, claims); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"iss", "aud", "sub", "role", "teams", "exp", "iat", "jti"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("access token lacks claim %s", c)
		}
	}
	if teams, _ := claims["teams"].([]any); len(teams) != 1 || teams[0].(float64) != float64(tm.ID) {
		t.Fatalf("teams claim = %v", claims["teams"])
	}

	// A user sees its own teams only, and only itself.
	other = e.createUser(tk.AccessToken, "bob@example.com", "user")
	var beta team
	e.Do("POST", "/api/v1/teams", tk.AccessToken, map[string]string{"name": "Beta"}).OK(t, 201, &beta)
	var list []team
	r := e.Do("GET", "/api/v1/teams", atk.AccessToken, nil)
	r.OK(t, 200, &list)
	if len(list) != 1 || list[0].ID != tm.ID || *r.Env.Total != 1 {
		t.Fatalf("alice's teams = %+v", list)
	}
	e.Do("GET", fmt.Sprintf("/api/v1/teams/%d", beta.ID), atk.AccessToken, nil).Fails(t, 404, "not_found")
	e.Do("GET", fmt.Sprintf("/api/v1/teams/%d", tm.ID), atk.AccessToken, nil).OK(t, 200, nil)
	e.Do("GET", "/api/v1/users", atk.AccessToken, nil).Fails(t, 403, "forbidden")
	e.Do("GET", fmt.Sprintf("/api/v1/users/%d", other.ID), atk.AccessToken, nil).Fails(t, 404, "not_found")
	e.Do("GET", fmt.Sprintf("/api/v1/users/%d", alice.ID), atk.AccessToken, nil).OK(t, 200, nil)
	e.Do("POST", "/api/v1/teams", atk.AccessToken, map[string]string{"name": "Mine"}).Fails(t, 403, "forbidden")
	e.Do("PATCH", fmt.Sprintf("/api/v1/users/%d", alice.ID), atk.AccessToken, map[string]string{"role": "admin"}).Fails(t, 403, "forbidden")
	return atk, other
}

func viewerAndRemoval(t *testing.T, e *env, tk, atk tokens, tm team, alice, other user) {
	// Viewers read everything and change nothing.
	e.createUser(tk.AccessToken, "vera@example.com", "viewer")
	vtk := e.login("vera@example.com", "user-password-123")
	var users []user
	r := e.Do("GET", "/api/v1/users?role=user&limit=1", vtk.AccessToken, nil)
	r.OK(t, 200, &users)
	if len(users) != 1 || *r.Env.Total != 2 || users[0].ID != other.ID {
		t.Fatalf("viewer list = %+v total %v (want newest first)", users, *r.Env.Total)
	}
	e.Do("GET", "/api/v1/users?role=root", vtk.AccessToken, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", "/api/v1/users?limit=0", vtk.AccessToken, nil).Fails(t, 400, "validation_failed")
	e.Do("DELETE", fmt.Sprintf("/api/v1/teams/%d/members/%d", tm.ID, alice.ID), vtk.AccessToken, nil).Fails(t, 403, "forbidden")

	// Removal takes effect at once for reads.
	e.Do("DELETE", fmt.Sprintf("/api/v1/teams/%d/members/%d", tm.ID, alice.ID), tk.AccessToken, nil).OK(t, 200, &tm)
	e.Do("GET", fmt.Sprintf("/api/v1/teams/%d", tm.ID), atk.AccessToken, nil).Fails(t, 404, "not_found")
}

func TestLoginFailuresAndLockout(t *testing.T) {
	e := newEnv(t)
	e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"}).Fails(t, 401, "invalid_credentials")
	e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@fund.test", "password": "whatever"}).Fails(t, 401, "invalid_credentials")
	for i := 2; i <= 5; i++ {
		e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"}).Fails(t, 401, "invalid_credentials")
	}
	// The sixth attempt within 15 minutes is refused, even with the right password.
	r := e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"})
	r.Fails(t, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": strings.ToUpper(adminEmail), "password": adminPass}).Fails(t, 429, "rate_limited")
	// Unknown emails are locked out the same way (nothing tells them apart).
	for range 5 {
		e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": "ghost@fund.test", "password": "wrong-password"}).Fails(t, 401, "invalid_credentials")
	}
	r = e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": "ghost@fund.test", "password": "wrong-password"})
	r.Fails(t, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 for an unknown email without Retry-After")
	}
	// Once the window has passed, the right password works again.
	e.offset.Store(int64(15*time.Minute + time.Second))
	e.login(adminEmail, adminPass)
}

func TestLockoutUnderConcurrentGuesses(t *testing.T) {
	e := newEnv(t)
	rs := servicetest.Concurrently(12, func(int) servicetest.Result {
		return e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"})
	})
	if n := servicetest.Statuses(rs)[401]; n != identity.MaxLoginFailures {
		t.Fatalf("%d guesses were checked, want exactly %d before the lock-out", n, identity.MaxLoginFailures)
	}
}

func TestRejectedTokens(t *testing.T) {
	e := newEnv(t)
	tk := e.login(adminEmail, adminPass)
	pub := e.key.Public().(ed25519.PublicKey)
	kid := libauth.Thumbprint(pub)
	claims := func(exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"iss": issuer, "aud": audience, "sub": "1", "role": "admin", "teams": []int64{},
			"iat": time.Now().Add(-time.Hour).Unix(), "exp": exp.Unix(), "jti": "x"}
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string { return authtest.Sign(t, m, key, kid, c) }
	parts := strings.Split(tk.AccessToken, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"sub":"1"`), []byte(`"sub":"2"`), 1)) + "." + parts[2]
	noExp := claims(time.Now().Add(time.Hour))
	delete(noExp, "exp")

	cases := map[string]struct{ token, code string }{
		"expired":             {sign(jwt.SigningMethodEdDSA, e.key, claims(time.Now().Add(-time.Minute))), "token_expired"},
		"tampered":            {tampered, "unauthenticated"},
		"alg none":            {sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(time.Now().Add(time.Hour))), "unauthenticated"},
		"hs256 signed by pub": {sign(jwt.SigningMethodHS256, []byte(pub), claims(time.Now().Add(time.Hour))), "unauthenticated"},
		"no exp":              {sign(jwt.SigningMethodEdDSA, e.key, noExp), "unauthenticated"},
		"refresh as access":   {tk.RefreshToken, "unauthenticated"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e.Do("GET", "/api/v1/auth/me", c.token, nil).Fails(t, 401, c.code)
		})
	}
	e.Do("GET", "/api/v1/auth/me", "", nil).Fails(t, 401, "unauthenticated")
	// The genuine token still works, so the cases above fail for their own reason.
	e.Do("GET", "/api/v1/auth/me", tk.AccessToken, nil).OK(t, 200, nil)
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t)
	first := e.login(adminEmail, adminPass)
	var second tokens
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}).OK(t, 200, &second)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
		t.Fatal("refresh did not rotate")
	}
	e.Do("GET", "/api/v1/auth/me", second.AccessToken, nil).OK(t, 200, nil)
	// Re-using the rotated token after the retry grace revokes the whole
	// family: its successor too.
	e.ageRotations(t, identity.RefreshRetryGrace+time.Second)
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}).Fails(t, 401, "refresh_token_reused")
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}).Fails(t, 401, "invalid_refresh_token")
	// Another session of the same user is untouched.
	other := e.login(adminEmail, adminPass)
	var third tokens
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": other.RefreshToken}).OK(t, 200, &third)
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "garbage"}).Fails(t, 401, "invalid_refresh_token")
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{}).Fails(t, 400, "validation_failed")

	// Logout ends that session.
	e.Do("POST", "/api/v1/auth/logout", third.AccessToken, map[string]string{"refresh_token": third.RefreshToken}).OK(t, 200, nil)
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": third.RefreshToken}).Fails(t, 401, "invalid_refresh_token")

	// Refresh tokens expire.
	fourth := e.login(adminEmail, adminPass)
	e.offset.Store(int64(8 * 24 * time.Hour))
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": fourth.RefreshToken}).Fails(t, 401, "invalid_refresh_token")
}

// TestConcurrentRefreshesShareOneSuccessor: concurrent refreshes of one
// token are one rotation and its retries: all get the same refresh token,
// and the session keeps one live token.
func TestConcurrentRefreshesShareOneSuccessor(t *testing.T) {
	e := newEnv(t)
	tk := e.login(adminEmail, adminPass)
	rs := servicetest.Concurrently(8, func(int) servicetest.Result {
		return e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tk.RefreshToken})
	})
	got := map[string]bool{}
	for _, r := range rs {
		var next tokens
		r.OK(t, 200, &next)
		got[next.RefreshToken] = true
	}
	if len(got) != 1 {
		t.Fatalf("%d different refresh tokens from concurrent refreshes of one, want 1", len(got))
	}
	e.liveTokens(t, 1, 1)
}

// liveTokens asserts how many refresh tokens and families (sessions) are
// still live: neither used nor revoked.
func (e *env) liveTokens(t *testing.T, tokens, families int) {
	t.Helper()
	var n, f int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT family_id) FROM refresh_tokens
		WHERE used_at IS NULL AND revoked_at IS NULL`).Scan(&n, &f); err != nil {
		t.Fatal(err)
	}
	if n != tokens || f != families {
		t.Fatalf("%d live refresh tokens in %d families, want %d in %d", n, f, tokens, families)
	}
}

func TestUpdateUser(t *testing.T) {
	e := newEnv(t)
	admin := e.login(adminEmail, adminPass).AccessToken
	carol := e.createUser(admin, "carol@example.com", "user")
	ctk := e.login("carol@example.com", "user-password-123")
	path := fmt.Sprintf("/api/v1/users/%d", carol.ID)

	e.Do("PATCH", path, ctk.AccessToken, map[string]string{"password": "new-password-456"}).Fails(t, 400, "validation_failed")
	e.Do("PATCH", path, ctk.AccessToken, map[string]string{"password": "new-password-456", "old_password": "wrong-one-123"}).
		FailsOn(t, 400, "validation_failed", "old_password")
	e.Do("PATCH", path, ctk.AccessToken, map[string]string{"password": "short", "old_password": "user-password-123"}).Fails(t, 400, "validation_failed")
	e.Do("PATCH", path, admin, map[string]string{"password": "new-password-456", "old_password": "user-password-123"}).Fails(t, 403, "forbidden")
	e.Do("PATCH", path, ctk.AccessToken, map[string]string{"password": "new-password-456", "old_password": "user-password-123"}).OK(t, 200, nil)
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": ctk.RefreshToken}).Fails(t, 401, "invalid_refresh_token")
	ctk = e.login("carol@example.com", "new-password-456")

	var u user
	e.Do("PATCH", path, admin, map[string]any{"username": "Caroline", "role": "viewer"}).OK(t, 200, &u)
	if u.Username != "Caroline" || u.Role != "viewer" || !u.UpdatedAt.After(u.CreatedAt) && !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Fatalf("patched = %+v", u)
	}
	e.Do("PATCH", path, admin, map[string]any{}).Fails(t, 400, "validation_failed")
	e.Do("PATCH", path, admin, map[string]any{"role": "root"}).Fails(t, 400, "validation_failed")
	e.Do("PATCH", path, admin, map[string]any{"is_active": "no"}).Fails(t, 400, "validation_failed")
	e.Do("PATCH", "/api/v1/users/999999", admin, map[string]any{"is_active": false}).Fails(t, 404, "not_found")

	// Deactivating revokes the refresh tokens and stops logins.
	e.Do("PATCH", path, admin, map[string]any{"is_active": false}).OK(t, 200, &u)
	if u.IsActive {
		t.Fatal("still active")
	}
	e.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": ctk.RefreshToken}).Fails(t, 401, "invalid_refresh_token")
	e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": "carol@example.com", "password": "new-password-456"}).Fails(t, 403, "account_disabled")
	e.Do("GET", "/api/v1/auth/me", ctk.AccessToken, nil).Fails(t, 401, "unauthenticated")

	// The last active admin cannot remove itself.
	var me user
	e.Do("GET", "/api/v1/auth/me", admin, nil).OK(t, 200, &me)
	e.Do("PATCH", fmt.Sprintf("/api/v1/users/%d", me.ID), admin, map[string]any{"role": "user"}).Fails(t, 409, "last_admin")
	e.Do("PATCH", fmt.Sprintf("/api/v1/users/%d", me.ID), admin, map[string]any{"is_active": false}).Fails(t, 409, "last_admin")
}

func TestRequestValidation(t *testing.T) {
	e := newEnv(t)
	admin := e.login(adminEmail, adminPass).AccessToken
	valid := map[string]any{"email": "dan@example.com", "username": "dan", "password": "user-password-123", "role": "user"}
	with := func(k string, v any) map[string]any { return servicetest.Edit(valid, k, v) }
	e.Do("POST", "/api/v1/users", admin, with("nickname", "x")).Fails(t, 400, "invalid_json")
	e.Do("POST", "/api/v1/users", admin, `{"email":"dan@example.com"} {}`).Fails(t, 400, "invalid_json")
	e.Do("POST", "/api/v1/users", admin, `{"email":`).Fails(t, 400, "invalid_json")
	e.Do("POST", "/api/v1/users", admin, with("role", 5)).Fails(t, 400, "validation_failed")
	for field, v := range map[string]any{"email": "not-an-email", "password": "short-pass", "role": "root", "username": " "} {
		e.Do("POST", "/api/v1/users", admin, with(field, v)).FailsOn(t, 400, "validation_failed", field)
	}
	big := `{"email":"` + strings.Repeat("a", httpx.MaxBodyBytes) + `"}`
	e.Do("POST", "/api/v1/users", admin, big).Fails(t, 413, "payload_too_large")
	e.Do("POST", "/api/v1/auth/login", "", big).Fails(t, 413, "payload_too_large")
	e.Do("POST", "/api/v1/auth/login", "", `{"email":"a","password":"b","remember":true}`).Fails(t, 400, "invalid_json")
	// Nothing above created a user.
	var users []user
	e.Do("GET", "/api/v1/users", admin, nil).OK(t, 200, &users)
	if len(users) != 1 {
		t.Fatalf("%d users after refused requests, want only the admin", len(users))
	}
	e.Do("DELETE", "/api/v1/users", admin, nil).Fails(t, 405, "method_not_allowed")
	e.Do("GET", "/api/v1/nope", admin, nil).Fails(t, 404, "not_found")
	e.Do("GET", "/api/v1/users/abc", admin, nil).Fails(t, 404, "not_found")
}

func TestJWKSRotation(t *testing.T) {
	e := newEnv(t)
	oldToken := e.login(adminEmail, adminPass).AccessToken

	// A second instance starts with a new key: the rotation.
	ctx := context.Background()
	newKey := keys.Generate()
	signer := keys.NewSigner(newKey, issuer, audience, 15*time.Minute)
	pub, err := keys.NewPublisher(ctx, signer, e.store, e.now)
	if err != nil {
		t.Fatal(err)
	}
	set, err := pub.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0].Kid != signer.KID() {
		t.Fatalf("after rotation JWKS = %+v, want new key first and the old one kept", set)
	}
	// Services verifying through the JWKS accept both old and new tokens.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := pub.JWKS(r.Context())
		_ = json.NewEncoder(w).Encode(s)
	}))
	defer srv.Close()
	v := libauth.NewVerifier(libauth.NewRemoteKeys(srv.URL), issuer, audience)
	if _, err := v.Verify(ctx, oldToken); err != nil {
		t.Fatalf("old token refused during rotation: %v", err)
	}
	newToken, _, err := signer.Issue(identity.User{ID: 1, Role: "admin"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, newToken); err != nil {
		t.Fatalf("new token refused: %v", err)
	}
	// Once every token of the old key has expired, the old key is gone.
	e.offset.Store(int64(16 * time.Minute))
	set, _ = pub.JWKS(ctx)
	if len(set.Keys) != 1 || set.Keys[0].Kid != signer.KID() {
		t.Fatalf("after the old tokens' lifetime JWKS = %+v", set)
	}

	// The service's own JWKS routes serve raw key sets.
	for _, p := range []string{"/.well-known/jwks.json", "/api/v1/auth/jwks.json"} {
		r := e.Do("GET", p, "", nil)
		var got libauth.JWKS
		if r.Status != 200 || json.Unmarshal(r.Raw, &got) != nil || len(got.Keys) == 0 || got.Keys[0].Kty != "OKP" {
			t.Fatalf("%s = %d %s", p, r.Status, r.Raw)
		}
	}
}

func TestPasswordsUseBcryptCost12ByDefault(t *testing.T) {
	e := newEnv(t)
	svc := identity.New(e.store, keys.NewSigner(e.key, issuer, audience, time.Minute), identity.Options{})
	u, err := svc.CreateUser(context.Background(), identity.Caller{UserID: 1, Role: "admin"},
		identity.NewUser{Email: "eve@example.com", Username: "eve", Password: "user-password-123", Role: "user"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.store.UserHash(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost < 12 {
		t.Fatalf("bcrypt cost = %d, %v; want >= 12", cost, err)
	}
}
