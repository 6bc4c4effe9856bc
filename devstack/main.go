// Command devstack runs the whole fund platform on this machine without
// Docker: a throwaway PostgreSQL cluster with one database per service, an
// in-process Kafka broker, the five services as child processes from
// prebuilt binaries, and the edge on 127.0.0.1:8080. It prints the edge URL
// and the bootstrap admin's credentials once everything is ready, and stops
// everything on Ctrl-C. `make run` builds the services and runs it.
//
// Run `devstack -h` for the flags and environment variables. The work is
// done by package stack; this file only turns flags and environment into a
// stack.Config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fundplatform/platform/devstack/broker"
	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/stack"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "devstack:", err)
		return 2
	}
	cfg.Out = stdout

	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	go func() {
		// After the first signal, a second one ends the dev stack at once
		// (the default action); the services still go with it, as they
		// get SIGTERM when their parent dies.
		<-ctx.Done()
		stopSignals()
	}()

	s, err := stack.Run(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "devstack: interrupted while starting")
			return 0
		}
		fmt.Fprintln(stderr, "devstack:", err)
		return 1
	}
	if err := s.Wait(); err != nil {
		fmt.Fprintln(stderr, "devstack:", err)
		return 1
	}
	return 0
}

const usageHead = `devstack runs the fund platform on this machine, without Docker:
a throwaway PostgreSQL cluster (one database per service), an in-process Kafka
broker (kfake), the services auth, portfolio, profit, withdrawal and stats from
prebuilt binaries (each its own process, its output prefixed with its name),
and the edge in front of them. Once every service's /readyz answers 200 it
prints the edge URL and the bootstrap admin's credentials; Ctrl-C stops
everything (a second Ctrl-C quits at once).

Usage: devstack [flags]        (make run builds the services, then runs this)

Flags (each has an environment variable; a flag given wins over it):
`

const usageTail = `
Environment only:
  DATABASE_URL               admin URL of a running PostgreSQL server: each service
                             gets a database of its name created there, instead of
                             the throwaway cluster
  <SERVICE>_DATABASE_URL     e.g. AUTH_DATABASE_URL: that service's database, as is
  KAFKA_BROKERS              comma-separated brokers to use instead of the in-process one
  BOOTSTRAP_ADMIN_EMAIL      the admin the auth service creates (default admin@fund.local)
  BOOTSTRAP_ADMIN_PASSWORD   its password (default: a new random one, printed when ready)
  JWT_SIGNING_KEY_FILE       the auth service's signing key (default: a new Ed25519
                             key written to <repo>/.devstack/jwt-signing-key.pem)
  Every variable is also passed on to the services.

Restarting a service by hand:
  Without -restart, a service whose process exits stays down while the rest keeps
  running, and the dev stack logs the command line that starts it again (run it in
  another terminal). With -restart, the dev stack starts it again after 1s: rebuild
  its binary into the bin directory, then kill <pid> to pick up the new one.
`

