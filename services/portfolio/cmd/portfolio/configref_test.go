package main

import (
	"testing"

	"github.com/fundplatform/platform/libs/serve/configref"
)

// TestConfigReference checks the portfolio table of docs/operations.md
// against loadConfig: every variable, its default, and what production
// requires.
func TestConfigReference(t *testing.T) {
	configref.Check(t, "portfolio", func() (any, error) { return loadConfig(false) }, nil)
}
