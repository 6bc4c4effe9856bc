// Package serve runs a service's HTTP server with the endpoints every
// service has on its own port — /healthz, /readyz, /metrics — and a graceful
// shutdown: on SIGTERM or SIGINT readiness turns 503 at once (so load
// balancers stop sending), after DrainDelay the listener closes, in-flight
// requests finish (up to ShutdownTimeout), and Run returns.
//
// Every service starts through Main (main.go): flags, configuration,
// -healthcheck, logs, tracing, migrations and then the Server; services
// configured by BackendConfig (or a struct embedding it) use MainBackend,
// with BackendStart (wire.go) building what every backend service serves
// around its own parts.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
)

// Config is the part of every service's configuration that concerns the
// process itself; services embed it in their own config struct.
type Config struct {
	HTTPAddr        string        `env:"HTTP_ADDR"`
	AppEnv          string        `env:"APP_ENV" envDefault:"development"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"json"`
	DrainDelay      time.Duration `env:"SHUTDOWN_DRAIN_DELAY" envDefault:"0s"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"25s"`
	// DebugAddr, when set, serves the Go profiler (net/http/pprof, under
	// /debug/pprof/) on a listener of its own. Loopback only: a profile
	// exposes the process's internals, so it is reached by port-forward.
	DebugAddr string `env:"DEBUG_ADDR"`
}

// Production reports whether APP_ENV is production.
func (c Config) Production() bool { return c.AppEnv == "production" }

// Validate checks the fields of Config.
func (c Config) Validate() error {
	if c.AppEnv != "development" && c.AppEnv != "production" {
		return fmt.Errorf("APP_ENV must be development or production, not %q", c.AppEnv)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return fmt.Errorf("HTTP_ADDR %q: %w", c.HTTPAddr, err)
	}
	if c.DebugAddr != "" {
		host, _, err := net.SplitHostPort(c.DebugAddr)
		if err != nil {
			return fmt.Errorf("DEBUG_ADDR %q: %w", c.DebugAddr, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("DEBUG_ADDR %q: the profiler listens on loopback only (127.0.0.1, ::1 or localhost)", c.DebugAddr)
		}
	}
	return nil
}

// Check is one readiness condition (database answers, broker connected…).
type Check struct {
	Name  string
	Check func(context.Context) error
}

// Server is a service's HTTP server.
type Server struct {
	Config   Config
	Handler  http.Handler // the service's routes
	Registry *prometheus.Registry
	Checks   []Check
	Logger   *slog.Logger
	// Workers run beside the HTTP server for as long as it serves (outbox
	// relays, consumers, clean-ups). Their context ends once the server
	// has drained; if one fails, the server shuts down and Run returns
	// that error.
	Workers []func(context.Context) error

	draining  atomic.Bool
	readyOnce sync.Once
	ready     chan string
}

// Ready returns a channel that receives the listening address once the
// server accepts connections (useful with HTTP_ADDR port 0 in tests).
func (s *Server) Ready() <-chan string { return s.readyChan() }

func (s *Server) readyChan() chan string {
	s.readyOnce.Do(func() { s.ready = make(chan string, 1) })
	return s.ready
}

func (s *Server) mux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry}))
	}
	mux.Handle("/", s.Handler)
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeStatus(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	status := http.StatusOK
	for _, c := range s.Checks {
		if err := c.Check(ctx); err != nil {
			checks[c.Name] = err.Error()
			status = http.StatusServiceUnavailable
		} else {
			checks[c.Name] = "ok"
		}
	}
	state := "ready"
	if status != http.StatusOK {
		state = "not_ready"
	}
	writeStatus(w, status, map[string]any{"status": state, "checks": checks})
}

// serveDebug serves net/http/pprof on Config.DebugAddr until the returned
// server is closed.
func (s *Server) serveDebug(log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", s.Config.DebugAddr)
	if err != nil {
		return nil, fmt.Errorf("listen DEBUG_ADDR %s: %w", s.Config.DebugAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No write timeout: a CPU profile or trace streams for its ?seconds=.
	dbg := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { _ = dbg.Serve(ln) }()
	log.Info("profiler listening", "debug_addr", ln.Addr().String())
	return dbg, nil
}

func writeStatus(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// Run serves until ctx ends or the process gets SIGTERM/SIGINT, then shuts
// down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", s.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.Config.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           s.mux(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if s.Config.DebugAddr != "" {
		// The profiler is optional: a port it cannot have leaves it off,
		// never the service down.
		if dbg, err := s.serveDebug(log); err != nil {
			log.Error("profiler is off", "error", err.Error())
		} else {
			defer dbg.Close()
		}
	}
	workCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	workers, workCtx := errgroup.WithContext(workCtx)
	for _, w := range s.Workers {
		workers.Go(func() error { return w(workCtx) })
	}
	log.Info("listening", "addr", ln.Addr().String(), "app_env", s.Config.AppEnv)
	select {
	case s.readyChan() <- ln.Addr().String():
	default:
	}

	select {
	case err := <-errc:
		stopWorkers()
		_ = workers.Wait()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	case <-workCtx.Done():
		log.Error("a background worker failed: shutting down")
	}
	s.draining.Store(true)
	log.Info("shutting down: readiness now 503", "drain_delay", s.Config.DrainDelay.String())
	time.Sleep(s.Config.DrainDelay)
	timeout := s.Config.ShutdownTimeout
	if timeout <= 0 {
		timeout = 25 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	stopWorkers()
	workErr := workers.Wait()
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if workErr != nil && !errors.Is(workErr, context.Canceled) {
		return workErr
	}
	log.Info("stopped: in-flight requests finished")
	return nil
}

// Healthcheck GETs the readiness endpoint of the server at addr and
// returns an error unless it answers 200; for container healthchecks
// (`<binary> -healthcheck`) in images without a shell.
func Healthcheck(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz answered %d", resp.StatusCode)
	}
	return nil
}
