package transport_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/auth/internal/endpoint"
	"github.com/fundplatform/platform/services/auth/internal/identity"
	"github.com/fundplatform/platform/services/auth/internal/keys"
	"github.com/fundplatform/platform/services/auth/internal/store"
	"github.com/fundplatform/platform/services/auth/internal/transport"
	"github.com/prometheus/client_golang/prometheus"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	issuer     = "fund-auth"
	audience   = "fund-api"
	adminEmail = "admin@fund.test"
	adminPass  = "admin-password-123"
)

// env is one auth service over a fresh database, behind httptest.
type env struct {
	t      *testing.T
	url    string
	store  *store.Store
	key    ed25519.PrivateKey
	offset atomic.Int64 // added to the wall clock, to move time forward
}

func (e *env) now() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := pgtest.New(t, store.Migrations())
	e := &env{t: t, store: store.New(pool), key: keys.Generate()}
	ctx := context.Background()
	signer := keys.NewSigner(e.key, issuer, audience, 15*time.Minute)
	pub, err := keys.NewPublisher(ctx, signer, e.store, e.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := identity.Bootstrap(ctx, e.store, adminEmail, adminPass, bcrypt.MinCost, e.now()); err != nil {
		t.Fatal(err)
	}
	svc := identity.New(e.store, signer, identity.Options{BcryptCost: bcrypt.MinCost, Now: e.now})
	verifier := libauth.NewVerifier(libauth.StaticKeys{signer.KID(): signer.Public()}, issuer, audience)
	metrics := observability.NewHTTPMetrics(prometheus.NewRegistry(), nil)
	h := observability.HTTPHandler(transport.NewHandler(endpoint.New(svc, pub), verifier, metrics.Wrap), "auth")
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

type envelope struct {
	IsOK    bool            `json:"isOK"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Total   *int64          `json:"total"`
}

type errData struct {
	ErrorCode int               `json:"errorCode"`
	Code      string            `json:"code"`
	Fields    map[string]string `json:"fields"`
}

type result struct {
	status int
	header http.Header
	env    envelope
	raw    []byte
}

// do sends a request; body may be a string (sent as is) or a value (JSON).
func (e *env) do(method, path, token string, body any) result {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header, raw: raw}
	if resp.Header.Get(httpx.RequestIDHeader) == "" {
		e.t.Errorf("%s %s: no X-Request-Id on the response", method, path)
	}
	if strings.HasPrefix(path, "/api/v1/") && path != "/api/v1/auth/jwks.json" {
		if err := json.Unmarshal(raw, &r.env); err != nil {
			e.t.Fatalf("%s %s: body is not the envelope: %s", method, path, raw)
		}
	}
	return r
}

// ok asserts a success envelope with the status and decodes data into v.
func (r result) ok(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status || !r.env.IsOK || r.env.Message != "Success" {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if v != nil {
		if err := json.Unmarshal(r.env.Data, v); err != nil {
			t.Fatalf("data: %v: %s", err, r.raw)
		}
	}
}

// fails asserts an error envelope with the status and code.
func (r result) fails(t *testing.T, status int, code string) errData {
	t.Helper()
	var d errData
	_ = json.Unmarshal(r.env.Data, &d)
	if r.status != status || r.env.IsOK || d.ErrorCode != status || d.Code != code || r.env.Message == "" {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
	return d
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

func (e *env) login(email, password string) tokens {
	e.t.Helper()
	var tk tokens
	e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}).ok(e.t, 200, &tk)
	return tk
}

type user struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	IsActive  bool      `json:"is_active"`
	TeamIDs   []int64   `json:"team_ids"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type team struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	MemberIDs   []int64 `json:"member_ids"`
}

func (e *env) createUser(admin, email, role string) user {
	e.t.Helper()
	var u user
	e.do("POST", "/api/v1/users", admin, map[string]string{"email": email, "username": strings.Split(email, "@")[0],
		"password": "user-password-123", "role": role}).ok(e.t, 201, &u)
	return u
}

func TestLoginMeAndTeams(t *testing.T) {
	e := newEnv(t)
	tk := e.login(adminEmail, adminPass)
	if tk.TokenType != "Bearer" || tk.ExpiresIn != 900 || tk.RefreshToken == "" {
		t.Fatalf("tokens = %+v", tk)
	}
	var me user
	e.do("GET", "/api/v1/auth/me", tk.AccessToken, nil).ok(t, 200, &me)
	if me.Email != adminEmail || me.Role != "admin" || !me.IsActive {
		t.Fatalf("me = %+v", me)
	}
	if strings.Contains(string(e.do("GET", "/api/v1/auth/me", tk.AccessToken, nil).raw), "password") {
		t.Fatal("user JSON exposes a password field")
	}

	var tm team
	e.do("POST", "/api/v1/teams", tk.AccessToken, map[string]string{"name": "Alpha", "description": "first"}).ok(t, 201, &tm)
	e.do("POST", "/api/v1/teams", tk.AccessToken, map[string]string{"name": "alpha"}).fails(t, 409, "team_name_taken")
	alice := e.createUser(tk.AccessToken, "Alice@Example.com", "user")
	if alice.Email != "alice@example.com" {
		t.Fatalf("email not normalised: %q", alice.Email)
	}
	e.do("POST", "/api/v1/users", tk.AccessToken, map[string]string{"email": "ALICE@example.com", "username": "a2",
		"password": "user-password-123", "role": "user"}).fails(t, 409, "email_taken")

	// Membership is idempotent both ways.
	for range 2 {
		e.do("PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", tm.ID, alice.ID), tk.AccessToken, nil).ok(t, 200, &tm)
	}
	if len(tm.MemberIDs) != 1 || tm.MemberIDs[0] != alice.ID {
		t.Fatalf("members = %v", tm.MemberIDs)
	}
	e.do("PUT", fmt.Sprintf("/api/v1/teams/%d/members/999999", tm.ID), tk.AccessToken, nil).fails(t, 404, "user_not_found")
	e.do("PUT", fmt.Sprintf("/api/v1/teams/999999/members/%d", alice.ID), tk.AccessToken, nil).fails(t, 404, "team_not_found")

	// Alice logs in; her token carries her team.
	atk := e.login("alice@example.com", "user-password-123")
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
	other := e.createUser(tk.AccessToken, "bob@example.com", "user")
	var beta team
	e.do("POST", "/api/v1/teams", tk.AccessToken, map[string]string{"name": "Beta"}).ok(t, 201, &beta)
	var list []team
	r := e.do("GET", "/api/v1/teams", atk.AccessToken, nil)
	r.ok(t, 200, &list)
	if len(list) != 1 || list[0].ID != tm.ID || *r.env.Total != 1 {
		t.Fatalf("alice's teams = %+v", list)
	}
	e.do("GET", fmt.Sprintf("/api/v1/teams/%d", beta.ID), atk.AccessToken, nil).fails(t, 404, "not_found")
	e.do("GET", fmt.Sprintf("/api/v1/teams/%d", tm.ID), atk.AccessToken, nil).ok(t, 200, nil)
	e.do("GET", "/api/v1/users", atk.AccessToken, nil).fails(t, 403, "forbidden")
	e.do("GET", fmt.Sprintf("/api/v1/users/%d", other.ID), atk.AccessToken, nil).fails(t, 404, "not_found")
	e.do("GET", fmt.Sprintf("/api/v1/users/%d", alice.ID), atk.AccessToken, nil).ok(t, 200, nil)
	e.do("POST", "/api/v1/teams", atk.AccessToken, map[string]string{"name": "Mine"}).fails(t, 403, "forbidden")
	e.do("PATCH", fmt.Sprintf("/api/v1/users/%d", alice.ID), atk.AccessToken, map[string]string{"role": "admin"}).fails(t, 403, "forbidden")

	// Viewers read everything and change nothing.
	e.createUser(tk.AccessToken, "vera@example.com", "viewer")
	vtk := e.login("vera@example.com", "user-password-123")
	var users []user
	r = e.do("GET", "/api/v1/users?role=user&limit=1", vtk.AccessToken, nil)
	r.ok(t, 200, &users)
	if len(users) != 1 || *r.env.Total != 2 || users[0].ID != other.ID {
		t.Fatalf("viewer list = %+v total %v (want newest first)", users, *r.env.Total)
	}
	e.do("GET", "/api/v1/users?role=root", vtk.AccessToken, nil).fails(t, 400, "validation_failed")
	e.do("GET", "/api/v1/users?limit=0", vtk.AccessToken, nil).fails(t, 400, "validation_failed")
	e.do("DELETE", fmt.Sprintf("/api/v1/teams/%d/members/%d", tm.ID, alice.ID), vtk.AccessToken, nil).fails(t, 403, "forbidden")

	// Removal takes effect at once for reads.
	e.do("DELETE", fmt.Sprintf("/api/v1/teams/%d/members/%d", tm.ID, alice.ID), tk.AccessToken, nil).ok(t, 200, &tm)
	e.do("GET", fmt.Sprintf("/api/v1/teams/%d", tm.ID), atk.AccessToken, nil).fails(t, 404, "not_found")
}

