package serve

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/observability"
	"github.com/fundplatform/platform/libs/outbox"
)

// Deps are what BackendStart builds before a service wires its own parts: the
// database, the logger, the access-token verifier and the HTTP metrics.
type Deps struct {
	Pool *pgxpool.Pool
	Log  *slog.Logger
	// Verifier checks access tokens against the keys JWKS_URL publishes
	// (the auth service's), with JWT_ISSUER and JWT_AUDIENCE, and on
	// state-changing requests asks the auth service at AUTH_URL whether
	// the token is still current (libauth.Introspection).
	Verifier *libauth.Verifier
	// Wrap instruments a route with the service's HTTP metrics.
	Wrap func(route string, h http.Handler) http.Handler
	// Metrics registers the service's own metrics (e.g. pg.Gauges of its
	// business figures) beside the HTTP and event metrics.
	Metrics prometheus.Registerer

	idempotent bool
}

// Idempotent returns the Idempotency-Key middleware (libs/idempotency,
// docs/api.md) on Pool; a service that asks for it also gets the clean-up
// of expired keys as a worker.
func (d *Deps) Idempotent() func(http.Handler) http.Handler {
	d.idempotent = true
	return idempotency.Middleware(d.Pool, idempotency.Options{})
}

// Parts are what a backend service wires of its own.
type Parts struct {
	// Handler serves the service's routes.
	Handler http.Handler
	// Publishes is set when the service writes events to its outbox
	// (libs/outbox): the relay publishing them runs as a worker.
	Publishes bool
	// Consumer, when set, is the service's inbox consumer (libs/inbox),
	// run as a worker.
	Consumer *inbox.Config
	// Workers are the service's own background jobs (e.g. the withdrawal
	// ledger's checkpoints and verification), run for as long as the HTTP
	// server does (each returns when its context ends).
	Workers []func(context.Context) error
}

// Wire builds a backend service's own parts (its store, service, handler
// and event handlers) on d.
type Wire[C any] func(ctx context.Context, cfg C, d *Deps) (Parts, error)

// BackendStart returns the StartFunc of the backend service name configured by
// C (BackendConfig or a struct embedding it): it builds Deps, lets wire
// build the service's parts, and serves them with what every backend
// service runs — the outbox relay (Parts.Publishes) and the inbox consumer
// (Parts.Consumer) on KAFKA_BROKERS, and the Idempotency-Key clean-up
// (Deps.Idempotent), as workers that run for as long as the HTTP server
// does and stop after it has drained; and the readiness checks of the
// database, the relay, the consumer and the JWKS.
func BackendStart[C any, P backendConfigPtr[C]](name string, wire Wire[C]) StartFunc[C] {
	return func(ctx context.Context, cfg C, pool *pgxpool.Pool, log *slog.Logger) (*Server, error) {
		b := P(&cfg).backend()
		registry, reg := observability.NewRegistry(name)
		keys := libauth.NewRemoteKeys(b.JWKSURL)
		verifier := libauth.NewVerifier(keys, b.JWTIssuer, b.JWTAudience)
		verifier.CheckRevocationOnWrites(libauth.NewIntrospection(b.AuthURL))
		d := &Deps{
			Pool:     pool,
			Log:      log,
			Verifier: verifier,
			Wrap:     observability.NewHTTPMetrics(reg, log).Wrap,
			Metrics:  reg,
		}
		parts, err := wire(ctx, cfg, d)
		if err != nil {
			return nil, err
		}
		srv := NewServer(name, b.Config, parts.Handler, registry, pool, log)
		if err := srv.addEventWorkers(b.KafkaBrokers, parts, pool, log, reg); err != nil {
			return nil, err
		}
		srv.Workers = append(srv.Workers, parts.Workers...)
		srv.Checks = append(srv.Checks, Check{Name: "jwks", Check: keys.Ready})
		if d.idempotent {
			srv.Workers = append(srv.Workers, func(ctx context.Context) error { return idempotency.PurgeLoop(ctx, pool, log) })
		}
		return srv, nil
	}
}

// addEventWorkers adds the outbox relay and the inbox consumer parts asks
// for, with their readiness checks.
func (s *Server) addEventWorkers(brokers []string, parts Parts, pool *pgxpool.Pool, log *slog.Logger, reg prometheus.Registerer) error {
	if parts.Publishes {
		relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: brokers, Logger: log}, reg)
		if err != nil {
			return err
		}
		s.Checks = append(s.Checks, Check{Name: "outbox", Check: relay.Ready})
		s.Workers = append(s.Workers, relay.Run)
	}
	if parts.Consumer != nil {
		consumer, err := inbox.NewConsumer(pool, *parts.Consumer, reg)
		if err != nil {
			return err
		}
		s.Checks = append(s.Checks, Check{Name: "consumer", Check: consumer.Ready})
		s.Workers = append(s.Workers, consumer.Run)
	}
	return nil
}

// NewServer is the Server of service name: handler's routes traced
// (observability.HTTPHandler), the metrics of registry, and the database
// as the first readiness check.
func NewServer(name string, cfg Config, handler http.Handler, registry *prometheus.Registry, pool *pgxpool.Pool, log *slog.Logger) *Server {
	return &Server{
		Config:   cfg,
		Handler:  observability.HTTPHandler(handler, name),
		Registry: registry,
		Logger:   log,
		Checks:   []Check{{Name: "database", Check: pool.Ping}},
	}
}
