// Package auth verifies the platform's access tokens
// (docs/api.md#authentication): EdDSA (Ed25519) JWTs whose public keys are
// published as a JWKS by the auth service. Only EdDSA is accepted; "none", HMAC
// and tokens without exp, iss or aud are refused.
package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// JWK is one Ed25519 public key in JWKS form (RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK describes an Ed25519 public key as a JWK whose kid is its
// RFC 7638 thumbprint.
func PublicJWK(pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
		Kid: Thumbprint(pub), Use: "sig", Alg: "EdDSA"}
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of an Ed25519 public key.
func Thumbprint(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ParseJWKS reads the Ed25519 signing keys of a JWKS by kid; keys of other
// types or uses are ignored.
func ParseJWKS(b []byte) (map[string]ed25519.PublicKey, error) {
	var set JWKS
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "EdDSA") {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize || k.Kid == "" {
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys, nil
}

// KeySource finds the public key for a kid.
type KeySource interface {
	Key(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// ErrUnknownKey means no key with the token's kid is known.
var ErrUnknownKey = errors.New("unknown signing key")

// StaticKeys is a fixed set of keys by kid.
type StaticKeys map[string]ed25519.PublicKey

// Key implements KeySource.
func (s StaticKeys) Key(_ context.Context, kid string) (ed25519.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// RemoteKeys fetches a JWKS over HTTP, caches it for Refresh, and refetches
// when a token names an unknown kid, at most once per MinInterval (so a key
// rotation is picked up at once without letting bad tokens hammer the
// auth service). Only fetches caused by unknown kids count toward
// MinInterval: the first token of a new key is not refused because the
// cache happened to be refreshed a moment before. A key that leaves the
// JWKS (retired) stops verifying at the next refresh, within Refresh.
type RemoteKeys struct {
	URL         string
	Client      *http.Client
	Refresh     time.Duration
	MinInterval time.Duration

	mu      sync.Mutex
	keys    map[string]ed25519.PublicKey
	fetched time.Time
	// unknownFetched is the last fetch caused by an unknown kid.
	unknownFetched time.Time
}

// NewRemoteKeys returns a RemoteKeys with sensible intervals.
func NewRemoteKeys(url string) *RemoteKeys {
	return &RemoteKeys{URL: url, Client: &http.Client{Timeout: 5 * time.Second},
		Refresh: time.Minute, MinInterval: 5 * time.Second}
}

// Key implements KeySource.
func (r *RemoteKeys) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.keys[kid]
	stale := time.Since(r.fetched) > r.Refresh
	if ok && !stale {
		return k, nil
	}
	if !stale {
		if time.Since(r.unknownFetched) < r.MinInterval {
			return nil, ErrUnknownKey
		}
		r.unknownFetched = time.Now()
	}
	if err := r.fetch(ctx); err != nil {
		if ok { // keep serving the cached key while the auth service is away
			return k, nil
		}
		return nil, err
	}
	if k, ok := r.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// Ready fetches the JWKS if it has never been fetched; for readiness checks.
func (r *RemoteKeys) Ready(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys != nil {
		return nil
	}
	return r.fetch(ctx)
}

func (r *RemoteKeys) fetch(ctx context.Context) error {
	r.fetched = time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return err
	}
	resp, err := r.Client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks: %s answered %d", r.URL, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	keys, err := ParseJWKS(b)
	if err != nil {
		return err
	}
	r.keys = keys
	return nil
}
