package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fundplatform/platform/devstack/stack"
	libauth "github.com/fundplatform/platform/libs/auth"
)

// TestSecurity attacks one running platform from outside: forged and
// tampered access tokens, a deactivated account, SQL-injection strings in
// every body field, query filter and path id, oversized and deeply nested
// bodies, and path traversal. Each attack goes through the edge and, where
// it matters, straight to each service's own port (a service must not rely
// on the edge).
func TestSecurity(t *testing.T) {
	s, _ := runStack(t, repoRoot(t), nil)
	env := secSetup(t, s.Ready())

	t.Run("JWT", func(t *testing.T) { secTestJWT(t, env) })
	t.Run("DeactivatedUser", func(t *testing.T) { secTestDeactivated(t, env) })
	t.Run("Injection", func(t *testing.T) { secTestInjection(t, env) })
	t.Run("BodyLimits", func(t *testing.T) { secTestBodyLimits(t, env) })
	t.Run("PathTraversal", func(t *testing.T) { secTestTraversal(t, env) })
	t.Run("StrictInputs", func(t *testing.T) { secTestStrictInputs(t, env) })
	t.Run("Access", func(t *testing.T) { accessTests(t, env) })
}

// secTestStrictInputs: inputs that can only be mistakes or attacks are
// refused through the edge with a 400 naming the field, and store nothing:
// a field name in the wrong case, a NAV dated centuries ahead, a reason of
// 200 000 characters, a stats range of more than 366 days.
func secTestStrictInputs(t *testing.T, e *secEnv) {
	withdrawals := e.admin.total(t, "/api/v1/withdrawals")
	for _, c := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"AMOUNT", "POST", "/api/v1/withdrawals", map[string]any{"currency": "USD", "from_type": "user", "owner_id": e.aliceID, "AMOUNT": "0.01"}, "AMOUNT"},
		{"as_of in 2205", "POST", fmt.Sprintf("/api/v1/portfolios/%d/nav", e.pfID),
			map[string]any{"as_of": "2205-01-01T00:00:00Z", "nav": "1"}, "as_of"},
		{"a reason of 200 000 characters", "POST", "/api/v1/reallocations", map[string]any{"currency": "USD", "from_type": "platform",
			"to_type": "user", "to_id": e.aliceID, "amount": "0.01", "reason": strings.Repeat("x", 200_000)}, "reason"},
		{"a range of two years", "GET", "/api/v1/stats/summary?group_by=day&from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", nil, "to"},
	} {
		if r := e.admin.do(t, c.method, c.path, c.body); r.status != 400 || r.errData().Fields[c.field] == "" {
			t.Errorf("%s: %d %s, want 400 naming %s", c.name, r.status, r.raw, c.field)
		}
	}
	if n := e.admin.total(t, "/api/v1/withdrawals"); n != withdrawals {
		t.Errorf("%d withdrawals after the refusals, want %d", n, withdrawals)
	}
}

// --- HTTP ---------------------------------------------------------------

// secHTTP never follows redirects: a redirect is an answer to look at, not
// a hop to take.
var secHTTP = &http.Client{
	Timeout:       60 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// secResp is one answer: the status, the raw body and, when the body is
// the contract's envelope, its parts.
type secResp struct {
	status   int
	header   http.Header
	raw      []byte
	envelope bool
	IsOK     bool            `json:"isOK"`
	Message  string          `json:"message"`
	Data     json.RawMessage `json:"data"`
	Total    *int64          `json:"total"`
}

// secErrData is the data of an error envelope.
type secErrData struct {
	ErrorCode int               `json:"errorCode"`
	Code      string            `json:"code"`
	Fields    map[string]string `json:"fields"`
}

func (r secResp) errData() secErrData {
	var e secErrData
	_ = json.Unmarshal(r.Data, &e)
	return e
}

func (r secResp) String() string {
	b := r.raw
	if len(b) > 300 {
		b = append(b[:300:300], "…"...)
	}
	return fmt.Sprintf("%d %s", r.status, b)
}

var secCodeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// refusal reports what is wrong with r as a refusal with one of statuses
// (any 4xx when none are given): the status, and the envelope with
// isOK false, errorCode = status and a stable snake_case code. want, when
// set, is the code required.
func (r secResp) refusal(want string, statuses ...int) string {
	okStatus := r.status >= 400 && r.status < 500
	if len(statuses) > 0 {
		okStatus = false
		for _, s := range statuses {
			okStatus = okStatus || r.status == s
		}
	}
	if !okStatus {
		w := "a 4xx"
		if len(statuses) > 0 {
			w = fmt.Sprint(statuses)
		}
		return fmt.Sprintf("got %s, want %s", r, w)
	}
	e := r.errData()
	switch {
	case !r.envelope || r.IsOK:
		return fmt.Sprintf("got %s, want the error envelope", r)
	case e.ErrorCode != r.status:
		return fmt.Sprintf("got errorCode %d with status %d (%s)", e.ErrorCode, r.status, r)
	case !secCodeRE.MatchString(e.Code):
		return fmt.Sprintf("got code %q, want a stable snake_case code (%s)", e.Code, r)
	case want != "" && e.Code != want:
		return fmt.Sprintf("got code %q, want %q (%s)", e.Code, want, r)
	}
	return ""
}

// secClient calls one base URL (the edge or a service's own port) as one
// caller.
type secClient struct {
	base  string
	token string
	hc    *http.Client // nil: secHTTP (access_test.go sends from other addresses)
}

func (c secClient) as(token string) secClient { c.token = token; return c }

// do sends a request. body is sent as is when it is a []byte or an
// io.Reader (the latter without a length: chunked), else as JSON. rawPath
// is sent verbatim on the request line (it may hold a query).
func (c secClient) do(t *testing.T, method, rawPath string, body any, headers ...string) secResp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("%s %s: encode body: %v", method, rawPath, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+"/", rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	p, q, _ := strings.Cut(rawPath, "?")
	req.URL.Opaque, req.URL.RawQuery = p, q
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := secHTTP
	if c.hc != nil {
		hc = c.hc
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, c.base, rawPath, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s%s: read body: %v", method, c.base, rawPath, err)
	}
	r := secResp{status: resp.StatusCode, header: resp.Header, raw: raw}
	var probe map[string]json.RawMessage
	if json.Unmarshal(raw, &probe) == nil && probe["isOK"] != nil && probe["data"] != nil {
		r.envelope = json.Unmarshal(raw, &r) == nil
	}
	return r
}

// must sends a request that has to answer status, and decodes its data
// into out (when not nil).
func (c secClient) must(t *testing.T, status int, method, path string, body, out any, headers ...string) secResp {
	t.Helper()
	r := c.do(t, method, path, body, headers...)
	if r.status != status || !r.envelope {
		t.Fatalf("%s %s%s = %s, want %d with the envelope", method, c.base, path, r, status)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("%s %s data: %v (%s)", method, path, err, r)
		}
	}
	return r
}

