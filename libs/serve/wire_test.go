package serve

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
)

// BackendStart serves what the service's parts ask for: the relay of a
// service that publishes, its consumer, the Idempotency-Key clean-up of a
// service that takes keys, each with its readiness check. Nothing here
// connects: the pool and the broker clients are lazy.
func TestBackendStartRunsWhatThePartsAskFor(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://x@127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := BackendConfig{Config: Config{HTTPAddr: "127.0.0.1:0"}, Backend: Backend{KafkaBrokers: []string{"127.0.0.1:1"}, JWKSURL: "http://127.0.0.1:1/jwks"}}
	consumer := inbox.Config{Brokers: cfg.KafkaBrokers, GroupID: "g", Topics: []string{"t"},
		Handler: func(context.Context, pgx.Tx, eventbus.Envelope) error { return nil }}
	for name, c := range map[string]struct {
		publishes, consumes, idempotent bool
		checks                          []string
		workers                         int
	}{
		"reads only":  {checks: []string{"database", "jwks"}},
		"consumer":    {consumes: true, checks: []string{"database", "consumer", "jwks"}, workers: 1},
		"all of them": {publishes: true, consumes: true, idempotent: true, checks: []string{"database", "outbox", "consumer", "jwks"}, workers: 3},
	} {
		t.Run(name, func(t *testing.T) {
			start := BackendStart(name, func(_ context.Context, got BackendConfig, d *Deps) (Parts, error) {
				if d.Pool != pool || d.Verifier == nil || d.Wrap == nil || got.HTTPAddr != cfg.HTTPAddr {
					t.Errorf("deps = %+v, config %+v", d, got)
				}
				p := Parts{Handler: http.NotFoundHandler(), Publishes: c.publishes}
				if c.consumes {
					p.Consumer = &consumer
				}
				if c.idempotent {
					_ = d.Idempotent()
				}
				return p, nil
			})
			srv, err := start(context.Background(), cfg, pool, log)
			if err != nil {
				t.Fatal(err)
			}
			var checks []string
			for _, c := range srv.Checks {
				checks = append(checks, c.Name)
			}
			if !slices.Equal(checks, c.checks) || len(srv.Workers) != c.workers || srv.Registry == nil || srv.Config != cfg.Config {
				t.Errorf("checks %q, %d workers; want %q, %d", checks, len(srv.Workers), c.checks, c.workers)
			}
		})
	}
}
