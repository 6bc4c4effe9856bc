package auth

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// stubAuth answers GET /api/v1/auth/me with the status its status field
// holds, counting the calls and remembering the tokens asked about.
type stubAuth struct {
	status atomic.Int64
	calls  atomic.Int64
	mu     sync.Mutex
	tokens []string
}

func newStubAuth(t *testing.T) (*stubAuth, *httptest.Server) {
	s := &stubAuth{}
	s.status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/auth/me" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		s.calls.Add(1)
		s.mu.Lock()
		s.tokens = append(s.tokens, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.WriteHeader(int(s.status.Load()))
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

// TestRequireChecksRevocationOnWritesOnly: a token the auth service refuses
// is 401 on POST, PUT, PATCH and DELETE and still passes GET and HEAD; a
// write whose check cannot be made is 503, never let through.
func TestRequireChecksRevocationOnWritesOnly(t *testing.T) {
	pub, priv := newKey(t)
	kid := Thumbprint(pub)
	stub, srv := newStubAuth(t)
	v := NewVerifier(StaticKeys{kid: pub}, "fund-auth", "fund-api")
	in := NewIntrospection(srv.URL + "/")
	v.CheckRevocationOnWrites(in)
	h := v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	token := sign(t, jwt.SigningMethodEdDSA, priv, kid, claimsFor(time.Now().Add(time.Hour)))
	do := func(method string) int {
		req := httptest.NewRequest(method, "/x", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if got := do("POST"); got != http.StatusNoContent {
		t.Fatalf("POST with a current token: %d", got)
	}
	stub.mu.Lock()
	got := stub.tokens
	stub.mu.Unlock()
	if len(got) != 1 || got[0] != "Bearer "+token {
		t.Fatalf("auth asked with %q, want the caller's token", got)
	}

	now := time.Now()
	in.now = func() time.Time { return now }
	stub.status.Store(http.StatusUnauthorized)
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		now = now.Add(IntrospectionTTL) // past what was remembered
		if got := do(m); got != http.StatusUnauthorized {
			t.Errorf("%s with a revoked token: %d, want 401", m, got)
		}
	}
	calls := stub.calls.Load()
	for _, m := range []string{"GET", "HEAD"} {
		if got := do(m); got != http.StatusNoContent {
			t.Errorf("%s with a revoked token: %d, want 204 (reads keep the token's lifetime)", m, got)
		}
	}
	if stub.calls.Load() != calls {
		t.Error("a read asked the auth service")
	}

	now = now.Add(IntrospectionTTL)
	stub.status.Store(http.StatusInternalServerError)
	if got := do("POST"); got != http.StatusServiceUnavailable {
		t.Errorf("POST while auth fails: %d, want 503", got)
	}
	srv.Close()
	if got := do("POST"); got != http.StatusServiceUnavailable {
		t.Errorf("POST while auth is down: %d, want 503", got)
	}
}

// TestIntrospectionRemembersAnswersForTheTTL: within IntrospectionTTL an
// answer is reused; after it the auth service is asked again; an answer
// that is no answer (5xx) is not remembered.
func TestIntrospectionRemembersAnswersForTheTTL(t *testing.T) {
	stub, srv := newStubAuth(t)
	in := NewIntrospection(srv.URL)
	now := time.Now()
	in.now = func() time.Time { return now }
	ctx := t.Context()

	if err := in.Current(ctx, "t1", nil); err != nil {
		t.Fatal(err)
	}
	stub.status.Store(http.StatusUnauthorized)
	now = now.Add(IntrospectionTTL - time.Millisecond)
	if err := in.Current(ctx, "t1", nil); err != nil || stub.calls.Load() != 1 {
		t.Fatalf("within the TTL: %v after %d calls, want the remembered answer", err, stub.calls.Load())
	}
	now = now.Add(time.Millisecond)
	if err := in.Current(ctx, "t1", nil); err == nil || stub.calls.Load() != 2 {
		t.Fatalf("after the TTL: %v after %d calls, want the new refusal", err, stub.calls.Load())
	}

	stub.status.Store(http.StatusBadGateway)
	for i := 0; i < 2; i++ {
		if err := in.Current(ctx, "t2", nil); err != ErrRevocationUnavailable {
			t.Fatalf("auth answering 502: %v", err)
		}
	}
	if stub.calls.Load() != 4 {
		t.Errorf("%d calls: a failed check was remembered", stub.calls.Load())
	}
}
