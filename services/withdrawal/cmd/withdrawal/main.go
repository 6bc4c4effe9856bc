// Command withdrawal is the withdrawal service: the double-entry ledger of
// balances, withdrawals and reallocations (docs/api.md#withdrawal-service). It
// consumes profit.events (profit.allocated credits the ledger) and publishes
// withdrawal.events through its outbox. Configuration comes from the
// environment: serve.Config and serve.Backend (HTTP_ADDR, DATABASE_URL,
// KAFKA_BROKERS, JWKS_URL, JWT_ISSUER, JWT_AUDIENCE, APP_ENV, LOG_*, …).
package main

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/withdrawal/internal/endpoint"
	"github.com/fundplatform/platform/services/withdrawal/internal/events"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
	"github.com/fundplatform/platform/services/withdrawal/internal/transport"
)

func main() {
	serve.MainBackend("withdrawal", "127.0.0.1:8084", store.Migrations(), start)
}

// start wires the service once its database is migrated: store → service →
// endpoints → transport, the outbox relay and the event consumer as the
// server's workers, and the readiness checks.
func start(ctx context.Context, cfg serve.BackendConfig, pool *pgxpool.Pool, log *slog.Logger) (*serve.Server, error) {
	st := store.New(pool)
	svc := ledger.New(st)
	keys := libauth.NewRemoteKeys(cfg.JWKSURL)
	verifier := libauth.NewVerifier(keys, cfg.JWTIssuer, cfg.JWTAudience)
	registry, reg := observability.NewRegistry("withdrawal")

	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: cfg.KafkaBrokers, Logger: log}, reg)
	if err != nil {
		return nil, err
	}
	// The events at hand are applied a run per transaction: platform and
	// system:profit, which every credit touches, are locked once per batch
	// and its credits written with a few set-based statements
	// (store.Credits).
	consumer, err := inbox.NewConsumer(pool, events.ConsumerConfig(cfg.KafkaBrokers, st, log), reg)
	if err != nil {
		return nil, err
	}

	metrics := observability.NewHTTPMetrics(reg, log)
	idempotent := idempotency.Middleware(pool, idempotency.Options{})
	handler := transport.NewHandler(endpoint.New(svc), verifier, idempotent, metrics.Wrap)
	srv := &serve.Server{
		Config:   cfg.Config,
		Handler:  observability.HTTPHandler(handler, "withdrawal"),
		Registry: registry,
		Logger:   log,
		Checks: []serve.Check{
			{Name: "database", Check: pool.Ping},
			{Name: "outbox", Check: relay.Ready},
			{Name: "consumer", Check: consumer.Ready},
			{Name: "jwks", Check: keys.Ready},
		},
		// They run for as long as the HTTP server does and stop after it
		// has drained.
		Workers: []func(context.Context) error{
			relay.Run,
			consumer.Run,
			func(ctx context.Context) error { return idempotency.PurgeLoop(ctx, pool, log) },
		},
	}
	return srv, nil
}
