package auth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fundplatform/platform/libs/httpx"
)

// Revocation tells whether a verified access token is still current: its
// user active, with the token's role, and not signed out by a password
// change since the token was issued (docs/api.md#authentication). Require
// asks it on every state-changing request (any method but GET, HEAD and
// OPTIONS) once CheckRevocationOnWrites installed it; reads keep the
// token's 15 minutes.
type Revocation interface {
	Current(ctx context.Context, token string, c *Claims) error
}

// CheckRevocationOnWrites makes Require ask r on state-changing requests.
func (v *Verifier) CheckRevocationOnWrites(r Revocation) { v.revocation = r }

// writes reports whether a request of method changes state.
func writes(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// ErrRevocationUnavailable is the answer to a write when the auth service
// cannot say whether the caller's token is current: writes fail closed.
var ErrRevocationUnavailable = httpx.NewError(http.StatusServiceUnavailable, "dependency_unavailable",
	"cannot check the access token with the auth service, try again later")

// IntrospectionTTL is how long an Introspection remembers an answer: the
// longest a revoked token keeps writing after the auth service refuses it.
const IntrospectionTTL = 2 * time.Second

// Introspection is the Revocation of every service but auth: it asks the
// auth service, GET {AUTH_URL}/api/v1/auth/me with the caller's token
// (200: current; 401: revoked), and remembers each answer for
// IntrospectionTTL. Any other answer, or none, refuses the write with
// ErrRevocationUnavailable and is not remembered.
type Introspection struct {
	url    string
	client *http.Client
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	answers map[string]introspected
}

type introspected struct {
	err     error
	expires time.Time
}

// introspectionMax bounds the remembered answers; when full, the expired
// ones are dropped, and all of them if none has expired.
const introspectionMax = 10_000

// NewIntrospection asks the auth service at authURL (its base URL, as
// AUTH_URL).
func NewIntrospection(authURL string) *Introspection {
	return &Introspection{
		url:     strings.TrimSuffix(authURL, "/") + "/api/v1/auth/me",
		client:  &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}},
		ttl:     IntrospectionTTL,
		now:     time.Now,
		answers: map[string]introspected{},
	}
}

// Current implements Revocation.
func (in *Introspection) Current(ctx context.Context, token string, _ *Claims) error {
	now := in.now()
	in.mu.Lock()
	a, ok := in.answers[token]
	in.mu.Unlock()
	if ok && now.Before(a.expires) {
		return a.err
	}
	final, err := in.ask(ctx, token)
	if !final {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.answers) >= introspectionMax {
		for t, old := range in.answers {
			if !now.Before(old.expires) {
				delete(in.answers, t)
			}
		}
		if len(in.answers) >= introspectionMax {
			clear(in.answers)
		}
	}
	in.answers[token] = introspected{err: err, expires: now.Add(in.ttl)}
	return err
}

// ask asks the auth service once; final is false when it gave no answer.
func (in *Introspection) ask(ctx context.Context, token string) (final bool, err error) {
	req, rerr := http.NewRequestWithContext(ctx, http.MethodGet, in.url, nil)
	if rerr != nil {
		return false, fmt.Errorf("introspection: %w", rerr)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if id := httpx.RequestID(ctx); id != "" {
		req.Header.Set(httpx.RequestIDHeader, id)
	}
	resp, rerr := in.client.Do(req)
	if rerr != nil {
		return false, ErrRevocationUnavailable
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusUnauthorized:
		return true, httpx.ErrUnauthenticated
	default:
		return false, ErrRevocationUnavailable
	}
}
