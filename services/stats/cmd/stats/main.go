// Command stats is the stats service: read models built from the events
// of all three topics (CONTRACT §6) — platform totals, per portfolio
// accumulated profit, hourly credits per owner and the summary. It only
// consumes (group "stats"); it publishes nothing. Configuration comes from
// the environment: serve.Config and serve.Backend (HTTP_ADDR, DATABASE_URL,
// KAFKA_BROKERS, JWKS_URL, JWT_ISSUER, JWT_AUDIENCE, APP_ENV, LOG_*, …).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/stats/internal/endpoint"
	"github.com/fundplatform/platform/services/stats/internal/events"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
	"github.com/fundplatform/platform/services/stats/internal/transport"
)

func main() {
	healthcheck := flag.Bool("healthcheck", false, "check the running service's /readyz and exit 0 (ready) or 1")
	migrateOnly := flag.Bool("migrate-only", false, "apply database migrations and exit")
	flag.Parse()

	cfg, err := serve.LoadBackendConfig("127.0.0.1:8085")
	if err != nil {
		fmt.Fprintln(os.Stderr, "stats: configuration:", err)
		os.Exit(2)
	}
	if *healthcheck {
		if err := serve.Healthcheck(cfg.HTTPAddr); err != nil {
			fmt.Fprintln(os.Stderr, "stats: not ready:", err)
			os.Exit(1)
		}
		return
	}
	log := observability.NewLogger(os.Stdout, "stats", cfg.LogLevel, cfg.LogFormat)
	slog.SetDefault(log)
	if err := run(context.Background(), cfg, log, *migrateOnly); err != nil {
		log.Error("stats stopped", "error", err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg serve.BackendConfig, log *slog.Logger, migrateOnly bool) error {
	shutdownTracing, err := observability.SetupTracing(ctx, "stats")
	if err != nil {
		return err
	}
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

	st := store.New(pool)
	svc := stats.New(st)
	keys := libauth.NewRemoteKeys(cfg.JWKSURL)
	verifier := libauth.NewVerifier(keys, cfg.JWTIssuer, cfg.JWTAudience)
	registry, reg := observability.NewRegistry("stats")

	consumer, err := inbox.NewConsumer(pool, inbox.Config{
		Brokers: cfg.KafkaBrokers,
		GroupID: events.GroupID,
		Topics:  events.Topics,
		Handler: events.Handler(st),
		Logger:  log,
	}, reg)
	if err != nil {
		return err
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
	return srv.Run(ctx)
}
