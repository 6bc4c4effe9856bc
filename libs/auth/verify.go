package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fundplatform/platform/libs/httpx"
)

// Roles of CONTRACT §1.
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

// Verifier checks access tokens.
type Verifier struct {
	keys     KeySource
	issuer   string
	audience string
}

// NewVerifier checks tokens signed with EdDSA by one of keys, issued by
// issuer for audience.
func NewVerifier(keys KeySource, issuer, audience string) *Verifier {
	return &Verifier{keys: keys, issuer: issuer, audience: audience}
}

// Verify parses and checks a token, mapping failures to the contract's
// 401 errors ("token_expired" or "unauthenticated").
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	claims := &Claims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return v.keys.Key(ctx, kid)
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, httpx.ErrTokenExpired
		}
		return nil, httpx.ErrUnauthenticated
	}
	if !ValidRole(claims.Role) || claims.UserID() <= 0 || claims.ID == "" {
		return nil, httpx.ErrUnauthenticated
	}
	return claims, nil
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
// whose claims it finds with FromContext. Anything else gets 401.
func (v *Verifier) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := BearerToken(r)
		if !ok {
			httpx.WriteError(r.Context(), w, httpx.ErrUnauthenticated)
			return
		}
		claims, err := v.Verify(r.Context(), token)
		if err != nil {
			httpx.WriteError(r.Context(), w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), claims)))
	})
}

// Caller returns the verified caller or a 401 error; for service code that
// runs behind Require.
func Caller(ctx context.Context) (*Claims, error) {
	c, ok := FromContext(ctx)
	if !ok {
		return nil, httpx.ErrUnauthenticated
	}
	return c, nil
}
