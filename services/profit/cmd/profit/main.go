// Command profit is the profit service: allocation ratios, the allocation of
// every recorded profit and its history (docs/api.md#profit-service). It
// consumes portfolio.events (the portfolio read model and NAV profits),
// asks the portfolio service about portfolios the read model does not have
// yet, and publishes profit.events through its outbox. Configuration comes
// from the environment; see config.go and docs/operations.md.
package main

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/profit/internal/endpoint"
	"github.com/fundplatform/platform/services/profit/internal/events"
	"github.com/fundplatform/platform/services/profit/internal/portfolios"
	"github.com/fundplatform/platform/services/profit/internal/profit"
	"github.com/fundplatform/platform/services/profit/internal/store"
	"github.com/fundplatform/platform/services/profit/internal/transport"
)

func main() {
	serve.MainBackend("profit", defaultAddr, store.Migrations(), wire)
}

// wire builds the service's own parts on what serve.MainBackend gives:
// store → service → endpoints → transport, with the portfolio service
// asked about portfolios the read model does not have yet, and the
// consumer of the events it reads; it publishes through its outbox.
func wire(ctx context.Context, cfg config, d *serve.Deps) (serve.Parts, error) {
	st := store.New(d.Pool)
	lookup := portfolios.New(cfg.PortfolioURL, &http.Client{
		Timeout:   5 * time.Second,
		Transport: otelhttp.NewTransport(http.DefaultTransport),
	})
	svc := profit.New(st, lookup, profit.Options{})
	// The events at hand are applied a run per transaction, the NAV
	// profits of a run together (store.RecordNAVProfits): three round
	// trips per run instead of three per profit.
	consumer := inbox.ServiceConfig(cfg.KafkaBrokers, inbox.Service{
		GroupID:      events.GroupID,
		Topics:       events.Topics,
		Handler:      events.Handler(st),
		BatchHandler: events.BatchHandler(st),
	}, d.Log)
	handler := transport.NewHandler(endpoint.New(svc), d.Verifier, d.Idempotent(), d.Wrap)
	if err := d.Metrics.Register(pg.NewGauges(d.Pool, d.Log, pg.GaugesTTL, store.Gauges()...)); err != nil {
		return serve.Parts{}, err
	}
	return serve.Parts{Handler: handler, Publishes: true, Consumer: &consumer}, nil
}
