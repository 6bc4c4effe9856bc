// Command stats is the stats service: read models built from the events of all
// three topics (docs/api.md#stats-service) — platform totals, per portfolio
// accumulated profit, hourly credits per owner and the summary. It only
// consumes (group "stats"); it publishes nothing. Configuration comes from the
// environment: serve.Config and serve.Backend (HTTP_ADDR, DATABASE_URL,
// KAFKA_BROKERS, JWKS_URL, JWT_ISSUER, JWT_AUDIENCE, APP_ENV, LOG_*, …).
package main

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/stats/internal/endpoint"
	"github.com/fundplatform/platform/services/stats/internal/events"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
	"github.com/fundplatform/platform/services/stats/internal/transport"
)

func main() {
	serve.MainBackend("stats", "127.0.0.1:8085", store.Migrations(), start)
}

// start wires the service once its database is migrated: store → service →
// endpoints → transport, the outbox relay and the event consumer as the
// server's workers, and the readiness checks.
func start(ctx context.Context, cfg serve.BackendConfig, pool *pgxpool.Pool, log *slog.Logger) (*serve.Server, error) {
	st := store.New(pool)
	svc := stats.New(st)
	keys := libauth.NewRemoteKeys(cfg.JWKSURL)
	verifier := libauth.NewVerifier(keys, cfg.JWTIssuer, cfg.JWTAudience)
	registry, reg := observability.NewRegistry("stats")

	// The events at hand are applied a run per transaction through the
	// service (stats.Service's Apply), their additions summed and written
	// once per row: the rows every event touches (the overview, the
	// platform's summary hour) are written once per batch, not once per event.
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
	handler := transport.NewHandler(endpoint.New(svc), verifier, svc.Freshness, metrics.Wrap)
	srv := &serve.Server{
		Config:   cfg.Config,
		Handler:  observability.HTTPHandler(handler, "stats"),
		Registry: registry,
		Logger:   log,
		Checks: []serve.Check{
			{Name: "database", Check: pool.Ping},
			{Name: "consumer", Check: consumer.Ready},
			{Name: "jwks", Check: keys.Ready},
		},
		// The consumer runs for as long as the HTTP server does and stops
		// after it has drained.
		Workers: []func(context.Context) error{consumer.Run},
	}
	return srv, nil
}
