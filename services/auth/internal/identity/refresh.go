package identity

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/fundplatform/platform/libs/httpx"
)

// Refresh rotates a refresh token. A rotated token presented again is a
// reuse (the family is revoked) unless it is a retry: within
// RefreshRetryGrace of its rotation, while the token it was rotated to is
// still unused, it gets that same token again (retriedPair). Any other
// reuse means the token was stolen or replayed.
func (s *service) Refresh(ctx context.Context, refreshToken string) (TokenPair, error) {
	if refreshToken == "" {
		return TokenPair{}, httpx.Invalid("refresh_token", "is required")
	}
	now := s.now()
	var pair TokenPair
	err := s.store.RotateRefreshToken(ctx, HashRefreshToken(refreshToken), now, func(t RefreshToken, u User) RotateDecision {
		switch {
		case t.RevokedAt != nil:
			return RotateDecision{Err: ErrInvalidRefreshToken}
		case t.UsedAt != nil:
			p, ok, err := s.retriedPair(t, u, refreshToken, now)
			if err != nil {
				return RotateDecision{Err: err}
			}
			if ok {
				pair = p
				return RotateDecision{} // nothing changes
			}
			// Whoever holds its successor loses the session too.
			return RotateDecision{RevokeFamily: true, Err: ErrRefreshTokenReused}
		case !now.Before(t.ExpiresAt):
			return RotateDecision{Err: ErrInvalidRefreshToken}
		case !u.IsActive:
			return RotateDecision{RevokeFamily: true, Err: ErrAccountDisabled}
		}
		p, next, err := s.pair(u, t.FamilyID, now)
		if err != nil {
			return RotateDecision{Err: err}
		}
		seal, err := sealSuccessor(refreshToken, p.RefreshToken)
		if err != nil {
			return RotateDecision{Err: err}
		}
		pair = p
		return RotateDecision{Next: next, Seal: seal}
	})
	return pair, err
}

// retriedPair answers a retry of the used token t, presented as
// presented: the refresh token it was rotated to (opened from its seal,
// so the session keeps exactly one live token) with a new access token. It
// reports false when the presentation is not a retry: outside the grace
// window, or the successor was already used (its holder got the answer),
// revoked or expired.
func (s *service) retriedPair(t RefreshToken, u User, presented string, now time.Time) (TokenPair, bool, error) {
	next := t.Successor
	if now.Sub(*t.UsedAt) > RefreshRetryGrace || next == nil || next.UsedAt != nil || next.RevokedAt != nil ||
		!now.Before(next.ExpiresAt) || !u.IsActive {
		return TokenPair{}, false, nil
	}
	refresh, err := openSuccessor(presented, t.SuccessorSealed)
	if err != nil || !bytes.Equal(HashRefreshToken(refresh), next.Hash) {
		return TokenPair{}, false, nil
	}
	access, ttl, err := s.tokens.Issue(u, now)
	if err != nil {
		return TokenPair{}, false, err
	}
	return TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second)}, true, nil
}

// successorKey derives the key that seals a token's successor from the
// token itself. Only its SHA-256 is stored, and HMAC with the token as key
// is a different function of it, so the database alone cannot open a seal.
func successorKey(presented string) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, []byte(presented))
	mac.Write([]byte("fund-auth refresh successor v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealSuccessor encrypts next for the holder of presented (AES-256-GCM,
// the nonce first).
func sealSuccessor(presented, next string) ([]byte, error) {
	aead, err := successorKey(presented)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, []byte(next), nil), nil
}

// openSuccessor is sealSuccessor's inverse.
func openSuccessor(presented string, sealed []byte) (string, error) {
	aead, err := successorKey(presented)
	if err != nil {
		return "", err
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed successor too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	return string(plain), err
}