func TestLoginFailuresAndLockout(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"}).fails(t, 401, "invalid_credentials")
	e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@fund.test", "password": "whatever"}).fails(t, 401, "invalid_credentials")
	for i := 2; i <= 5; i++ {
		e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"}).fails(t, 401, "invalid_credentials")
	}
	// The sixth attempt within 15 minutes is refused, even with the right password.
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"})
	r.fails(t, 429, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": strings.ToUpper(adminEmail), "password": adminPass}).fails(t, 429, "rate_limited")
	// Unknown emails are locked out the same way (nothing tells them apart).
	for range 5 {
		e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "ghost@fund.test", "password": "wrong-password"}).fails(t, 401, "invalid_credentials")
	}
	r = e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "ghost@fund.test", "password": "wrong-password"})
	r.fails(t, 429, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 for an unknown email without Retry-After")
	}
	// Once the window has passed, the right password works again.
	e.offset.Store(int64(15*time.Minute + time.Second))
	e.login(adminEmail, adminPass)
}

func TestLockoutUnderConcurrentGuesses(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	var unauthorized atomic.Int32
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"})
			if r.status == 401 {
				unauthorized.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := unauthorized.Load(); n != identity.MaxLoginFailures {
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
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(m, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
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
			e.do("GET", "/api/v1/auth/me", c.token, nil).fails(t, 401, c.code)
		})
	}
	e.do("GET", "/api/v1/auth/me", "", nil).fails(t, 401, "unauthenticated")
	// The genuine token still works, so the cases above fail for their own reason.
	e.do("GET", "/api/v1/auth/me", tk.AccessToken, nil).ok(t, 200, nil)
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t)
	first := e.login(adminEmail, adminPass)
	var second tokens
	e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}).ok(t, 200, &second)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
		t.Fatal("refresh did not rotate")
	}
	e.do("GET", "/api/v1/auth/me", second.AccessToken, nil).ok(t, 200, nil)
	// Re-using the rotated token revokes the whole family: its successor too.
	e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}).fails(t, 401, "refresh_token_reused")
	e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}).fails(t, 401, "invalid_refresh_token")
	// Another session of the same user is untouched.
	other := e.login(adminEmail, adminPass)
	var third tokens
	e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": other.RefreshToken}).ok(t, 200, &third)
	e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "garbage"}).fails(t, 401, "invalid_refresh_token")
	e.do("POST", "/api/v1/auth/refresh", "", map[string]string{}).fails(t, 400, "validation_failed")

	// Logout ends that session.
	e.do("POST", "/api/v1/auth/logout", third.AccessToken, map[string]string{"refresh_token": third.RefreshToken}).ok(t, 200, nil)
	e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": third.RefreshToken}).fails(t, 401, "invalid_refresh_token")

	// Refresh tokens expire.
	fourth := e.login(adminEmail, adminPass)
	e.offset.Store(int64(8 * 24 * time.Hour))
	e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": fourth.RefreshToken}).fails(t, 401, "invalid_refresh_token")
}

