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

// Configuration is what Main needs of a service's configuration: a struct
// that embeds Config (for Process) and has a DATABASE_URL (Database: that
// of an embedded Backend, or a method of the service's own).
type Configuration interface {
	// Process is the part of the configuration about the process itself.
	Process() Config
	// Database is the PostgreSQL URL the service migrates and uses.
	Database() string
}

// Process returns c; configurations embedding Config get it.
func (c Config) Process() Config { return c }

// StartFunc builds a service's server once its database is migrated.
type StartFunc[C any] func(ctx context.Context, cfg C, pool *pgxpool.Pool, log *slog.Logger) (*Server, error)

// Start builds the server of a service configured by BackendConfig.
type Start = StartFunc[BackendConfig]

// Command is a service's own flag that makes the process do one thing
// instead of serving (auth's -list-keys): it is registered before the flags
// are parsed and run once the configuration is loaded; ran reports whether
// its flags were given (then the process exits: 0, or 1 on err).
type Command[C any] struct {
	// Register defines the command's flags on fs (flag.CommandLine).
	Register func(fs *flag.FlagSet)
	// Run runs the command if its flags ask for it.
	Run func(ctx context.Context, cfg C) (ran bool, err error)
}

// Program is a service as Main runs it.
type Program[C Configuration] struct {
	// Name is the service's name: its logs' service field, its traces'
	// service.name and the prefix of its messages on stderr.
	Name string
	// Load reads the configuration from the environment and checks it;
	// migrateOnly is set when the process runs with -migrate-only.
	Load func(migrateOnly bool) (C, error)
	// Migrations are the service's embedded SQL migrations.
	Migrations fs.FS
	// Start builds the server once the database is migrated.
	Start StartFunc[C]
	// Commands are the service's own flags, if any.
	Commands []Command[C]
}

// Main is the main function of every service: it parses the flags, reads
// the configuration (p.Load), answers `-healthcheck` (GET its own /readyz;
// for container healthchecks in images without a shell), runs a command
// of the service's own if its flags are given, sets up JSON logs, then
// runs the service (Run): tracing, DATABASE_URL, migrations (then exits
// with `-migrate-only`, as the deployment's migration job runs it), and
// the server p.Start builds until SIGTERM. It exits 2 on a bad
// configuration and 1 when the service (or a command) fails.
func Main[C Configuration](p Program[C]) {
	healthcheck := flag.Bool("healthcheck", false, "check the running service's /readyz and exit 0 (ready) or 1")
	migrateOnly := flag.Bool("migrate-only", false, "apply database migrations and exit")
	for _, c := range p.Commands {
		c.Register(flag.CommandLine)
	}
	flag.Parse()

	cfg, err := p.Load(*migrateOnly)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: configuration: %v\n", p.Name, err)
		os.Exit(2)
	}
	if *healthcheck {
		if err := Healthcheck(cfg.Process().HTTPAddr); err != nil {
			fmt.Fprintf(os.Stderr, "%s: not ready: %v\n", p.Name, err)
			os.Exit(1)
		}
		return
	}
	for _, c := range p.Commands {
		ran, err := c.Run(context.Background(), cfg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", p.Name, err)
			os.Exit(1)
		}
		if ran {
			return
		}
	}
	process := cfg.Process()
	log := observability.NewLogger(os.Stdout, p.Name, process.LogLevel, process.LogFormat)
	slog.SetDefault(log)
	if err := Run(context.Background(), p, cfg, log, *migrateOnly); err != nil {
		log.Error(p.Name+" stopped", "error", err.Error())
		os.Exit(1)
	}
}

// Run runs the service p with cfg until ctx ends or SIGTERM: it sets up
// tracing, connects to the database, applies the migrations (and returns
// then with migrateOnly), and serves what p.Start builds.
func Run[C Configuration](ctx context.Context, p Program[C], cfg C, log *slog.Logger, migrateOnly bool) error {
	shutdownTracing := observability.SetupTracing(ctx, p.Name, log)
	defer func() { _ = shutdownTracing(context.Background()) }()

	pool, err := pg.Connect(ctx, cfg.Database())
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, p.Migrations); err != nil {
		return err
	}
	if migrateOnly {
		log.Info("migrations applied; exiting (-migrate-only)")
		return nil
	}
	srv, err := p.Start(ctx, cfg, pool, log)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// MainBackend is Main for a service configured by BackendConfig, or by a
// struct C that embeds BackendConfig and adds variables of its own (see
// LoadBackend): HTTP_ADDR defaults to defaultAddr, and the server is what
// wire builds with what every backend service runs around it (see
// BackendStart).
func MainBackend[C Configuration, P backendConfigPtr[C]](name, defaultAddr string, migrations fs.FS, wire Wire[C], opts ...BackendOption) {
	Main(BackendProgram[C, P](name, defaultAddr, migrations, wire, opts...))
}

// BackendProgram is the Program MainBackend runs, with the operator's
// commands on the service's outbox (-outbox-pending, -outbox-skip; see
// outboxCommand).
func BackendProgram[C Configuration, P backendConfigPtr[C]](name, defaultAddr string, migrations fs.FS, wire Wire[C], opts ...BackendOption) Program[C] {
	return Program[C]{
		Name: name,
		Load: func(migrateOnly bool) (C, error) {
			return LoadBackend[C, P](defaultAddr, migrateOnly, opts...)
		},
		Migrations: migrations,
		Start:      BackendStart[C, P](name, wire),
		Commands:   []Command[C]{outboxCommand[C](os.Stdout, os.Stderr)},
	}
}
