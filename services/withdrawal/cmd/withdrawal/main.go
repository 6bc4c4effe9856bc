// Command withdrawal is the withdrawal service: the double-entry ledger of
// balances, withdrawals and reallocations (docs/api.md#withdrawal-service). It
// consumes profit.events (profit.allocated credits the ledger) and publishes
// withdrawal.events through its outbox. Configuration comes from the
// environment: serve.Config and serve.Backend (HTTP_ADDR, DATABASE_URL,
// KAFKA_BROKERS, JWKS_URL, JWT_ISSUER, JWT_AUDIENCE, APP_ENV, LOG_*, …) and
// the ledger's checkpoints (Config).
package main

import (
	"context"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/withdrawal/internal/endpoint"
	"github.com/fundplatform/platform/services/withdrawal/internal/events"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
	"github.com/fundplatform/platform/services/withdrawal/internal/transport"
)

func main() {
	serve.MainBackend("withdrawal", "127.0.0.1:8084", store.Migrations(), wire)
}

// wire builds the service's own parts on what serve.MainBackend gives:
// store → service → endpoints → transport, and the consumer of the events
// it reads; it publishes through its outbox.
func wire(ctx context.Context, cfg Config, d *serve.Deps) (serve.Parts, error) {
	st := store.New(d.Pool)
	svc, workers, err := anchored(cfg, st, d.Log)
	if err != nil {
		return serve.Parts{}, err
	}
	// The events at hand are applied a run per transaction: platform and
	// system:profit, which every credit touches, are locked once per batch
	// and its credits written with a few set-based statements
	// (store.Credits).
	consumer := events.ConsumerConfig(cfg.KafkaBrokers, st, d.Log)
	handler := transport.NewHandler(endpoint.New(svc), d.Verifier, d.Idempotent(), d.Wrap)
	if err := d.Metrics.Register(pg.NewGauges(d.Pool, d.Log, pg.GaugesTTL, store.Gauges()...)); err != nil {
		return serve.Parts{}, err
	}
	workers = append(workers, func(ctx context.Context) error {
		admin := func(ctx context.Context) (ledger.Verification, error) {
			return svc.Verify(ctx, ledger.Caller{Role: auth.RoleAdmin})
		}
		return store.VerifyLoop(ctx, admin, store.VerifyInterval, d.Metrics, d.Log)
	})
	return serve.Parts{Handler: handler, Publishes: true, Consumer: &consumer, Workers: workers}, nil
}
