package stack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CheckpointInterval is how often the dev stack's withdrawal service
// checkpoints its ledger's chain heads (LEDGER_CHECKPOINT_INTERVAL): more
// often than production's minute, so that a short session or an e2e test
// sees checkpoints.
const CheckpointInterval = "5s"

// checkpointKeyFile is the withdrawal service's checkpoint signing key
// (LEDGER_CHECKPOINT_KEY_FILE) under stateDir: written with
// WriteSigningKey on first start, kept afterwards so that the checkpoints
// already on ledger.checkpoints keep verifying across restarts.
func checkpointKeyFile(stateDir string) (string, error) {
	path := filepath.Join(stateDir, "ledger-checkpoint-key.pem")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := WriteSigningKey(path); err != nil {
		return "", fmt.Errorf("write the ledger checkpoint key: %w", err)
	}
	return path, nil
}
