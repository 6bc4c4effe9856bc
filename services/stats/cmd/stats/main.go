// Command stats is the stats service: read models built from the events of all
// three topics (docs/api.md#stats-service) — platform totals, per portfolio
// accumulated profit, hourly credits per owner and the summary. It only
// consumes (group "stats"); it publishes nothing. Configuration comes from the
// environment: serve.Config and serve.Backend (HTTP_ADDR, DATABASE_URL,
// KAFKA_BROKERS, JWKS_URL, JWT_ISSUER, JWT_AUDIENCE, APP_ENV, LOG_*, …).
package main

import (
	"context"

	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/stats/internal/endpoint"
	"github.com/fundplatform/platform/services/stats/internal/events"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
	"github.com/fundplatform/platform/services/stats/internal/transport"
)

func main() {
	serve.MainBackend("stats", "127.0.0.1:8085", store.Migrations(), wire)
}

// wire builds the service's own parts on what serve.MainBackend gives:
// store → service → endpoints → transport, and the consumer of the events
// it reads; it publishes nothing.
func wire(ctx context.Context, cfg serve.BackendConfig, d *serve.Deps) (serve.Parts, error) {
	st := store.New(d.Pool)
	svc := stats.New(st)
	// The events at hand are applied a run per transaction through the
	// service (stats.Service's Apply), their additions summed and written
	// once per row: the rows every event touches (the overview, the
	// platform's summary hour) are written once per batch, not once per event.
	consumer := inbox.ServiceConfig(cfg.KafkaBrokers, inbox.Service{
		GroupID:      events.GroupID,
		Topics:       events.Topics,
		Handler:      events.Handler(st),
		BatchHandler: events.BatchHandler(st),
	}, d.Log)
	handler := transport.NewHandler(endpoint.New(svc), d.Verifier, svc.Freshness, d.Wrap)
	return serve.Parts{Handler: handler, Consumer: &consumer}, nil
}
