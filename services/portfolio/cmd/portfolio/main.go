// Command portfolio is the portfolio service: portfolios, their owners and NAV
// snapshots, whose profit it publishes through the transactional outbox
// (docs/api.md#portfolio-service, #events). Configuration comes from the
// environment; see config.go and docs/operations.md.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/portfolio/internal/directory"
	"github.com/fundplatform/platform/services/portfolio/internal/endpoint"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
	"github.com/fundplatform/platform/services/portfolio/internal/store"
	"github.com/fundplatform/platform/services/portfolio/internal/transport"
)

func main() {
	serve.MainBackend("portfolio", defaultAddr, store.Migrations(), start, options...)
}

// run is what main runs once the configuration is loaded (the tests run
// it with their own).
func run(ctx context.Context, cfg config, log *slog.Logger, migrateOnly bool) error {
	p := serve.BackendProgram("portfolio", defaultAddr, store.Migrations(), start, options...)
	return serve.Run(ctx, p, cfg, log, migrateOnly)
}

// start wires the service once its database is migrated: store → service →
// endpoints → transport, the outbox relay and the idempotency clean-up as
// the server's workers, and the readiness checks.
func start(ctx context.Context, cfg config, pool *pgxpool.Pool, log *slog.Logger) (*serve.Server, error) {
	registry, reg := observability.NewRegistry("portfolio")
	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: cfg.KafkaBrokers, Logger: log}, reg)
	if err != nil {
		return nil, err
	}
	keys := libauth.NewRemoteKeys(cfg.JWKSURL)
	verifier := libauth.NewVerifier(keys, cfg.JWTIssuer, cfg.JWTAudience)
	owners := directory.New(cfg.AuthURL, &http.Client{
		Timeout:   5 * time.Second,
		Transport: otelhttp.NewTransport(http.DefaultTransport),
	})
	svc := portfolio.New(store.New(pool), owners, portfolio.Options{})
	metrics := observability.NewHTTPMetrics(reg, log)
	handler := transport.NewHandler(endpoint.New(svc), verifier,
		idempotency.Middleware(pool, idempotency.Options{}), metrics.Wrap)

	srv := &serve.Server{
		Config:   cfg.Config,
		Handler:  observability.HTTPHandler(handler, "portfolio"),
		Registry: registry,
		Logger:   log,
		Checks: []serve.Check{
			{Name: "database", Check: pool.Ping},
			{Name: "outbox", Check: relay.Ready},
			{Name: "jwks", Check: keys.Ready},
		},
		// They run for as long as the HTTP server does and stop after it
		// has drained.
		Workers: []func(context.Context) error{
			relay.Run,
			func(ctx context.Context) error { return idempotency.PurgeLoop(ctx, pool, log) },
		},
	}
	return srv, nil
}
