package main

import (
	"testing"

	"github.com/fundplatform/platform/libs/serve/configref"
)

// TestConfigReference checks the profit table of docs/operations.md
// against loadConfig: every variable, its default, and what production
// requires.
func TestConfigReference(t *testing.T) {
	configref.Check(t, "profit", func() (any, error) { return loadConfig(false) }, nil)
}
