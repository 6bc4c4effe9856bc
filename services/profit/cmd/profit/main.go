// Command profit is the profit service. Its routes of CONTRACT.md are not built
// yet: for now it serves only /healthz, /readyz (its database answers) and
// /metrics, and answers every other path 404, so the dev stack and the
// deployment can run it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/caarlos0/env/v11"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/serve"
)

type config struct {
	serve.Config
	DatabaseURL string `env:"DATABASE_URL"`
}

func main() {
	healthcheck := flag.Bool("healthcheck", false, "check the running service's /readyz and exit 0 (ready) or 1")
	migrateOnly := flag.Bool("migrate-only", false, "apply database migrations and exit (none yet)")
	flag.Parse()
	cfg := config{Config: serve.Config{HTTPAddr: "127.0.0.1:8083"}}
	err := env.Parse(&cfg)
	if err == nil && cfg.DatabaseURL == "" {
		err = errors.New("DATABASE_URL is required")
	} else if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "profit: configuration:", err)
		os.Exit(2)
	}
	if *healthcheck {
		if err := serve.Healthcheck(cfg.HTTPAddr); err != nil {
			fmt.Fprintln(os.Stderr, "profit: not ready:", err)
			os.Exit(1)
		}
		return
	}
	log := observability.NewLogger(os.Stdout, "profit", cfg.LogLevel, cfg.LogFormat)
	if *migrateOnly {
		return
	}
	ctx := context.Background()
	pool, err := pg.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		log.Error("profit stopped", "error", err.Error())
		os.Exit(1)
	}
	defer pool.Close()
	registry, reg := observability.NewRegistry("profit")
	metrics := observability.NewHTTPMetrics(reg, log)
	srv := &serve.Server{
		Config:   cfg.Config,
		Handler:  observability.HTTPHandler(httpx.NewRouter(metrics.Wrap), "profit"),
		Registry: registry,
		Logger:   log,
		Checks:   []serve.Check{{Name: "database", Check: pool.Ping}},
	}
	if err := srv.Run(ctx); err != nil {
		log.Error("profit stopped", "error", err.Error())
		os.Exit(1)
	}
}
