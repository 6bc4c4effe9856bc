// Package authtest signs access tokens for tests, as the auth service
// signs them (docs/api.md#authentication) or, to test the verifiers, in
// any other way.
package authtest

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Sign is claims signed with m and key, kid in the header; it fails the
// test when signing fails.
func Sign(t testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
