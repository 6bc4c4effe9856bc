package main

import (
	"testing"

	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/libs/serve/configref"
)

// TestConfigReference checks the withdrawal table of docs/operations.md
// against the service's loader: every variable, its default, and what
// production requires (the checkpoint key among them).
func TestConfigReference(t *testing.T) {
	configref.Check(t, "withdrawal", func() (any, error) { return serve.LoadBackend[Config](defaultAddr, false) },
		map[string]string{"LEDGER_CHECKPOINT_KEY_FILE": "/keys/ledger-checkpoint-key.pem"})
}
