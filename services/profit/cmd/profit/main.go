// Command profit is the profit service: allocation ratios, the allocation of
// every recorded profit and its history (docs/api.md#profit-service). It
// consumes portfolio.events (the portfolio read model and NAV profits) and
// publishes profit.events through its outbox. Configuration comes from the
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
	"github.com/fundplatform/platform/services/profit/internal/endpoint"
	"github.com/fundplatform/platform/services/profit/internal/events"
	"github.com/fundplatform/platform/services/profit/internal/profit"
	"github.com/fundplatform/platform/services/profit/internal/store"
	"github.com/fundplatform/platform/services/profit/internal/transport"
)

func main() {
	serve.MainBackend("profit", "127.0.0.1:8083", store.Migrations(), start)
}

// start wires the service once its database is migrated: store → service →
// endpoints → transport, the outbox relay and the event consumer as the
// server's workers, and the readiness checks.
func start(ctx context.Context, cfg serve.BackendConfig, pool *pgxpool.Pool, log *slog.Logger) (*serve.Server, error) {
	st := store.New(pool)
	svc := profit.New(st, profit.Options{})
	keys := libauth.NewRemoteKeys(cfg.JWKSURL)
	verifier := libauth.NewVerifier(keys, cfg.JWTIssuer, cfg.JWTAudience)
	registry, reg := observability.NewRegistry("profit")

	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: cfg.KafkaBrokers, Logger: log}, reg)
	if err != nil {
		return nil, err
	}
	// The events at hand are applied a run per transaction, the NAV
	// profits of a run together (store.RecordNAVProfits): three round
	// trips per run instead of three per profit.
	consumer, err := inbox.NewConsumer(pool, inbox.ServiceConfig(cfg.KafkaBrokers, inbox.Service{
		GroupID:      events.GroupID,
		Topics:       events.Topics,
		Handler:      events.Handler(st),
		BatchHandler: events.BatchHandler(st),
	}, log), reg)
	if err != nil {
		return nil, err
	}

	metrics := observability.NewHTTPMetrics(reg, log)
	idempotent := idempotency.Middleware(pool, idempotency.Options{})
	handler := transport.NewHandler(endpoint.New(svc), verifier, idempotent, metrics.Wrap)
	srv := &serve.Server{
		Config:   cfg.Config,
		Handler:  observability.HTTPHandler(handler, "profit"),
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
