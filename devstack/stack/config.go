// Package stack starts and stops the whole dev stack on this machine: a
// throwaway PostgreSQL cluster (or the databases named by the environment),
// an in-process Kafka broker (or KAFKA_BROKERS), the five services as child
// processes from prebuilt binaries, and the edge in front of them.
//
// The devstack command is a thin flag layer over Run; tests start a stack
// in-process the same way, with every port set to 0 (a free one):
//
//	s, err := stack.Run(ctx, stack.Config{RepoDir: dir, BinDir: bins})
//	...
//	fmt.Println(s.Ready().EdgeURL)
//	err = s.Stop() // every child process is gone when Stop returns
package stack

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fundplatform/platform/devstack/edge"
)

// DefaultPorts are the services' fixed ports in the dev stack.
var DefaultPorts = map[string]int{
	edge.Auth:       8081,
	edge.Portfolio:  8082,
	edge.Profit:     8083,
	edge.Withdrawal: 8084,
	edge.Stats:      8085,
}

// Default addresses of the dev stack's edge and Kafka broker.
const (
	DefaultEdgeAddr   = "127.0.0.1:8080"
	DefaultKafkaPort  = 9092
	DefaultAdminEmail = "admin@fund.local"
)

// Config configures a stack. Zero ports mean "any free port" (what tests
// want); DefaultConfig has the fixed ports a developer gets.
type Config struct {
	// RepoDir is the repository root; required unless StateDir and BinDir
	// are both set.
	RepoDir string
	// StateDir holds the stack's throwaway state: the PostgreSQL cluster
	// (pg/, wiped at every start), the generated JWT signing key and a lock
	// file. Default: RepoDir/.devstack.
	StateDir string
	// BinDir holds the service binaries, named after the services.
	// Default: StateDir/bin.
	BinDir string
	// Services to start; nil means every service whose binary exists in
	// BinDir (the others are listed in Ready.Skipped). A service named
	// here whose binary is missing is an error.
	Services []string

	// EdgeAddr is the edge's listen address; a missing host means
	// 127.0.0.1. Empty: 127.0.0.1 on a free port.
	EdgeAddr string
	// Ports maps a service name to its port on 127.0.0.1; missing or 0
	// picks a free port. Replica k (from 2) of a service with a fixed
	// port p listens on p+10*(k-1) (profit: 8083, 8093, 8103…).
	Ports map[string]int
	// Replicas is how many processes of each service run (default 1), each
	// on its own port, with the same database and consumer groups. The
	// first replica of every service is started and ready before the others
	// start (it applies the migrations). The edge balances over the ready
	// replicas; between services (AUTH_URL, JWKS_URL, PORTFOLIO_URL) a
	// balancing address per service stands in for the Kubernetes Service.
	Replicas int
	// Partitions is the in-process broker's partition count per topic
	// (default broker.Partitions).
	Partitions int

	// ServiceDatabaseURLs are used as they are for their services
	// (AUTH_DATABASE_URL, …).
	ServiceDatabaseURLs map[string]string
	// DatabaseURL, when set, is an admin URL of a running server: each
	// service without its own URL gets a database of its name created
	// there. When neither applies to a service, a throwaway local cluster
	// is started for it.
	DatabaseURL string
	// PGPort is the local cluster's port; 0 picks a free one.
	PGPort int
	// PostgresExporters runs a prometheus-postgres-exporter per service
	// database when the binary is installed (`make run` does; Ready lists
	// them).
	PostgresExporters bool
	// CollectorConfig is the trace collector's configuration file; the
	// stack runs the collector (and the services export their spans to
	// it) when BinDir has its binary (CollectorBinary). Default:
	// RepoDir/CollectorConfig.
	CollectorConfig string

	// KafkaBrokers, when set, are used instead of the in-process broker.
	KafkaBrokers []string
	// KafkaPort is the in-process broker's port on 127.0.0.1; 0 picks a
	// free one.
	KafkaPort int

	// AdminEmail and AdminPassword name the bootstrap admin the auth
	// service creates on first start. Defaults: DefaultAdminEmail and a
	// freshly generated password.
	AdminEmail    string
	AdminPassword string
	// SigningKeyFile, when set, is the auth service's JWT signing key as
	// is; otherwise a new Ed25519 key is written to
	// StateDir/jwt-signing-key.pem at every start.
	SigningKeyFile string

	// ReadyTimeout bounds the wait for every service's /readyz (default 60s).
	ReadyTimeout time.Duration
	// StopTimeout is how long services get to exit after SIGTERM before
	// SIGKILL (default 10s).
	StopTimeout time.Duration
	// Restart restarts a service whose process exits on its own, after
	// one second. Without it, the service stays down, the rest keeps
	// running, and the command line to start it by hand is logged.
	Restart bool

	// Env is the environment the services inherit, before the stack's
	// own variables; nil means os.Environ().
	Env []string
	// ServiceEnv are, per service name, variables set on top of the
	// stack's own (DEBUG_ADDR to profile one service, for instance).
	ServiceEnv map[string][]string
	// Out receives every log line and the banner; nil means os.Stdout.
	Out io.Writer
}

// DefaultConfig is the configuration of `make run` for the repository at
// repoDir: the fixed ports, a local PostgreSQL on a free port.
func DefaultConfig(repoDir string) Config {
	ports := map[string]int{}
	for k, v := range DefaultPorts {
		ports[k] = v
	}
	return Config{
		RepoDir:           repoDir,
		EdgeAddr:          DefaultEdgeAddr,
		Ports:             ports,
		KafkaPort:         DefaultKafkaPort,
		PostgresExporters: true,
		ReadyTimeout:      60 * time.Second,
		StopTimeout:       10 * time.Second,
	}
}

// withDefaults fills in what is derived or defaulted.
func (c Config) withDefaults() (Config, error) {
	if c.StateDir == "" {
		if c.RepoDir == "" {
			return c, errors.New("stack: Config.RepoDir (or StateDir) is required")
		}
		c.StateDir = filepath.Join(c.RepoDir, ".devstack")
	}
	if c.BinDir == "" {
		c.BinDir = filepath.Join(c.StateDir, "bin")
	}
	if c.CollectorConfig == "" && c.RepoDir != "" {
		c.CollectorConfig = filepath.Join(c.RepoDir, CollectorConfig)
	}
	var err error
	if c.StateDir, err = filepath.Abs(c.StateDir); err != nil {
		return c, err
	}
	if c.BinDir, err = filepath.Abs(c.BinDir); err != nil {
		return c, err
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.AdminEmail == "" {
		c.AdminEmail = DefaultAdminEmail
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 60 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.Env == nil {
		c.Env = os.Environ()
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	known := map[string]bool{}
	for _, s := range edge.Services {
		known[s] = true
	}
	for _, s := range c.Services {
		if !known[s] {
			return c, fmt.Errorf("stack: unknown service %q", s)
		}
	}
	for s := range c.Ports {
		if !known[s] {
			return c, fmt.Errorf("stack: port for unknown service %q", s)
		}
	}
	return c, nil
}
