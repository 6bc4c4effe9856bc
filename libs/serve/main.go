package serve

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/pg"
)

// Start builds a service's server once its database is migrated.
type Start func(ctx context.Context, cfg BackendConfig, pool *pgxpool.Pool, log *slog.Logger) (*Server, error)

// MainBackend is the main function of a service configured by
// BackendConfig: it reads the environment (HTTP_ADDR defaults to
// defaultAddr), answers `-healthcheck` (GET its own /readyz; for container
// healthchecks in images without a shell), sets up JSON logs and tracing,
// connects to DATABASE_URL and applies migrations (then exits with
// `-migrate-only`, as the deployment's migration job runs it), and serves
// what start builds until SIGTERM. It exits 2 on a bad configuration and 1
// when the service fails.
func MainBackend(name, defaultAddr string, migrations fs.FS, start Start) {
	healthcheck := flag.Bool("healthcheck", false, "check the running service's /readyz and exit 0 (ready) or 1")
	migrateOnly := flag.Bool("migrate-only", false, "apply database migrations and exit")
	flag.Parse()

	cfg, err := LoadBackendConfig(defaultAddr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: configuration: %v\n", name, err)
		os.Exit(2)
	}
	if *healthcheck {
		if err := Healthcheck(cfg.HTTPAddr); err != nil {
			fmt.Fprintf(os.Stderr, "%s: not ready: %v\n", name, err)
			os.Exit(1)
		}
		return
	}
	log := observability.NewLogger(os.Stdout, name, cfg.LogLevel, cfg.LogFormat)
	slog.SetDefault(log)
	if err := runBackend(context.Background(), name, cfg, log, migrations, *migrateOnly, start); err != nil {
		log.Error(name+" stopped", "error", err.Error())
		os.Exit(1)
	}
}

func runBackend(ctx context.Context, name string, cfg BackendConfig, log *slog.Logger, migrations fs.FS, migrateOnly bool, start Start) error {
	shutdownTracing := observability.SetupTracing(ctx, name, log)
	defer func() { _ = shutdownTracing(context.Background()) }()

	pool, err := pg.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, migrations); err != nil {
		return err
	}
	if migrateOnly {
		log.Info("migrations applied; exiting (-migrate-only)")
		return nil
	}
	srv, err := start(ctx, cfg, pool, log)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
