package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fundplatform/platform/libs/auth/authtest"
	"github.com/fundplatform/platform/libs/httpx"
)

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func claimsFor(exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{"iss": "fund-auth", "aud": "fund-api", "sub": "7", "role": "user",
		"teams": []int64{3}, "iat": time.Now().Unix(), "exp": exp.Unix(), "jti": "j1"}
}

var sign = authtest.Sign

func TestVerify(t *testing.T) {
	pub, priv := newKey(t)
	_, otherPriv := newKey(t)
	kid := Thumbprint(pub)
	v := NewVerifier(StaticKeys{kid: pub}, "fund-auth", "fund-api")
	future := time.Now().Add(time.Hour)

	good := sign(t, jwt.SigningMethodEdDSA, priv, kid, claimsFor(future))
	c, err := v.Verify(context.Background(), good)
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	if c.UserID() != 7 || c.Role != "user" || !c.InTeam(3) || c.InTeam(4) {
		t.Fatalf("claims = %+v", c)
	}

	noExp := claimsFor(future)
	delete(noExp, "exp")
	wrongAud := claimsFor(future)
	wrongAud["aud"] = "other"
	wrongIss := claimsFor(future)
	wrongIss["iss"] = "evil"
	badRole := claimsFor(future)
	badRole["role"] = "root"
	parts := strings.Split(good, ".")
	tamperedClaims := claimsFor(future)
	tamperedClaims["role"] = "admin"
	tamperedPayload, _ := json.Marshal(tamperedClaims)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedPayload) + "." + parts[2]

	// HS256 signed with the public key bytes as the secret: the classic
	// algorithm-confusion attack.
	hsWithPub := sign(t, jwt.SigningMethodHS256, []byte(pub), kid, claimsFor(future))
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, claimsFor(future))

	cases := map[string]struct {
		token string
		code  string
	}{
		"expired":      {sign(t, jwt.SigningMethodEdDSA, priv, kid, claimsFor(time.Now().Add(-time.Minute))), "token_expired"},
		"no exp":       {sign(t, jwt.SigningMethodEdDSA, priv, kid, noExp), "unauthenticated"},
		"tampered":     {tampered, "unauthenticated"},
		"alg none":     {none, "unauthenticated"},
		"hs256 pubkey": {hsWithPub, "unauthenticated"},
		"other key":    {sign(t, jwt.SigningMethodEdDSA, otherPriv, kid, claimsFor(future)), "unauthenticated"},
		"unknown kid":  {sign(t, jwt.SigningMethodEdDSA, priv, "nope", claimsFor(future)), "unauthenticated"},
		"wrong aud":    {sign(t, jwt.SigningMethodEdDSA, priv, kid, wrongAud), "unauthenticated"},
		"wrong iss":    {sign(t, jwt.SigningMethodEdDSA, priv, kid, wrongIss), "unauthenticated"},
		"bad role":     {sign(t, jwt.SigningMethodEdDSA, priv, kid, badRole), "unauthenticated"},
		"garbage":      {"not.a.jwt", "unauthenticated"},
	}
	for name, tc := range cases {
		_, err := v.Verify(context.Background(), tc.token)
		var e *httpx.Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Code != tc.code {
			t.Errorf("%s: err = %v, want 401 %s", name, err, tc.code)
		}
	}
}

// jwksServer serves a key set as the auth service's JWKS endpoint does,
// until the test ends, and counts the requests.
type jwksServer struct {
	URL     string
	served  atomic.Value // JWKS
	fetches atomic.Int32
}

// newJWKSServer starts a jwksServer that publishes keys.
func newJWKSServer(t *testing.T, keys ...ed25519.PublicKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.publish(keys...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		_ = json.NewEncoder(w).Encode(s.served.Load())
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// publish replaces the key set served with keys, in that order.
func (s *jwksServer) publish(keys ...ed25519.PublicKey) {
	set := JWKS{Keys: []JWK{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, PublicJWK(k))
	}
	s.served.Store(set)
}

func TestRemoteKeysPicksUpRotation(t *testing.T) {
	pub1, priv1 := newKey(t)
	pub2, priv2 := newKey(t)
	srv := newJWKSServer(t, pub1)
	keys := NewRemoteKeys(srv.URL)
	keys.MinInterval = 0
	v := NewVerifier(keys, "fund-auth", "fund-api")
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodEdDSA, priv1, Thumbprint(pub1), claimsFor(time.Now().Add(time.Hour)))); err != nil {
		t.Fatalf("key 1: %v", err)
	}
	srv.publish(pub1, pub2)
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodEdDSA, priv2, Thumbprint(pub2), claimsFor(time.Now().Add(time.Hour)))); err != nil {
		t.Fatalf("rotated key 2: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (one initial, one on the unknown kid)", n)
	}
	// Within MinInterval an unknown kid does not trigger another fetch.
	keys.MinInterval = time.Hour
	_, _ = v.Verify(ctx, sign(t, jwt.SigningMethodEdDSA, priv2, "unknown", claimsFor(time.Now().Add(time.Hour))))
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d after unknown kid inside MinInterval, want 2", n)
	}
}

func TestRemoteKeysNewKeyRightAfterRefresh(t *testing.T) {
	pub1, _ := newKey(t)
	pub2, priv2 := newKey(t)
	srv := newJWKSServer(t, pub1)
	keys := NewRemoteKeys(srv.URL)
	keys.MinInterval = time.Hour
	ctx := context.Background()
	if err := keys.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	// The key set was fetched a moment ago, but not because of an unknown
	// kid: the first token of a rotated key is still looked up.
	srv.publish(pub1, pub2)
	v := NewVerifier(keys, "fund-auth", "fund-api")
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodEdDSA, priv2, Thumbprint(pub2), claimsFor(time.Now().Add(time.Hour)))); err != nil {
		t.Fatalf("rotated key right after a fetch: %v", err)
	}
}

