package main

import (
	"testing"

	"github.com/fundplatform/platform/libs/serve/configref"
)

// TestConfigReference checks the auth table of docs/operations.md against
// loadConfig: every variable, its default, and what production requires.
func TestConfigReference(t *testing.T) {
	configref.Check(t, "auth", func() (any, error) { return loadConfig() }, map[string]string{
		"JWT_SIGNING_KEY_FILE":     "/var/run/secrets/fund-auth/signing-key.pem",
		"BOOTSTRAP_ADMIN_PASSWORD": "a-long-unguessable-passphrase",
	})
}