// total is the total of a list.
func (c secClient) total(t *testing.T, path string) int64 {
	t.Helper()
	r := c.must(t, 200, "GET", path, nil, nil)
	if r.Total == nil {
		t.Fatalf("GET %s: no total (%s)", path, r)
	}
	return *r.Total
}

// field reads one field of the object at path as a string.
func (c secClient) field(t *testing.T, path, name string) (string, bool) {
	t.Helper()
	var m map[string]any
	c.must(t, 200, "GET", path, nil, &m)
	s, ok := m[name].(string)
	return s, ok
}

// --- the platform under attack ------------------------------------------

type secEnv struct {
	ready    stack.Ready
	edge     secClient            // the edge, no token
	services map[string]secClient // each service's own port, no token
	admin    secClient            // the edge, as the admin
	alice    secClient            // the edge, as a user
	adminTok string
	aliceTok string
	adminID  int64
	aliceID  int64
	teamID   int64
	pfID     int64
	patchID  int64 // a user whose username the injection cases change
	key      ed25519.PrivateKey
	kid      string
	seq      int
}

func (e *secEnv) next() int { e.seq++; return e.seq }

// secLogin logs in through the edge and returns the token pair.
func secLogin(t *testing.T, edge secClient, email, password string) (access, refresh string) {
	t.Helper()
	var tk struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	edge.must(t, 200, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &tk)
	return tk.AccessToken, tk.RefreshToken
}

type secID struct {
	ID int64 `json:"id"`
}

// secSetup creates what the attacks need: a user alice in a team, her
// portfolio with a ratio, one allocated profit (so alice's, the team's and
// the platform's accounts have funds to withdraw and reallocate), and the
// auth service's signing key.
func secSetup(t *testing.T, ready stack.Ready) *secEnv {
	t.Helper()
	if len(ready.Skipped) != 0 {
		t.Fatalf("services skipped: %v", ready.Skipped)
	}
	e := &secEnv{ready: ready, edge: secClient{base: ready.EdgeURL}, services: map[string]secClient{}}
	for _, svc := range ready.Services {
		e.services[svc.Name] = secClient{base: svc.URL}
	}
	e.adminTok, _ = secLogin(t, e.edge, ready.AdminEmail, ready.AdminPassword)
	e.admin = e.edge.as(e.adminTok)
	var me secID
	e.admin.must(t, 200, "GET", "/api/v1/auth/me", nil, &me)
	e.adminID = me.ID

	var team, alice, patch, pf secID
	e.admin.must(t, 201, "POST", "/api/v1/teams", map[string]string{"name": "Security desk"}, &team)
	e.admin.must(t, 201, "POST", "/api/v1/users", map[string]string{"email": "sec-alice@example.com", "username": "alice",
		"password": "alice-password-123", "role": "user"}, &alice)
	e.admin.must(t, 201, "POST", "/api/v1/users", map[string]string{"email": "sec-patch@example.com", "username": "patch-me",
		"password": "patch-password-123", "role": "user"}, &patch)
	e.admin.must(t, 200, "PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", team.ID, alice.ID), nil, nil)
	e.admin.must(t, 201, "POST", "/api/v1/portfolios", map[string]any{"name": "Security fund", "user_id": alice.ID,
		"team_id": team.ID, "currency": "USD"}, &pf)
	e.teamID, e.aliceID, e.patchID, e.pfID = team.ID, alice.ID, patch.ID, pf.ID
	e.aliceTok, _ = secLogin(t, e.edge, "sec-alice@example.com", "alice-password-123")
	e.alice = e.edge.as(e.aliceTok)

	// The profit service learns of the portfolio from its event.
	eventually(t, "the first ratio", func() (bool, string) {
		r := e.admin.do(t, "POST", "/api/v1/profit/profit_allocation_ratios", map[string]any{"portfolio_id": pf.ID,
			"to_team": "0.2000", "to_platform": "0.1000", "to_user": "0.7000"})
		if r.status != 201 && r.status != 404 {
			t.Fatalf("create ratio = %s", r)
		}
		return r.status == 201, r.String()
	})
	e.admin.must(t, 201, "POST", "/api/v1/profit/allocations", map[string]any{"portfolio_id": pf.ID,
		"profit_amount": "1000", "period_end": "2026-01-02T00:00:00Z"}, nil)
	eventually(t, "alice and the team credited", func() (bool, string) {
		var a, tm ownerBalances
		e.admin.must(t, 200, "GET", fmt.Sprintf("/api/v1/balances/user/%d", alice.ID), nil, &a)
		e.admin.must(t, 200, "GET", fmt.Sprintf("/api/v1/balances/team/%d", team.ID), nil, &tm)
		return a.In("USD").Credited.Equal(d("700")) && tm.In("USD").Credited.Equal(d("200")), fmt.Sprintf("alice %+v, team %+v", a, tm)
	})

	pemBytes, err := os.ReadFile(ready.SigningKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("%s holds no PEM block", ready.SigningKeyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var ok bool
	if e.key, ok = k.(ed25519.PrivateKey); !ok {
		t.Fatalf("signing key is %T, want Ed25519", k)
	}
	e.kid = libauth.Thumbprint(e.key.Public().(ed25519.PublicKey))
	// The kid the tokens carry is the one the JWKS publishes.
	var jwks libauth.JWKS
	r := e.edge.do(t, "GET", "/.well-known/jwks.json", nil)
	if r.status != 200 || json.Unmarshal(r.raw, &jwks) != nil {
		t.Fatalf("jwks = %s", r)
	}
	found := false
	for _, k := range jwks.Keys {
		found = found || k.Kid == e.kid
	}
	if !found || secHeader(t, e.adminTok)["kid"] != e.kid {
		t.Fatalf("signing key's kid %q: in the JWKS %v, in the admin's token %v", e.kid, found, secHeader(t, e.adminTok)["kid"])
	}
	return e
}

// --- 1. tokens ----------------------------------------------------------

func secB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// secJWS builds a compact JWS; sign (nil: an empty signature) signs the
// signing input.
func secJWS(header, claims map[string]any, sign func([]byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := secB64(h) + "." + secB64(c)
	sig := ""
	if sign != nil {
		sig = secB64(sign([]byte(in)))
	}
	return in + "." + sig
}

func secHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	var m map[string]any
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("token header %q is not base64url JSON", h)
	}
	return m
}

// secTamper replaces claims of a real token, keeping its header and
// signature.
func secTamper(t *testing.T, tok string, set map[string]any) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err != nil || json.Unmarshal(b, &claims) != nil {
		t.Fatalf("token payload %q is not base64url JSON", parts[1])
	}
	for k, v := range set {
		claims[k] = v
	}
	nb, _ := json.Marshal(claims)
	return parts[0] + "." + secB64(nb) + "." + parts[2]
}

func secJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// secProtected is one protected route of each service.
var secProtected = map[string]string{
	"auth":       "/api/v1/auth/me",
	"portfolio":  "/api/v1/portfolios",
	"profit":     "/api/v1/profit/allocations",
	"withdrawal": "/api/v1/ledger/verify",
	"stats":      "/api/v1/stats/overview",
}

func secTestJWT(t *testing.T, e *secEnv) {
	now := time.Now()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "fund-auth", "aud": []string{"fund-api"}, "sub": fmt.Sprint(e.adminID),
			"role": "admin", "teams": []int64{}, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": secJTI()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	edHeader := map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": e.kid}
	realKey := func(in []byte) []byte { return ed25519.Sign(e.key, in) }
	_, freshKey, _ := ed25519.GenerateKey(rand.Reader)
	freshSign := func(in []byte) []byte { return ed25519.Sign(freshKey, in) }
	freshKid := libauth.Thumbprint(freshKey.Public().(ed25519.PublicKey))

	pub := e.key.Public().(ed25519.PublicKey)
	pkix, _ := x509.MarshalPKIXPublicKey(pub)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	hs := func(key []byte) func([]byte) []byte {
		return func(in []byte) []byte { m := hmac.New(sha256.New, key); m.Write(in); return m.Sum(nil) }
	}
	hsHeader := map[string]any{"alg": "HS256", "typ": "JWT", "kid": e.kid}
	parts := strings.Split(e.adminTok, ".")

	cases := []struct {
		name  string
		token string
		want  string // the code of the 401; "" means the token must be accepted
	}{
		{"control: the admin's issued token", e.adminTok, ""},
		{"control: forged with the real key", secJWS(edHeader, claims(nil), realKey), ""},
		{"alg none", secJWS(map[string]any{"alg": "none", "typ": "JWT"}, claims(nil), nil), "unauthenticated"},
		{"alg none with the real kid", secJWS(map[string]any{"alg": "none", "typ": "JWT", "kid": e.kid}, claims(nil), nil), "unauthenticated"},
		{"alg None keeping the real signature", secJWS(map[string]any{"alg": "None", "kid": e.kid}, claims(nil), realKey), "unauthenticated"},
		{"HS256 with the raw public key", secJWS(hsHeader, claims(nil), hs(pub)), "unauthenticated"},
		{"HS256 with the PEM public key", secJWS(hsHeader, claims(nil), hs(pubPEM)), "unauthenticated"},
		{"HS256 with the JWK x", secJWS(hsHeader, claims(nil), hs([]byte(secB64(pub)))), "unauthenticated"},
		{"RS256 header on an EdDSA signature", secJWS(map[string]any{"alg": "RS256", "kid": e.kid}, claims(nil), realKey), "unauthenticated"},
		{"expired", secJWS(edHeader, claims(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}), realKey), "token_expired"},
		{"without exp", secJWS(edHeader, claims(func(c map[string]any) { delete(c, "exp") }), realKey), "unauthenticated"},
		{"not valid yet (nbf)", secJWS(edHeader, claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), realKey), "unauthenticated"},
		{"issued in the future", secJWS(edHeader, claims(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), realKey), "unauthenticated"},
		{"wrong aud", secJWS(edHeader, claims(func(c map[string]any) { c["aud"] = []string{"other-api"} }), realKey), "unauthenticated"},
		{"without aud", secJWS(edHeader, claims(func(c map[string]any) { delete(c, "aud") }), realKey), "unauthenticated"},
		{"wrong iss", secJWS(edHeader, claims(func(c map[string]any) { c["iss"] = "evil-auth" }), realKey), "unauthenticated"},
		{"without iss", secJWS(edHeader, claims(func(c map[string]any) { delete(c, "iss") }), realKey), "unauthenticated"},
		{"unknown role", secJWS(edHeader, claims(func(c map[string]any) { c["role"] = "superuser" }), realKey), "unauthenticated"},
		{"subject not a user id", secJWS(edHeader, claims(func(c map[string]any) { c["sub"] = "admin" }), realKey), "unauthenticated"},
		{"without jti", secJWS(edHeader, claims(func(c map[string]any) { delete(c, "jti") }), realKey), "unauthenticated"},
		{"unknown kid, fresh key", secJWS(map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": freshKid}, claims(nil), freshSign), "unauthenticated"},
		{"real kid, fresh key", secJWS(edHeader, claims(nil), freshSign), "unauthenticated"},
		{"without kid", secJWS(map[string]any{"alg": "EdDSA", "typ": "JWT"}, claims(nil), realKey), "unauthenticated"},
		{"tampered: user's token made admin", secTamper(t, e.aliceTok, map[string]any{"role": "admin"}), "unauthenticated"},
		{"tampered: user's token for the admin", secTamper(t, e.aliceTok, map[string]any{"sub": fmt.Sprint(e.adminID)}), "unauthenticated"},
		{"tampered: expiry pushed out", secTamper(t, e.adminTok, map[string]any{"exp": now.Add(1000 * time.Hour).Unix()}), "unauthenticated"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", "unauthenticated"},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(e.aliceTok, ".")[2], "unauthenticated"},
		{"garbage", "garbage", "unauthenticated"},
		{"three garbage parts", "a.b.c", "unauthenticated"},
		{"four parts", e.adminTok + ".x", "unauthenticated"},
		{"empty JSON parts", secB64([]byte("{}")) + "." + secB64([]byte("{}")) + ".", "unauthenticated"},
	}

	type target struct {
		name string
		c    secClient
		path string
	}
	var targets []target
	for _, name := range []string{"auth", "portfolio", "profit", "withdrawal", "stats"} {
		svc, ok := e.services[name]
		if !ok {
			t.Fatalf("service %s is not running", name)
		}
		targets = append(targets, target{"edge " + name, e.edge, secProtected[name]}, target{name + " directly", svc, secProtected[name]})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, tg := range targets {
				r := tg.c.as(tc.token).do(t, "GET", tg.path, nil)
				if tc.want == "" {
					if r.status != 200 || !r.envelope || !r.IsOK {
						t.Errorf("%s: GET %s%s = %s, want 200", tg.name, tg.c.base, tg.path, r)
					}
					continue
				}
				if msg := r.refusal(tc.want, 401); msg != "" {
					t.Errorf("%s: GET %s%s with %q: %s", tg.name, tg.c.base, tg.path, tc.token, msg)
				}
			}
		})
	}

	// Credentials that are not a bearer token at all.
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic " + secB64([]byte("admin:x")), "Token " + e.adminTok, e.adminTok} {
		for _, tg := range targets {
			r := tg.c.do(t, "GET", tg.path, nil, "Authorization", h)
			if msg := r.refusal("unauthenticated", 401); msg != "" {
				t.Errorf("%s: GET %s with Authorization %q: %s", tg.name, tg.path, h, msg)
			}
		}
	}
}