func TestRemoteKeysDropsRetiredKey(t *testing.T) {
	pub1, priv1 := newKey(t)
	pub2, _ := newKey(t)
	srv := newJWKSServer(t, pub2, pub1)
	keys := NewRemoteKeys(srv.URL)
	v := NewVerifier(keys, "fund-auth", "fund-api")
	ctx := context.Background()
	tok := sign(t, jwt.SigningMethodEdDSA, priv1, Thumbprint(pub1), claimsFor(time.Now().Add(time.Hour)))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("key 1 while published: %v", err)
	}
	srv.publish(pub2)
	keys.Refresh = 0 // the next lookup refreshes, as it does once Refresh has passed
	if _, err := v.Verify(ctx, tok); err == nil {
		t.Fatal("a token of a key no longer published still verifies after a refresh")
	}
}

func TestRequire(t *testing.T) {
	pub, priv := newKey(t)
	v := NewVerifier(StaticKeys{Thumbprint(pub): pub}, "fund-auth", "fund-api")
	h := v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := FromContext(r.Context())
		_, _ = w.Write([]byte(c.Subject))
	}))
	for _, hdr := range []string{"", "Basic abc", "Bearer ", "Bearer x.y.z"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"code":"unauthenticated"`) {
			t.Errorf("%q: %d %s", hdr, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+sign(t, jwt.SigningMethodEdDSA, priv, Thumbprint(pub), claimsFor(time.Now().Add(time.Hour))))
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "7" {
		t.Fatalf("valid: %d %s", rec.Code, rec.Body)
	}
}

// TestVerifyRemembersOnlyWhatStillHolds: a token verified once is taken
// again without its signature check only while it would still verify: it
// expires on time, and a retired or replaced key refuses it.
func TestVerifyRemembersOnlyWhatStillHolds(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, _ := newKey(t)
	kid := Thumbprint(pub)
	keys := StaticKeys{kid: pub}
	v := NewVerifier(keys, "fund-auth", "fund-api")
	now := time.Now()
	v.now = func() time.Time { return now }
	ctx := context.Background()
	token := sign(t, jwt.SigningMethodEdDSA, priv, kid, claimsFor(now.Add(time.Hour)))

	for i := range 2 {
		c, err := v.Verify(ctx, token)
		if err != nil || c.UserID() != 7 || c.Role != "user" || !c.InTeam(3) {
			t.Fatalf("verify %d: %+v, %v", i, c, err)
		}
		c.Role = "admin" // a caller changing its copy changes nothing remembered
	}
	if len(v.verified) != 1 {
		t.Fatalf("remembered %d tokens, want 1", len(v.verified))
	}
	if c, err := v.Verify(ctx, token); err != nil || c.Role != "user" {
		t.Fatalf("remembered claims changed: %+v, %v", c, err)
	}

	now = now.Add(2 * time.Hour)
	if _, err := v.Verify(ctx, token); !errors.Is(err, httpx.ErrTokenExpired) {
		t.Fatalf("remembered token after its exp: %v, want token_expired", err)
	}
	now = now.Add(-2 * time.Hour)

	keys[kid] = otherPub // the kid now names another key
	if _, err := v.Verify(ctx, token); !errors.Is(err, httpx.ErrUnauthenticated) {
		t.Fatalf("remembered token with its key replaced: %v, want unauthenticated", err)
	}
	keys[kid] = pub
	if _, err := v.Verify(ctx, token); err != nil {
		t.Fatalf("token with its key back: %v", err)
	}
	delete(keys, kid) // the key is retired
	if _, err := v.Verify(ctx, token); !errors.Is(err, httpx.ErrUnauthenticated) {
		t.Fatalf("remembered token with its key retired: %v, want unauthenticated", err)
	}
	if len(v.verified) != 0 {
		t.Fatalf("a refused token is still remembered")
	}
}

// TestVerifyRememberIsBounded: past its bound the Verifier forgets the
// expired tokens first, then everything; every token still verifies.
func TestVerifyRememberIsBounded(t *testing.T) {
	pub, priv := newKey(t)
	kid := Thumbprint(pub)
	v := NewVerifier(StaticKeys{kid: pub}, "fund-auth", "fund-api")
	v.max = 4
	now := time.Now()
	v.now = func() time.Time { return now }
	ctx := context.Background()
	tokens := make([]string, 10)
	for i := range tokens {
		c := claimsFor(now.Add(time.Duration(i+1) * time.Minute))
		c["jti"] = "j" + strconv.Itoa(i)
		tokens[i] = sign(t, jwt.SigningMethodEdDSA, priv, kid, c)
	}
	for _, tok := range tokens[:4] {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2*time.Minute + Leeway) // tokens 0 and 1 have expired
	if _, err := v.Verify(ctx, tokens[4]); err != nil {
		t.Fatal(err)
	}
	if _, ok := v.verified[tokens[0]]; ok || len(v.verified) != 3 {
		t.Fatalf("after the bound: %d remembered (token 0 among them: %v), want the 3 unexpired", len(v.verified), ok)
	}
	for _, tok := range tokens[5:] {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if len(v.verified) > v.max {
		t.Fatalf("%d remembered, bound %d", len(v.verified), v.max)
	}
}
