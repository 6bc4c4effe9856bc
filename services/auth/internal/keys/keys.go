// Package keys holds the auth service's signing key: it loads it, signs
// access tokens with it (EdDSA), and publishes the JWKS of every key whose
// tokens may still be alive, so a key can be rotated by replacing the
// secret without cutting anyone off.
package keys

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/services/auth/internal/identity"
)

// ParsePrivateKey reads an Ed25519 private key in PKCS#8 PEM.
func ParsePrivateKey(pemBytes []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("signing key: no PEM block found")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key: must be Ed25519, is %T", k)
	}
	return ek, nil
}

// EncodePrivateKey writes an Ed25519 private key as PKCS#8 PEM.
func EncodePrivateKey(k ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Load reads the key from file (when set) or pemText; with neither it
// returns (nil, nil).
func Load(file, pemText string) (ed25519.PrivateKey, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		return ParsePrivateKey(b)
	case pemText != "":
		return ParsePrivateKey([]byte(pemText))
	}
	return nil, nil
}

// Generate makes a new key (development only: tokens die with the process).
func Generate() ed25519.PrivateKey {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	return k
}

// Signer signs access tokens with the current key.
type Signer struct {
	key      ed25519.PrivateKey
	kid      string
	issuer   string
	audience string
	ttl      time.Duration
}

var _ identity.TokenIssuer = (*Signer)(nil)

// NewSigner returns a signer of tokens valid for ttl.
func NewSigner(key ed25519.PrivateKey, issuer, audience string, ttl time.Duration) *Signer {
	pub := key.Public().(ed25519.PublicKey)
	return &Signer{key: key, kid: libauth.Thumbprint(pub), issuer: issuer, audience: audience, ttl: ttl}
}

// KID is the key id of the current key.
func (s *Signer) KID() string { return s.kid }

// Public is the current public key.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// TTL is the lifetime of the tokens it signs.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Issue implements identity.TokenIssuer.
func (s *Signer) Issue(u identity.User, now time.Time) (string, time.Duration, error) {
	teams := u.TeamIDs
	if teams == nil {
		teams = []int64{}
	}
	claims := libauth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Audience:  jwt.ClaimStrings{s.audience},
			Subject:   strconv.FormatInt(u.ID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
			ID:        uuid.NewString(),
		},
		Role:  u.Role,
		Teams: teams,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = s.kid
	signed, err := tok.SignedString(s.key)
	return signed, s.ttl, err
}

// KeyStore is where the keys that signed tokens are remembered.
type KeyStore interface {
	RegisterSigningKey(ctx context.Context, kid string, pub ed25519.PublicKey, now time.Time) error
	PublishedKeys(ctx context.Context, retiredSince time.Time) ([]ed25519.PublicKey, error)
}

// Publisher answers the JWKS: the current key and every retired key whose
// tokens may still be valid (retired less than a token lifetime ago, plus
// the verification leeway).
type Publisher struct {
	signer *Signer
	store  KeyStore
	now    func() time.Time
}

// NewPublisher registers the signer's key as current (retiring the
// previous one) and returns the publisher.
func NewPublisher(ctx context.Context, signer *Signer, store KeyStore, now func() time.Time) (*Publisher, error) {
	if now == nil {
		now = time.Now
	}
	if err := store.RegisterSigningKey(ctx, signer.KID(), signer.Public(), now().UTC()); err != nil {
		return nil, fmt.Errorf("register signing key: %w", err)
	}
	return &Publisher{signer: signer, store: store, now: now}, nil
}

var _ libauth.KeySource = (*Publisher)(nil)

// Key implements libauth.KeySource for the service's own verifier: it
// accepts exactly the keys the JWKS publishes, so a token of a rotated key
// keeps working here as it does in the other services, and stops when the
// key leaves the JWKS.
func (p *Publisher) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	if kid == p.signer.KID() {
		return p.signer.Public(), nil
	}
	pubs, err := p.published(ctx)
	if err != nil {
		return nil, err
	}
	for _, pub := range pubs {
		if libauth.Thumbprint(pub) == kid {
			return pub, nil
		}
	}
	return nil, libauth.ErrUnknownKey
}

// published lists the stored keys still to be served.
func (p *Publisher) published(ctx context.Context) ([]ed25519.PublicKey, error) {
	return p.store.PublishedKeys(ctx, p.now().UTC().Add(-p.signer.TTL()-libauth.Leeway))
}

// JWKS returns the key set to publish.
func (p *Publisher) JWKS(ctx context.Context) (libauth.JWKS, error) {
	pubs, err := p.published(ctx)
	if err != nil {
		return libauth.JWKS{}, err
	}
	set := libauth.JWKS{Keys: []libauth.JWK{libauth.PublicJWK(p.signer.Public())}}
	for _, pub := range pubs {
		if libauth.Thumbprint(pub) != p.signer.KID() {
			set.Keys = append(set.Keys, libauth.PublicJWK(pub))
		}
	}
	return set, nil
}