func TestConcurrentRefreshRotatesOnce(t *testing.T) {
	e := newEnv(t)
	tk := e.login(adminEmail, adminPass)
	var wg sync.WaitGroup
	var okCount atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tk.RefreshToken}).status == 200 {
				okCount.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := okCount.Load(); n != 1 {
		t.Fatalf("%d concurrent refreshes of one token succeeded, want 1", n)
	}
}

func TestUpdateUser(t *testing.T) {
	e := newEnv(t)
	admin := e.login(adminEmail, adminPass).AccessToken
	carol := e.createUser(admin, "carol@example.com", "user")
	ctk := e.login("carol@example.com", "user-password-123")
	path := fmt.Sprintf("/api/v1/users/%d", carol.ID)

	e.do("PATCH", path, ctk.AccessToken, map[string]string{"password": "new-password-456"}).fails(t, 400, "validation_failed")
	d := e.do("PATCH", path, ctk.AccessToken, map[string]string{"password": "new-password-456", "old_password": "wrong-one-123"}).fails(t, 400, "validation_failed")
	if d.Fields["old_password"] == "" {
		t.Fatalf("fields = %v", d.Fields)
	}
	e.do("PATCH", path, ctk.AccessToken, map[string]string{"password": "short", "old_password": "user-password-123"}).fails(t, 400, "validation_failed")
	e.do("PATCH", path, admin, map[string]string{"password": "new-password-456", "old_password": "user-password-123"}).fails(t, 403, "forbidden")
	e.do("PATCH", path, ctk.AccessToken, map[string]string{"password": "new-password-456", "old_password": "user-password-123"}).ok(t, 200, nil)
	e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": ctk.RefreshToken}).fails(t, 401, "invalid_refresh_token")
	ctk = e.login("carol@example.com", "new-password-456")

	var u user
	e.do("PATCH", path, admin, map[string]any{"username": "Caroline", "role": "viewer"}).ok(t, 200, &u)
	if u.Username != "Caroline" || u.Role != "viewer" || !u.UpdatedAt.After(u.CreatedAt) && !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Fatalf("patched = %+v", u)
	}
	e.do("PATCH", path, admin, map[string]any{}).fails(t, 400, "validation_failed")
	e.do("PATCH", path, admin, map[string]any{"role": "root"}).fails(t, 400, "validation_failed")
	e.do("PATCH", path, admin, map[string]any{"is_active": "no"}).fails(t, 400, "validation_failed")
	e.do("PATCH", "/api/v1/users/999999", admin, map[string]any{"is_active": false}).fails(t, 404, "not_found")

	// Deactivating revokes the refresh tokens and stops logins.
	e.do("PATCH", path, admin, map[string]any{"is_active": false}).ok(t, 200, &u)
	if u.IsActive {
		t.Fatal("still active")
	}
	e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": ctk.RefreshToken}).fails(t, 401, "invalid_refresh_token")
	e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "carol@example.com", "password": "new-password-456"}).fails(t, 403, "account_disabled")
	e.do("GET", "/api/v1/auth/me", ctk.AccessToken, nil).fails(t, 401, "unauthenticated")

	// The last active admin cannot remove itself.
	var me user
	e.do("GET", "/api/v1/auth/me", admin, nil).ok(t, 200, &me)
	e.do("PATCH", fmt.Sprintf("/api/v1/users/%d", me.ID), admin, map[string]any{"role": "user"}).fails(t, 409, "last_admin")
	e.do("PATCH", fmt.Sprintf("/api/v1/users/%d", me.ID), admin, map[string]any{"is_active": false}).fails(t, 409, "last_admin")
}

