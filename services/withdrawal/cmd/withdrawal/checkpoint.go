package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/withdrawal/internal/events"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

// Config is the service's configuration: serve.BackendConfig and the
// ledger's checkpoints (docs/operations.md):
//
//	LEDGER_CHECKPOINT_KEY_FILE  Ed25519 private key, PKCS#8 PEM file, that
//	                            signs the checkpoints; required in
//	                            production. Without it no checkpoint is
//	                            published and verify reports "disabled".
//	LEDGER_CHECKPOINT_INTERVAL  how often the heads are checkpointed when
//	                            they have changed (default 1m)
type Config struct {
	serve.BackendConfig
	CheckpointKeyFile  string        `env:"LEDGER_CHECKPOINT_KEY_FILE"`
	CheckpointInterval time.Duration `env:"LEDGER_CHECKPOINT_INTERVAL" envDefault:"1m"`
}

// CheckExtension implements serve.Extension.
func (c *Config) CheckExtension() error {
	var errs []error
	if c.CheckpointInterval <= 0 {
		errs = append(errs, fmt.Errorf("LEDGER_CHECKPOINT_INTERVAL %s must be positive", c.CheckpointInterval))
	}
	if c.Production() && c.CheckpointKeyFile == "" {
		errs = append(errs, errors.New("production: LEDGER_CHECKPOINT_KEY_FILE is required"))
	}
	return errors.Join(errs...)
}

// loadCheckpointKey reads the Ed25519 private key in PKCS#8 PEM at file.
func loadCheckpointKey(file string) (ledger.CheckpointKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return ledger.CheckpointKey{}, fmt.Errorf("checkpoint key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return ledger.CheckpointKey{}, errors.New("checkpoint key: no PEM block found")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return ledger.CheckpointKey{}, fmt.Errorf("checkpoint key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return ledger.CheckpointKey{}, fmt.Errorf("checkpoint key: must be Ed25519, is %T", k)
	}
	return ledger.NewCheckpointKey(ek), nil
}

// anchored is the service, with the checkpoints' publisher as a worker
// and verify reading them back, when a checkpoint key is configured.
func anchored(cfg Config, st *store.Store, log *slog.Logger) (ledger.Service, []func(ctx context.Context) error, error) {
	if cfg.CheckpointKeyFile == "" {
		return ledger.New(st), nil, nil
	}
	key, err := loadCheckpointKey(cfg.CheckpointKeyFile)
	if err != nil {
		return nil, nil, err
	}
	reader := events.CheckpointReader{Brokers: cfg.KafkaBrokers, Keys: map[string]ed25519.PublicKey{key.ID: key.Public()}}
	pub := events.CheckpointPublisher{Store: st, Key: key, Interval: cfg.CheckpointInterval, Log: log}
	return ledger.NewAnchored(st, reader), []func(ctx context.Context) error{pub.Run}, nil
}

// defaultAddr is the service's listen address unless HTTP_ADDR is set (as
// main hands it to serve.MainBackend).
const defaultAddr = "127.0.0.1:8084"