// secTestDeactivated: an account the admin deactivates loses its session.
// Its refresh token is revoked and it cannot log in again. Its access
// token is refused at /auth/me (which reads the account) and on every
// write (access_test.go), but reads verify only the token, so it keeps
// working there until it expires (ACCESS_TOKEN_TTL, 15 min by default).
func secTestDeactivated(t *testing.T, e *secEnv) {
	var bob secID
	e.admin.must(t, 201, "POST", "/api/v1/users", map[string]string{"email": "sec-bob@example.com", "username": "bob",
		"password": "bob-password-1234", "role": "user"}, &bob)
	access, refresh := secLogin(t, e.edge, "sec-bob@example.com", "bob-password-1234")
	bobEdge := e.edge.as(access)
	bobEdge.must(t, 200, "GET", "/api/v1/auth/me", nil, nil)

	var patched struct {
		IsActive bool `json:"is_active"`
	}
	e.admin.must(t, 200, "PATCH", fmt.Sprintf("/api/v1/users/%d", bob.ID), map[string]any{"is_active": false}, &patched)
	if patched.IsActive {
		t.Fatalf("PATCH is_active false answered is_active true")
	}

	r := e.edge.do(t, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": refresh})
	if msg := r.refusal("invalid_refresh_token", 401); msg != "" {
		t.Errorf("POST /api/v1/auth/refresh for a deactivated user: %s", msg)
	}
	r = e.edge.do(t, "POST", "/api/v1/auth/login", map[string]string{"email": "sec-bob@example.com", "password": "bob-password-1234"})
	if msg := r.refusal("account_disabled", 403); msg != "" {
		t.Errorf("POST /api/v1/auth/login for a deactivated user: %s", msg)
	}
	for _, c := range []secClient{e.edge, e.services["auth"]} {
		r = c.as(access).do(t, "GET", "/api/v1/auth/me", nil)
		if msg := r.refusal("unauthenticated", 401); msg != "" {
			t.Errorf("GET %s/api/v1/auth/me with a deactivated user's access token: %s", c.base, msg)
		}
	}
	for _, path := range []string{"/api/v1/portfolios", fmt.Sprintf("/api/v1/users/%d", bob.ID), fmt.Sprintf("/api/v1/balances/user/%d", bob.ID)} {
		if r := bobEdge.do(t, "GET", path, nil); r.status != 200 {
			t.Errorf("GET %s with a deactivated user's unexpired access token = %s, want 200 (reads take tokens as they are until exp)", path, r)
		}
	}
}

// --- 2. injection -------------------------------------------------------

// secPayloads are strings that break naively built SQL, or the database's
// text handling.
var secPayloads = []struct{ name, v string }{
	{"drop", "'; DROP TABLE users;--"},
	{"or", "' OR '1'='1"},
	{"sleep", "1; SELECT pg_sleep(5)"},
	{"nul", "a\x00b"},
	{"dollar", "$$; DROP TABLE teams; $$"},
	{"unicode", "Zürich – 東京 🚀 \u202eevil\u202c 𝔘"},
	{"backslash", `\'; DELETE FROM accounts; --\`},
	{"like", `%_%' --`},
}

// secQueryPayloads add what only a URL can carry: bytes that are not UTF-8.
var secQueryPayloads = append(append([]struct{ name, v string }{}, secPayloads...),
	struct{ name, v string }{"latin1", "\xff\xfe'"})

// secBodyCase is one string field of one request body. On a 2xx, stored
// reads back what was stored and what had to be (byte for byte); without
// stored, the request must be refused.
type secBodyCase struct {
	name   string
	method string
	path   func(t *testing.T) string
	body   func(p string) any
	stored func(t *testing.T, r secResp, p string) (got, want string)
	count  string // the list whose total grows on a 2xx
}

func secTestInjection(t *testing.T, e *secEnv) {
	admin := e.admin
	lists := map[string]string{
		"users": "/api/v1/users", "teams": "/api/v1/teams", "portfolios": "/api/v1/portfolios",
		"withdrawals": "/api/v1/withdrawals", "reallocations": "/api/v1/reallocations",
	}
	before := map[string]int64{}
	for k, p := range lists {
		before[k] = admin.total(t, p)
	}
	created := map[string]int64{}

	fixed := func(p string) func(*testing.T) string { return func(*testing.T) string { return p } }
	idOf := func(t *testing.T, r secResp) int64 {
		var id secID
		if err := json.Unmarshal(r.Data, &id); err != nil || id.ID <= 0 {
			t.Fatalf("no id in %s", r)
		}
		return id.ID
	}
	readBack := func(path, field string) func(*testing.T, secResp, string) (string, string) {
		return func(t *testing.T, r secResp, p string) (string, string) {
			got, _ := admin.field(t, fmt.Sprintf(path, idOf(t, r)), field)
			return got, p
		}
	}
	password := "injection-pass-1234"
	pfPath := fmt.Sprintf("/api/v1/portfolios/%d", e.pfID)
	patchUser := fmt.Sprintf("/api/v1/users/%d", e.patchID)
	var lastWithdrawal int64
	var lastEmail string
	pendingWithdrawal := func(t *testing.T) string {
		var w secID
		admin.must(t, 201, "POST", "/api/v1/withdrawals", map[string]any{"currency": "USD", "from_type": "user", "owner_id": e.aliceID, "amount": "0.01"}, &w)
		created["withdrawals"]++
		lastWithdrawal = w.ID
		return fmt.Sprintf("/api/v1/withdrawals/%d/fail", w.ID)
	}
	asOf := "2026-02-01T00:00:00Z"

	cases := []secBodyCase{
		{name: "POST /users email", method: "POST", path: fixed("/api/v1/users"), count: "users",
			body: func(p string) any {
				return map[string]string{"email": p, "username": "inj", "password": password, "role": "user"}
			},
			stored: readBack("/api/v1/users/%d", "email")},
		{name: "POST /users email (local part)", method: "POST", path: fixed("/api/v1/users"), count: "users",
			body: func(p string) any {
				lastEmail = fmt.Sprintf("x%d%s@example.com", e.next(), secAtext(p))
				return map[string]string{"email": lastEmail, "username": "inj", "password": password, "role": "user"}
			},
			// Emails are stored lower-cased (docs/api.md#auth-service).
			stored: func(t *testing.T, r secResp, _ string) (string, string) {
				got, _ := admin.field(t, fmt.Sprintf("/api/v1/users/%d", idOf(t, r)), "email")
				return got, strings.ToLower(lastEmail)
			}},
		{name: "POST /users username", method: "POST", path: fixed("/api/v1/users"), count: "users",
			body: func(p string) any {
				return map[string]string{"email": fmt.Sprintf("inj-user-%d@example.com", e.next()), "username": p, "password": password, "role": "user"}
			},
			stored: readBack("/api/v1/users/%d", "username")},
		{name: "POST /users password", method: "POST", path: fixed("/api/v1/users"), count: "users",
			body: func(p string) any {
				return map[string]string{"email": fmt.Sprintf("inj-pw-%d@example.com", e.next()), "username": "inj", "password": p + "-Pad-123456", "role": "user"}
			},
			stored: func(t *testing.T, r secResp, p string) (string, string) {
				// The password was stored as sent if it logs in.
				email, _ := admin.field(t, fmt.Sprintf("/api/v1/users/%d", idOf(t, r)), "email")
				lr := e.edge.do(t, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": p + "-Pad-123456"})
				return fmt.Sprint(lr.status), "200"
			}},
		{name: "POST /users role", method: "POST", path: fixed("/api/v1/users"), count: "users",
			body: func(p string) any {
				return map[string]string{"email": fmt.Sprintf("inj-role-%d@example.com", e.next()), "username": "inj", "password": password, "role": p}
			}},
		{name: "PATCH /users/{id} username", method: "PATCH", path: fixed(patchUser),
			body:   func(p string) any { return map[string]string{"username": p} },
			stored: readBack("/api/v1/users/%d", "username")},
		{name: "PATCH /users/{id} role", method: "PATCH", path: fixed(patchUser),
			body: func(p string) any { return map[string]string{"role": p} }},
		{name: "POST /auth/login email", method: "POST", path: fixed("/api/v1/auth/login"),
			body: func(p string) any { return map[string]string{"email": p, "password": password} }},
		{name: "POST /auth/login password", method: "POST", path: fixed("/api/v1/auth/login"),
			body: func(p string) any {
				return map[string]string{"email": fmt.Sprintf("inj-nobody-%d@example.com", e.next()), "password": p}
			}},
		{name: "POST /auth/refresh refresh_token", method: "POST", path: fixed("/api/v1/auth/refresh"),
			body: func(p string) any { return map[string]string{"refresh_token": p} }},
		{name: "POST /auth/logout refresh_token", method: "POST", path: fixed("/api/v1/auth/logout"),
			body: func(p string) any { return map[string]string{"refresh_token": p} },
			// Logging out with a token nobody holds changes nothing.
			stored: func(*testing.T, secResp, string) (string, string) { return "", "" }},
		{name: "POST /teams name", method: "POST", path: fixed("/api/v1/teams"), count: "teams",
			body:   func(p string) any { return map[string]string{"name": p, "description": "injection"} },
			stored: readBack("/api/v1/teams/%d", "name")},
		{name: "POST /teams description", method: "POST", path: fixed("/api/v1/teams"), count: "teams",
			body: func(p string) any {
				return map[string]string{"name": fmt.Sprintf("inj-team-%d", e.next()), "description": p}
			},
			stored: readBack("/api/v1/teams/%d", "description")},
		{name: "POST /portfolios name", method: "POST", path: fixed("/api/v1/portfolios"), count: "portfolios",
			body: func(p string) any {
				return map[string]any{"name": p, "description": "injection", "user_id": e.aliceID, "team_id": e.teamID, "currency": "EUR"}
			},
			stored: readBack("/api/v1/portfolios/%d", "name")},
		{name: "POST /portfolios description", method: "POST", path: fixed("/api/v1/portfolios"), count: "portfolios",
			body: func(p string) any {
				return map[string]any{"name": "inj", "description": p, "user_id": e.aliceID, "team_id": e.teamID}
			},
			stored: readBack("/api/v1/portfolios/%d", "description")},
		{name: "POST /portfolios currency", method: "POST", path: fixed("/api/v1/portfolios"), count: "portfolios",
			body: func(p string) any {
				return map[string]any{"name": "inj", "user_id": e.aliceID, "team_id": e.teamID, "currency": p}
			}},
		{name: "POST /portfolios user_id (string)", method: "POST", path: fixed("/api/v1/portfolios"), count: "portfolios",
			body: func(p string) any { return map[string]any{"name": "inj", "user_id": p, "team_id": e.teamID} }},
		{name: "PATCH /portfolios/{id} name", method: "PATCH", path: fixed(pfPath),
			body:   func(p string) any { return map[string]string{"name": p} },
			stored: readBack("/api/v1/portfolios/%d", "name")},
		{name: "PATCH /portfolios/{id} description", method: "PATCH", path: fixed(pfPath),
			body:   func(p string) any { return map[string]string{"description": p} },
			stored: readBack("/api/v1/portfolios/%d", "description")},
		{name: "POST /portfolios/{id}/nav as_of", method: "POST", path: fixed(pfPath + "/nav"),
			body: func(p string) any { return map[string]string{"as_of": p, "nav": "1"} }},
		{name: "POST /portfolios/{id}/nav nav", method: "POST", path: fixed(pfPath + "/nav"),
			body: func(p string) any { return map[string]string{"as_of": asOf, "nav": p} }},
		{name: "POST /portfolios/{id}/nav net_flow", method: "POST", path: fixed(pfPath + "/nav"),
			body: func(p string) any { return map[string]string{"as_of": asOf, "nav": "1", "net_flow": p} }},
		{name: "POST /portfolios/{id}/nav units", method: "POST", path: fixed(pfPath + "/nav"),
			body: func(p string) any { return map[string]string{"as_of": asOf, "nav": "1", "units": p} }},
		{name: "POST /profit/profit_allocation_ratios to_team", method: "POST", path: fixed("/api/v1/profit/profit_allocation_ratios"),
			body: func(p string) any {
				return map[string]any{"portfolio_id": e.pfID, "to_team": p, "to_platform": "0.1", "to_user": "0.7"}
			}},
		{name: "POST /profit/profit_allocation_ratios portfolio_id (string)", method: "POST", path: fixed("/api/v1/profit/profit_allocation_ratios"),
			body: func(p string) any {
				return map[string]any{"portfolio_id": p, "to_team": "0.2", "to_platform": "0.1", "to_user": "0.7"}
			}},
		{name: "POST /profit/allocations profit_amount", method: "POST", path: fixed("/api/v1/profit/allocations"),
			body: func(p string) any {
				return map[string]any{"portfolio_id": e.pfID, "profit_amount": p, "period_end": asOf}
			}},
		{name: "POST /profit/allocations period_end", method: "POST", path: fixed("/api/v1/profit/allocations"),
			body: func(p string) any {
				return map[string]any{"portfolio_id": e.pfID, "profit_amount": "1", "period_end": p}
			}},
		{name: "POST /withdrawals from_type", method: "POST", path: fixed("/api/v1/withdrawals"), count: "withdrawals",
			body: func(p string) any {
				return map[string]any{"currency": "USD", "from_type": p, "owner_id": e.aliceID, "amount": "0.01"}
			}},
		{name: "POST /withdrawals amount", method: "POST", path: fixed("/api/v1/withdrawals"), count: "withdrawals",
			body: func(p string) any {
				return map[string]any{"currency": "USD", "from_type": "user", "owner_id": e.aliceID, "amount": p}
			}},
		{name: "POST /withdrawals owner_id (string)", method: "POST", path: fixed("/api/v1/withdrawals"), count: "withdrawals",
			body: func(p string) any {
				return map[string]any{"currency": "USD", "from_type": "user", "owner_id": p, "amount": "0.01"}
			}},
		{name: "POST /withdrawals/{id}/fail reason", method: "POST", path: pendingWithdrawal,
			body: func(p string) any { return map[string]string{"reason": p} },
			stored: func(t *testing.T, _ secResp, p string) (string, string) {
				got, _ := admin.field(t, fmt.Sprintf("/api/v1/withdrawals/%d", lastWithdrawal), "reason")
				return got, p
			}},
		{name: "POST /reallocations reason", method: "POST", path: fixed("/api/v1/reallocations"), count: "reallocations",
			body: func(p string) any {
				return map[string]any{"currency": "USD", "from_type": "user", "from_id": e.aliceID, "to_type": "team", "to_id": e.teamID, "amount": "0.01", "reason": p}
			},
			stored: func(t *testing.T, r secResp, p string) (string, string) {
				id := idOf(t, r)
				var all []struct {
					ID     int64  `json:"id"`
					Reason string `json:"reason"`
				}
				admin.must(t, 200, "GET", "/api/v1/reallocations?limit=1000", nil, &all)
				for _, ra := range all {
					if ra.ID == id {
						return ra.Reason, p
					}
				}
				return fmt.Sprintf("<reallocation %d not listed>", id), p
			}},
		{name: "POST /reallocations from_type", method: "POST", path: fixed("/api/v1/reallocations"), count: "reallocations",
			body: func(p string) any {
				return map[string]any{"currency": "USD", "from_type": p, "from_id": e.aliceID, "to_type": "team", "to_id": e.teamID, "amount": "0.01", "reason": "x"}
			}},
		{name: "POST /reallocations to_type", method: "POST", path: fixed("/api/v1/reallocations"), count: "reallocations",
			body: func(p string) any {
				return map[string]any{"currency": "USD", "from_type": "user", "from_id": e.aliceID, "to_type": p, "to_id": e.teamID, "amount": "0.01", "reason": "x"}
			}},
	}
	t.Run("body", func(t *testing.T) {
		for _, tc := range cases {
			for _, p := range secPayloads {
				path := tc.path(t)
				body := tc.body(p.v)
				r := admin.do(t, tc.method, path, body)
				what := fmt.Sprintf("%s [%s]: %s %s %s", tc.name, p.name, tc.method, path, secJSON(body))
				switch {
				case r.status >= 200 && r.status < 300:
					if tc.count != "" {
						created[tc.count]++
					}
					if tc.stored == nil {
						t.Errorf("%s = %s, want a 4xx refusal", what, r)
						continue
					}
					if got, want := tc.stored(t, r, p.v); got != want {
						t.Errorf("%s: stored %q, want %q byte for byte", what, got, want)
					}
				default:
					if msg := r.refusal(""); msg != "" {
						t.Errorf("%s: %s", what, msg)
					}
				}
			}
		}
	})

	// An Idempotency-Key is a stored string too: printable ASCII ones are
	// kept (a repeat replays), anything else is refused.
	t.Run("idempotency key", func(t *testing.T) {
		for _, p := range secPayloads {
			if strings.ContainsAny(p.v, "\x00") {
				continue // no HTTP client sends a NUL in a header
			}
			body := map[string]any{"currency": "USD", "from_type": "user", "owner_id": e.aliceID, "amount": "0.01"}
			r := admin.do(t, "POST", "/api/v1/withdrawals", body, "Idempotency-Key", p.v)
			what := fmt.Sprintf("POST /api/v1/withdrawals with Idempotency-Key %q", p.v)
			if r.status == 201 {
				created["withdrawals"]++
				again := admin.do(t, "POST", "/api/v1/withdrawals", body, "Idempotency-Key", p.v)
				if again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Data, r.Data) {
					t.Errorf("%s, repeated = %s (replayed %q), want the first answer replayed", what, again, again.header.Get("Idempotent-Replayed"))
				}
				continue
			}
			if msg := r.refusal(""); msg != "" {
				t.Errorf("%s: %s", what, msg)
			}
		}
	})

	t.Run("query", func(t *testing.T) {
		pfNav := pfPath + "/nav"
		type q struct {
			path, param string
			extra       string // other query parameters
			matchOnly   bool   // an exact-match filter: a 200 must match nothing
		}
		queries := []q{
			{path: "/api/v1/users", param: "role"}, {path: "/api/v1/users", param: "is_active"},
			{path: "/api/v1/users", param: "limit"}, {path: "/api/v1/users", param: "offset"},
			{path: "/api/v1/teams", param: "limit"}, {path: "/api/v1/teams", param: "offset"},
			{path: "/api/v1/portfolios", param: "user_id"}, {path: "/api/v1/portfolios", param: "team_id"},
			{path: "/api/v1/portfolios", param: "limit"}, {path: "/api/v1/portfolios", param: "offset"},
			{path: pfNav, param: "from"}, {path: pfNav, param: "to"}, {path: pfNav, param: "limit"},
			{path: "/api/v1/profit/profit_allocation_ratios", param: "portfolio_id"},
			{path: "/api/v1/profit/profit_allocation_ratios", param: "limit"},
			{path: "/api/v1/profit/profit_allocation_ratios/current", param: "portfolio_id"},
			{path: "/api/v1/profit/allocations", param: "portfolio_id"}, {path: "/api/v1/profit/allocations", param: "from"},
			{path: "/api/v1/profit/allocations", param: "to"}, {path: "/api/v1/profit/allocations", param: "offset"},
			{path: "/api/v1/balances", param: "owner_type"}, {path: "/api/v1/balances", param: "limit"},
			{path: fmt.Sprintf("/api/v1/balances/user/%d", e.aliceID), param: "at"},
			{path: "/api/v1/withdrawals", param: "status"}, {path: "/api/v1/withdrawals", param: "from_type"},
			{path: "/api/v1/withdrawals", param: "owner_id"}, {path: "/api/v1/withdrawals", param: "from"},
			{path: "/api/v1/withdrawals", param: "to"},
			{path: "/api/v1/reallocations", param: "from_type"}, {path: "/api/v1/reallocations", param: "to_type"},
			{path: "/api/v1/reallocations", param: "from"}, {path: "/api/v1/reallocations", param: "to"},
			{path: "/api/v1/ledger/entries", param: "account", matchOnly: true},
			{path: "/api/v1/ledger/entries", param: "from"}, {path: "/api/v1/ledger/entries", param: "to"},
			{path: "/api/v1/ledger/entries", param: "limit"},
			{path: "/api/v1/stats/acc_profit", param: "limit"}, {path: "/api/v1/stats/acc_profit", param: "offset"},
			{path: "/api/v1/stats/hourly", param: "owner_type"},
			{path: "/api/v1/stats/hourly", param: "owner_id", extra: "owner_type=user"},
			{path: "/api/v1/stats/hourly", param: "from", extra: "owner_type=platform"},
			{path: "/api/v1/stats/hourly", param: "to", extra: "owner_type=platform"},
			{path: "/api/v1/stats/summary", param: "group_by"},
			{path: "/api/v1/stats/summary", param: "from", extra: "group_by=day"},
			{path: "/api/v1/stats/summary", param: "to", extra: "group_by=day"},
		}
		for _, qc := range queries {
			for _, p := range secQueryPayloads {
				v, _ := url.ParseQuery(qc.extra)
				v.Set(qc.param, p.v)
				path := qc.path + "?" + v.Encode()
				r := admin.do(t, "GET", path, nil)
				what := fmt.Sprintf("GET %s [%s %s=%q]", path, p.name, qc.param, p.v)
				if r.status == 200 && qc.matchOnly {
					if r.Total == nil || *r.Total != 0 {
						t.Errorf("%s = %s, want nothing matched (or a 4xx)", what, r)
					}
					continue
				}
				if msg := r.refusal(""); msg != "" {
					t.Errorf("%s: %s", what, msg)
				}
			}
		}
	})

	t.Run("path id", func(t *testing.T) {
		templates := []struct{ method, path string }{
			{"GET", "/api/v1/users/%s"}, {"PATCH", "/api/v1/users/%s"}, {"GET", "/api/v1/teams/%s"},
			{"PUT", "/api/v1/teams/%s/members/1"}, {"DELETE", fmt.Sprintf("/api/v1/teams/%d/members/%%s", e.teamID)},
			{"GET", "/api/v1/portfolios/%s"}, {"PATCH", "/api/v1/portfolios/%s"}, {"GET", "/api/v1/portfolios/%s/nav"},
			{"GET", "/api/v1/profit/allocations/%s"}, {"GET", "/api/v1/withdrawals/%s"},
			{"POST", "/api/v1/withdrawals/%s/complete"}, {"POST", "/api/v1/withdrawals/%s/cancel"},
			{"GET", "/api/v1/balances/user/%s"}, {"GET", "/api/v1/balances/%s/1"}, {"GET", "/api/v1/stats/acc_profit/%s"},
		}
		for _, tp := range templates {
			for _, p := range secQueryPayloads {
				path := fmt.Sprintf(tp.path, url.PathEscape(p.v))
				var body any
				if tp.method == "PATCH" {
					body = map[string]string{"name": "x", "username": "x"}
				}
				r := admin.do(t, tp.method, path, body)
				if msg := r.refusal("", 400, 404); msg != "" {
					t.Errorf("%s %s [%s]: %s", tp.method, path, p.name, msg)
				}
			}
		}
	})

	// Nothing was executed: every table answers, with exactly the rows the
	// accepted requests added, and the ledger's hash chains still verify.
	for k, p := range lists {
		if got, want := admin.total(t, p), before[k]+created[k]; got != want {
			t.Errorf("GET %s total = %d, want %d (%d before, %d created)", p, got, want, before[k], created[k])
		}
	}
	var verify struct {
		OK bool `json:"ok"`
	}
	admin.must(t, 200, "GET", "/api/v1/ledger/verify", nil, &verify)
	if !verify.OK {
		t.Error("ledger hash chains do not verify after the injection attempts")
	}
	admin.must(t, 201, "POST", "/api/v1/teams", map[string]string{"name": "after injection"}, nil)
	admin.must(t, 200, "GET", "/api/v1/stats/overview", nil, nil)
}

// secAtext keeps the characters of p that an email's local part may hold
// unquoted (RFC 5322 atext), so that quotes and SQL keywords reach the
// store inside a valid address.
func secAtext(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func secJSON(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		b = append(b[:200:200], "…"...)
	}
	return string(b)
}

// --- 3. body limits -----------------------------------------------------

func secTestBodyLimits(t *testing.T, e *secEnv) {
	over := []byte(`{"name":"` + strings.Repeat("a", 1<<20) + `"}`)
	nest := func(open, close string, n int) []byte {
		return []byte(`{"name":` + strings.Repeat(open, n) + "1" + strings.Repeat(close, n) + `}`)
	}
	deepArrays := nest("[", "]", 100000)
	deepObjects := nest(`{"a":`, "}", 100000)
	topArrays := []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000))

	type target struct {
		name string
		c    secClient
		path string
		hdr  []string
	}
	svc := func(name string) secClient { return e.services[name].as(e.adminTok) }
	targets := []target{
		{"edge", e.admin, "/api/v1/teams", nil},
		{"auth directly", svc("auth"), "/api/v1/teams", nil},
		{"edge, public route", e.edge, "/api/v1/auth/login", nil},
		{"auth directly, public route", e.services["auth"], "/api/v1/auth/login", nil},
		{"portfolio directly", svc("portfolio"), "/api/v1/portfolios", nil},
		{"edge, idempotent route", e.admin, "/api/v1/withdrawals", []string{"Idempotency-Key", "sec-body-limits"}},
		{"withdrawal directly, idempotent route", svc("withdrawal"), "/api/v1/withdrawals", []string{"Idempotency-Key", "sec-body-limits-direct"}},
		{"profit directly", svc("profit"), "/api/v1/profit/allocations", nil},
	}
	bodies := []struct {
		name   string
		body   func() any
		status int
		code   string
	}{
		{"over 1 MiB", func() any { return over }, 413, "payload_too_large"},
		{"over 1 MiB, chunked", func() any { return io.MultiReader(bytes.NewReader(over)) }, 413, "payload_too_large"},
		{"100000 nested arrays", func() any { return deepArrays }, 400, "invalid_json"},
		{"100000 nested objects", func() any { return deepObjects }, 400, "invalid_json"},
		{"100000 nested arrays at the top", func() any { return topArrays }, 400, "invalid_json"},
	}
	for _, tg := range targets {
		for _, b := range bodies {
			hdr := tg.hdr
			if len(hdr) == 2 {
				// A refusal stores nothing under its key; still, one key
				// per body keeps each answer about that body alone.
				hdr = []string{hdr[0], hdr[1] + "-" + strings.ReplaceAll(b.name, " ", "-")}
			}
			r := tg.c.do(t, "POST", tg.path, b.body(), hdr...)
			if msg := r.refusal(b.code, b.status); msg != "" {
				t.Errorf("%s: POST %s%s with a body %s: %s", tg.name, tg.c.base, tg.path, b.name, msg)
			}
		}
	}
	// Every service keeps answering, directly and through the edge.
	if r := e.admin.do(t, "GET", "/api/v1/auth/me", nil); r.status != 200 {
		t.Errorf("edge: GET /api/v1/auth/me after the body attacks = %s", r)
	}
	for name, c := range e.services {
		if r := c.do(t, "GET", "/readyz", nil); r.status != 200 {
			t.Errorf("%s: GET /readyz after the body attacks = %s", name, r)
		}
		if r := c.as(e.adminTok).do(t, "GET", secProtected[name], nil); r.status != 200 {
			t.Errorf("%s: GET %s after the body attacks = %s", name, secProtected[name], r)
		}
	}
}