func TestRequestValidation(t *testing.T) {
	e := newEnv(t)
	admin := e.login(adminEmail, adminPass).AccessToken
	valid := map[string]any{"email": "dan@example.com", "username": "dan", "password": "user-password-123", "role": "user"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for key, val := range valid {
			m[key] = val
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	e.do("POST", "/api/v1/users", admin, with("nickname", "x")).fails(t, 400, "invalid_json")
	e.do("POST", "/api/v1/users", admin, `{"email":"dan@example.com"} {}`).fails(t, 400, "invalid_json")
	e.do("POST", "/api/v1/users", admin, `{"email":`).fails(t, 400, "invalid_json")
	e.do("POST", "/api/v1/users", admin, with("role", 5)).fails(t, 400, "validation_failed")
	for field, v := range map[string]any{"email": "not-an-email", "password": "short-pass", "role": "root", "username": " "} {
		d := e.do("POST", "/api/v1/users", admin, with(field, v)).fails(t, 400, "validation_failed")
		if d.Fields[field] == "" {
			t.Errorf("%s: fields = %v", field, d.Fields)
		}
	}
	big := `{"email":"` + strings.Repeat("a", httpx.MaxBodyBytes) + `"}`
	e.do("POST", "/api/v1/users", admin, big).fails(t, 413, "payload_too_large")
	e.do("POST", "/api/v1/auth/login", "", big).fails(t, 413, "payload_too_large")
	e.do("POST", "/api/v1/auth/login", "", `{"email":"a","password":"b","remember":true}`).fails(t, 400, "invalid_json")
	// Nothing above created a user.
	var users []user
	e.do("GET", "/api/v1/users", admin, nil).ok(t, 200, &users)
	if len(users) != 1 {
		t.Fatalf("%d users after refused requests, want only the admin", len(users))
	}
	e.do("DELETE", "/api/v1/users", admin, nil).fails(t, 405, "method_not_allowed")
	e.do("GET", "/api/v1/nope", admin, nil).fails(t, 404, "not_found")
	e.do("GET", "/api/v1/users/abc", admin, nil).fails(t, 404, "not_found")
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
		r := e.do("GET", p, "", nil)
		var got libauth.JWKS
		if r.status != 200 || json.Unmarshal(r.raw, &got) != nil || len(got.Keys) == 0 || got.Keys[0].Kty != "OKP" {
			t.Fatalf("%s = %d %s", p, r.status, r.raw)
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
