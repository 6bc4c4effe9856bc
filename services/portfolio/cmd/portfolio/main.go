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

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/portfolio/internal/directory"
	"github.com/fundplatform/platform/services/portfolio/internal/endpoint"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
	"github.com/fundplatform/platform/services/portfolio/internal/recovery"
	"github.com/fundplatform/platform/services/portfolio/internal/store"
	"github.com/fundplatform/platform/services/portfolio/internal/transport"
)

func main() {
	serve.MainBackend("portfolio", defaultAddr, store.Migrations(), wire, options...)
}

// run is what main runs once the configuration is loaded (the tests run
// it with their own).
func run(ctx context.Context, cfg config, log *slog.Logger, migrateOnly bool) error {
	p := serve.BackendProgram("portfolio", defaultAddr, store.Migrations(), wire, options...)
	return serve.Run(ctx, p, cfg, log, migrateOnly)
}

// wire builds the service's own parts on what serve.MainBackend gives:
// store → service → endpoints → transport, with the auth service asked
// whether owners exist; it publishes through its outbox. First it
// recovers from its own topic what its database lacks (a restore).
func wire(ctx context.Context, cfg config, d *serve.Deps) (serve.Parts, error) {
	owners := directory.New(cfg.AuthURL, &http.Client{
		Timeout:   5 * time.Second,
		Transport: otelhttp.NewTransport(http.DefaultTransport),
	})
	st := store.New(d.Pool)
	// Before serving: what a restore of the database lost is re-derived
	// from the service's own events (internal/recovery).
	if _, err := recovery.Run(ctx, cfg.KafkaBrokers, eventbus.TopicPortfolio, st, d.Log); err != nil {
		return serve.Parts{}, err
	}
	svc := portfolio.New(st, owners, portfolio.Options{})
	handler := transport.NewHandler(endpoint.New(svc), d.Verifier, d.Idempotent(), d.Wrap)
	return serve.Parts{Handler: handler, Publishes: true}, nil
}
