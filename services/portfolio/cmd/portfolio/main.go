// Command portfolio is the portfolio service: portfolios, their owners and NAV
// snapshots, whose profit it publishes through the transactional outbox
// (docs/api.md#portfolio-service, #events). Configuration comes from the
// environment; see config.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/portfolio/internal/directory"
	"github.com/fundplatform/platform/services/portfolio/internal/endpoint"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
	"github.com/fundplatform/platform/services/portfolio/internal/store"
	"github.com/fundplatform/platform/services/portfolio/internal/transport"
)

func main() {
	healthcheck := flag.Bool("healthcheck", false, "check the running service's /readyz and exit 0 (ready) or 1")
	migrateOnly := flag.Bool("migrate-only", false, "apply database migrations and exit")
	flag.Parse()

	cfg, err := loadConfig(*migrateOnly)
	if err != nil {
		fmt.Fprintln(os.Stderr, "portfolio: configuration:", err)
		os.Exit(2)
	}
	if *healthcheck {
		if err := serve.Healthcheck(cfg.HTTPAddr); err != nil {
			fmt.Fprintln(os.Stderr, "portfolio: not ready:", err)
			os.Exit(1)
		}
		return
	}
	log := observability.NewLogger(os.Stdout, "portfolio", cfg.LogLevel, cfg.LogFormat)
	slog.SetDefault(log)
	if err := run(context.Background(), cfg, log, *migrateOnly); err != nil {
		log.Error("portfolio stopped", "error", err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger, migrateOnly bool) error {
	shutdownTracing := observability.SetupTracing(ctx, "portfolio", log)
	defer func() { _ = shutdownTracing(context.Background()) }()

	pool, err := pg.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, store.Migrations()); err != nil {
		return err
	}
	if migrateOnly {
		log.Info("migrations applied; exiting (-migrate-only)")
		return nil
	}

	registry, reg := observability.NewRegistry("portfolio")
	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: cfg.KafkaBrokers, Logger: log}, reg)
	if err != nil {
		return err
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
	return srv.Run(ctx)
}