// parseConfig builds the stack configuration from args and the environment.
func parseConfig(args []string, getenv func(string) string, usageOut io.Writer) (stack.Config, error) {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	fs.Usage = func() {
		fmt.Fprint(usageOut, usageHead)
		fs.PrintDefaults()
		fmt.Fprint(usageOut, usageTail)
	}
	var envErr error
	envString := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envInt := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			envErr = errors.Join(envErr, fmt.Errorf("%s=%q: want a port number", name, v))
			return def
		}
		return n
	}
	envDuration := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			envErr = errors.Join(envErr, fmt.Errorf("%s=%q: want a duration such as 60s", name, v))
			return def
		}
		return d
	}
	envBool := func(name string) bool {
		v := getenv(name)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			envErr = errors.Join(envErr, fmt.Errorf("%s=%q: want true or false", name, v))
		}
		return b
	}

	def := stack.DefaultConfig("")
	repo := fs.String("repo", getenv("DEVSTACK_REPO"), "repository root (DEVSTACK_REPO); default: the nearest directory above the working directory holding go.work")
	bin := fs.String("bin", getenv("DEVSTACK_BIN"), "directory of the service binaries (DEVSTACK_BIN); default <repo>/.devstack/bin")
	edgeAddr := fs.String("edge-addr", envString("EDGE_ADDR", def.EdgeAddr), "edge listen address; no host means 127.0.0.1 (EDGE_ADDR)")
	ports := map[string]*int{}
	for _, name := range edge.Services {
		env := strings.ToUpper(name) + "_PORT"
		ports[name] = fs.Int(name+"-port", envInt(env, def.Ports[name]), fmt.Sprintf("%s service port on 127.0.0.1, 0 = any free port (%s)", name, env))
	}
	pgPort := fs.Int("pg-port", envInt("PG_PORT", def.PGPort), "port of the throwaway PostgreSQL cluster, 0 = any free port (PG_PORT)")
	kafkaPort := fs.Int("kafka-port", envInt("KAFKA_PORT", def.KafkaPort), "port of the in-process Kafka broker on 127.0.0.1, 0 = any free port (KAFKA_PORT)")
	timeout := fs.Duration("timeout", envDuration("DEVSTACK_TIMEOUT", def.ReadyTimeout), "how long to wait for every service's /readyz (DEVSTACK_TIMEOUT)")
	stopTimeout := fs.Duration("stop-timeout", envDuration("DEVSTACK_STOP_TIMEOUT", def.StopTimeout), "how long services get to exit after SIGTERM before SIGKILL (DEVSTACK_STOP_TIMEOUT)")
	restart := fs.Bool("restart", envBool("DEVSTACK_RESTART"), "restart a service whose process exits, after 1s (DEVSTACK_RESTART)")
	replicas := fs.Int("replicas", envInt("DEVSTACK_REPLICAS", 1), "processes per service, each on its own port (replica k of a service on port p: p+10*(k-1)); the edge balances over them (DEVSTACK_REPLICAS)")
	partitions := fs.Int("partitions", envInt("KAFKA_PARTITIONS", broker.Partitions), "partitions per topic of the in-process Kafka broker; consumer parallelism ≤ partitions (KAFKA_PARTITIONS)")

	if err := fs.Parse(args); err != nil {
		return stack.Config{}, err
	}
	if fs.NArg() > 0 {
		return stack.Config{}, fmt.Errorf("unexpected arguments %q (see -h)", fs.Args())
	}
	if envErr != nil {
		return stack.Config{}, envErr
	}

	if *repo == "" {
		wd, err := os.Getwd()
		if err != nil {
			return stack.Config{}, err
		}
		if *repo, err = findRepo(wd); err != nil {
			return stack.Config{}, err
		}
	}
	cfg := stack.DefaultConfig(*repo)
	cfg.BinDir = *bin
	cfg.EdgeAddr = *edgeAddr
	for name, p := range ports {
		if *p < 0 || *p > 65535 {
			return cfg, fmt.Errorf("-%s-port %d: not a port", name, *p)
		}
		cfg.Ports[name] = *p
	}
	cfg.PGPort, cfg.KafkaPort = *pgPort, *kafkaPort
	if *replicas < 1 || *replicas > 20 {
		return cfg, fmt.Errorf("-replicas %d: want 1 to 20", *replicas)
	}
	if *partitions < 1 {
		return cfg, fmt.Errorf("-partitions %d: want at least 1", *partitions)
	}
	cfg.Replicas, cfg.Partitions = *replicas, *partitions
	cfg.ReadyTimeout, cfg.StopTimeout, cfg.Restart = *timeout, *stopTimeout, *restart

	cfg.DatabaseURL = getenv("DATABASE_URL")
	cfg.ServiceDatabaseURLs = map[string]string{}
	for _, name := range edge.Services {
		if u := getenv(stack.ServiceDatabaseEnv(name)); u != "" {
			cfg.ServiceDatabaseURLs[name] = u
		}
	}
	for _, b := range strings.Split(getenv("KAFKA_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.KafkaBrokers = append(cfg.KafkaBrokers, b)
		}
	}
	cfg.AdminEmail = getenv("BOOTSTRAP_ADMIN_EMAIL")
	cfg.AdminPassword = getenv("BOOTSTRAP_ADMIN_PASSWORD")
	cfg.SigningKeyFile = getenv("JWT_SIGNING_KEY_FILE")
	return cfg, nil
}

// findRepo walks up from dir to the directory holding go.work.
func findRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, "go.work")); err == nil && fi.Mode().IsRegular() {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work in %s or above: run devstack inside the repository or pass -repo", dir)
		}
	}
}
