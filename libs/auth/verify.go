package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fundplatform/platform/libs/httpx"
)

// Roles (docs/api.md#roles).
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
	RoleUser   = "user"
)

// ValidRole reports whether s is one of the contract's roles.
func ValidRole(s string) bool { return s == RoleAdmin || s == RoleViewer || s == RoleUser }

// Claims are an access token's claims.
type Claims struct {
	jwt.RegisteredClaims
	Role  string  `json:"role"`
	Teams []int64 `json:"teams"`
}

// UserID is the subject as a user id.
func (c *Claims) UserID() int64 {
	id, _ := strconv.ParseInt(c.Subject, 10, 64)
	return id
}

// Is reports whether the caller has one of the roles.
func (c *Claims) Is(roles ...string) bool { return slices.Contains(roles, c.Role) }

// InTeam reports whether the caller belongs to the team.
func (c *Claims) InTeam(teamID int64) bool { return slices.Contains(c.Teams, teamID) }

// Leeway is the clock skew allowed on exp, nbf and iat.
const Leeway = 5 * time.Second

// rememberMax bounds how many verified tokens a Verifier remembers.
const rememberMax = 10_000

// Verifier checks access tokens. It remembers the tokens whose signature it
// has checked (up to rememberMax): a client sends the same token with every
// request for its lifetime, and the Ed25519 check and JSON parse were a
// tenth of a withdrawal's CPU. A remembered token is taken again only while
// its kid still names the same key (a retired or replaced key refuses it as
// before), and its claims are validated again each time (exp, nbf, iat,
// iss, aud), so it is refused the moment it expires.
type Verifier struct {
	keys     KeySource
	opts     []jwt.ParserOption
	validate *jwt.Validator
	now      func() time.Time // time.Now; tests move it
	max      int

	mu       sync.Mutex
	verified map[string]verified // token → what its signature proved

	revocation Revocation // asked on writes; nil: none (CheckRevocationOnWrites)
}

// verified is a token whose signature and claims were checked.
type verified struct {
	claims *Claims
	kid    string
	key    ed25519.PublicKey
}

// NewVerifier checks tokens signed with EdDSA by one of keys, issued by
// issuer for audience.
func NewVerifier(keys KeySource, issuer, audience string) *Verifier {
	v := &Verifier{keys: keys, now: time.Now, max: rememberMax, verified: map[string]verified{}}
	v.opts = []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	}
	v.validate = jwt.NewValidator(v.opts...)
	return v
}

// Verify parses and checks a token, mapping failures to the contract's
// 401 errors ("token_expired" or "unauthenticated").
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if c, ok := v.remembered(ctx, token); ok {
		if err := v.validate.Validate(c); err != nil {
			return nil, tokenError(err)
		}
		return c, nil
	}
	claims := &Claims{}
	var kid string
	var key ed25519.PublicKey
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		k, err := v.keys.Key(ctx, kid)
		key = k
		return k, err
	}, v.opts...)
	if err != nil {
		return nil, tokenError(err)
	}
	if !ValidRole(claims.Role) || claims.UserID() <= 0 || claims.ID == "" {
		return nil, httpx.ErrUnauthenticated
	}
	v.remember(token, verified{claims: claims, kid: kid, key: key})
	c := *claims
	return &c, nil
}

func tokenError(err error) error {
	if errors.Is(err, jwt.ErrTokenExpired) {
		return httpx.ErrTokenExpired
	}
	return httpx.ErrUnauthenticated
}

// remembered returns a copy of the claims of a token verified before whose
// kid still names the key that verified it.
func (v *Verifier) remembered(ctx context.Context, token string) (*Claims, bool) {
	v.mu.Lock()
	e, ok := v.verified[token]
	v.mu.Unlock()
	if !ok {
		return nil, false
	}
	if key, err := v.keys.Key(ctx, e.kid); err != nil || !key.Equal(e.key) {
		v.mu.Lock()
		delete(v.verified, token)
		v.mu.Unlock()
		return nil, false
	}
	c := *e.claims
	return &c, true
}

// remember keeps a verified token; when full, it drops the expired ones,
// and all of them if none has expired.
func (v *Verifier) remember(token string, e verified) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.verified) >= v.max {
		now := v.now()
		for t, old := range v.verified {
			if old.claims.ExpiresAt == nil || !old.claims.ExpiresAt.After(now.Add(-Leeway)) {
				delete(v.verified, t)
			}
		}
		if len(v.verified) >= v.max {
			clear(v.verified)
		}
	}
	v.verified[token] = e
}

type claimsKey struct{}

// FromContext returns the verified caller.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}

// WithClaims stores the verified caller in ctx.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// BearerToken extracts the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// Require wraps a handler so it runs only for a caller with a valid token,
// whose claims it finds with FromContext. Anything else gets 401. On a
// state-changing request the token must also be current (Revocation),
// before the handler reads the body.
func (v *Verifier) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := BearerToken(r)
		if !ok {
			httpx.WriteError(r.Context(), w, httpx.ErrUnauthenticated)
			return
		}
		claims, err := v.Verify(r.Context(), token)
		if err == nil && v.revocation != nil && writes(r.Method) {
			err = v.revocation.Current(r.Context(), token, claims)
		}
		if err != nil {
			httpx.WriteError(r.Context(), w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), claims)))
	})
}