// --- 4. path traversal --------------------------------------------------

// secTestTraversal sends paths whose id segment tries to climb to another
// route. Escaped separators (%2F, %5C), NULs and junk stay inside the id
// segment: 400 or 404, at the edge and at the service. Dot segments ("..",
// also as %2e%2e) and repeated slashes are resolved by the edge before
// routing, as Envoy's normalize_path and merge_slashes do, so the edge
// answers such a path exactly as its normalised form (same handler, same
// authorisation); a service reached directly redirects it to the
// normalised form (Go's ServeMux) or does not know it: it never serves
// another route's data under the unnormalised path.
func secTestTraversal(t *testing.T, e *secEnv) {
	refused := []struct{ service, path string }{
		{"auth", "/api/v1/users/..%2fteams"},
		{"auth", "/api/v1/users/..%2f..%2fteams"},
		{"auth", "/api/v1/users/..%2F..%2Fteams"},
		{"auth", "/api/v1/users/1%2f..%2f..%2fteams"},
		{"auth", "/api/v1/users/..%5c..%5cteams"},
		{"auth", "/api/v1/users/%252e%252e%252fteams"},
		{"auth", "/api/v1/users/%2e%2e%2fteams"},
		{"auth", "/api/v1/users/-1"},
		{"auth", "/api/v1/users/0"},
		{"auth", "/api/v1/users/99999999999999999999"},
		{"auth", "/api/v1/users/1;DROP"},
		{"auth", "/api/v1/users/1%3BDROP%20TABLE%20users"},
		{"auth", "/api/v1/users/1%00"},
		{"auth", "/api/v1/users/%00"},
		{"auth", "/api/v1/users/1%20OR%201=1"},
		{"auth", "/api/v1/users/1.0"},
		{"auth", "/api/v1/users/0x1"},
		{"auth", "/api/v1/users/1e3"},
		{"auth", "/api/v1/teams/..%2f..%2fusers"},
		{"auth", "/api/v1/teams/1%2fmembers%2f1"},
		{"portfolio", "/api/v1/portfolios/..%2f..%2fusers"},
		{"portfolio", "/api/v1/portfolios/1%2f..%2f..%2f..%2fusers"},
		{"portfolio", "/api/v1/portfolios/1;DROP/nav"},
		{"portfolio", "/api/v1/portfolios/%2e%2e"},
		{"profit", "/api/v1/profit/allocations/..%2f..%2f..%2fusers"},
		{"profit", "/api/v1/profit/allocations/1%00"},
		{"withdrawal", "/api/v1/withdrawals/..%2f..%2fledger%2fentries"},
		{"withdrawal", "/api/v1/balances/user/..%2f..%2f..%2fusers"},
		{"withdrawal", "/api/v1/balances/..%2fusers/1"},
		{"stats", "/api/v1/stats/acc_profit/..%2foverview"},
		{"stats", "/api/v1/stats/acc_profit/99999999999999999999"},
	}
	for _, tc := range refused {
		for _, c := range []struct {
			name string
			c    secClient
		}{{"edge", e.admin}, {tc.service + " directly", e.services[tc.service].as(e.adminTok)}} {
			r := c.c.do(t, "GET", tc.path, nil)
			if msg := r.refusal("", 400, 404); msg != "" {
				t.Errorf("%s: GET %s: %s", c.name, tc.path, msg)
			}
			if len(bytes.TrimSpace(r.Data)) > 0 && bytes.TrimSpace(r.Data)[0] == '[' {
				t.Errorf("%s: GET %s answered a list: %s", c.name, tc.path, r)
			}
		}
	}

	normalised := []struct {
		service, path, canonical string
		token                    string // "" means the admin's
	}{
		{"portfolio", "/api/v1/portfolios/../users", "/api/v1/users", ""},
		{"portfolio", "/api/v1/portfolios/../users", "/api/v1/users", e.aliceTok},
		{"auth", "/api/v1/users/%2e%2e/teams", "/api/v1/teams", e.aliceTok},
		{"auth", "/api/v1/users/%2E%2E/%2e/teams/", "/api/v1/teams/", ""},
		{"auth", fmt.Sprintf("/api/v1/users/1/../%d", e.aliceID), fmt.Sprintf("/api/v1/users/%d", e.aliceID), ""},
		{"auth", fmt.Sprintf("/api/v1/users/%d/../%d", e.aliceID, e.adminID), fmt.Sprintf("/api/v1/users/%d", e.adminID), e.aliceTok},
		{"auth", fmt.Sprintf("/api/v1/users//%d", e.aliceID), fmt.Sprintf("/api/v1/users/%d", e.aliceID), e.aliceTok},
		{"stats", "/api/v1/stats/../ledger/entries", "/api/v1/ledger/entries", e.aliceTok},
		{"withdrawal", "/api/v1/withdrawals/./../ledger/verify", "/api/v1/ledger/verify", e.aliceTok},
	}
	for _, tc := range normalised {
		tok := tc.token
		if tok == "" {
			tok = e.adminTok
		}
		got := e.edge.as(tok).do(t, "GET", tc.path, nil)
		want := e.edge.as(tok).do(t, "GET", tc.canonical, nil)
		if got.status != want.status || !bytes.Equal(got.Data, want.Data) || got.status >= 500 {
			t.Errorf("edge: GET %s = %s, want what GET %s answers: %s", tc.path, got, tc.canonical, want)
		}
		r := e.services[tc.service].as(tok).do(t, "GET", tc.path, nil)
		switch {
		case r.status == http.StatusMovedPermanently || r.status == http.StatusTemporaryRedirect || r.status == http.StatusPermanentRedirect:
			if loc := r.header.Get("Location"); loc != tc.canonical {
				t.Errorf("%s directly: GET %s redirects to %q, want %q", tc.service, tc.path, loc, tc.canonical)
			}
		default:
			if msg := r.refusal("", 400, 404); msg != "" {
				t.Errorf("%s directly: GET %s: %s (want a redirect to %s, 400 or 404)", tc.service, tc.path, msg, tc.canonical)
			}
		}
	}
	// A user is refused the user list however the path is spelt.
	if r := e.alice.do(t, "GET", "/api/v1/portfolios/../users", nil); r.refusal("forbidden", 403) != "" {
		t.Errorf("alice: GET /api/v1/portfolios/../users = %s, want 403 forbidden like /api/v1/users", r)
	}
}
