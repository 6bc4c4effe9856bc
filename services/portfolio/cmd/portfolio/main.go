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

	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/portfolio/internal/directory"
	"github.com/fundplatform/platform/services/portfolio/internal/endpoint"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
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
// whether owners exist; it publishes through its outbox.
func wire(ctx context.Context, cfg config, d *serve.Deps) (serve.Parts, error) {
	owners := directory.New(cfg.AuthURL, &http.Client{
		Timeout:   5 * time.Second,
		Transport: otelhttp.NewTransport(http.DefaultTransport),
	})
	svc := portfolio.New(store.New(d.Pool), owners, portfolio.Options{})
	handler := transport.NewHandler(endpoint.New(svc), d.Verifier, d.Idempotent(), d.Wrap)
	return serve.Parts{Handler: handler, Publishes: true}, nil
}
