package stack

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/fundplatform/platform/devstack/broker"
	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/internal/logmux"
	"github.com/fundplatform/platform/devstack/internal/supervisor"
	"github.com/fundplatform/platform/libs/pg/pgcluster"
)

// Stack is a running dev stack.
type Stack struct {
	cfg  Config
	mux  *logmux.Mux
	lock *os.File

	pg        *pgcluster.Cluster
	pgLog     *os.File
	pgLogDone chan struct{}
	broker    *broker.Broker
	sup       *supervisor.Supervisor
	procs     map[string]*supervisor.Process
	edgeLn    net.Listener
	edgeSrv   *http.Server
	edgeH     *edge.Handler
	edgeTP    *sdktrace.TracerProvider // the edge's spans (nil without a collector)
	edgeErr   chan error
	internal  []*http.Server // the balancing service addresses (Config.Replicas > 1)
	pools     []*edge.Pool

	mu   sync.Mutex
	pids []int // processes started outside the supervisor (PostgreSQL)

	ready    Ready
	stopOnce sync.Once
	stopReq  chan struct{}
	done     chan struct{}
	err      error
}

// Ready describes a stack that is up: what Run printed in its banner.
type Ready struct {
	// EdgeURL is the base URL of the edge, e.g. "http://127.0.0.1:8080".
	EdgeURL string
	// Services are the services started, in start order.
	Services []ServiceInfo
	// Skipped are the services not started because BinDir has no binary
	// for them.
	Skipped []string
	// KafkaBrokers are the bootstrap brokers the services were given;
	// KafkaEmbedded says they are the in-process broker.
	KafkaBrokers  []string
	KafkaEmbedded bool
	// PostgresURL is the local throwaway cluster's admin URL ("" when
	// every database came from the environment).
	PostgresURL string
	// The bootstrap admin the auth service creates on first start.
	AdminEmail    string
	AdminPassword string
	// SigningKeyFile is the auth service's JWT signing key.
	SigningKeyFile string
	// CheckpointKeyFile is the withdrawal service's ledger checkpoint key.
	CheckpointKeyFile string
	// Exporters are the PostgreSQL exporters, one per service database
	// (none when prometheus-postgres-exporter is not installed).
	Exporters []Exporter
	// OTLPEndpoint is the trace collector's OTLP/HTTP endpoint the
	// services and the edge export to, and TracesFile where it writes the
	// spans (both empty when the stack runs no collector: see
	// CollectorBinary).
	OTLPEndpoint string
	TracesFile   string

	authDBKept bool // auth's database is not the throwaway one
}

// ServiceInfo is one running service.
type ServiceInfo struct {
	Name string
	Port int
	// URL is the service's own base URL (it serves /healthz, /readyz,
	// /metrics and /openapi.json there).
	URL string
	// DatabaseURL is the URL it was given (with any password).
	DatabaseURL string
	// Env are the variables the stack set for it on top of the inherited
	// environment.
	Env []string
	// Binary is the executable started.
	Binary string
	// EnvFile holds Env as shell assignments (mode 0600), for starting the
	// service by hand: (set -a; . EnvFile; exec Binary).
	EnvFile string
	// Replicas are all its processes, the first (Name, Port, URL, Env and
	// EnvFile above) included.
	Replicas []Replica
	// InternalURL is the address the other services reach it at: its URL
	// with one replica, a balancing address over the replicas with more.
	InternalURL string
}

// Replica is one process of a service.
type Replica struct {
	// Name names the process (its log tag, KillService…): the service's
	// name for the first replica, "<service>-<k>" for replica k after it.
	Name    string
	Port    int
	URL     string
	EnvFile string
}

// ReplicaName is the process name of a service's replica k (from 1).
func ReplicaName(service string, k int) string {
	if k <= 1 {
		return service
	}
	return fmt.Sprintf("%s-%d", service, k)
}

// Run starts the stack and returns once every started service is ready and
// the banner is printed; if that fails, everything already started is
// stopped again and the error says why. The stack then runs until ctx is
// done or Stop is called.
func Run(ctx context.Context, cfg Config) (*Stack, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Stack{
		cfg:     cfg,
		mux:     logmux.New(cfg.Out),
		procs:   map[string]*supervisor.Process{},
		edgeErr: make(chan error, 1),
		stopReq: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := s.start(ctx); err != nil {
		s.shutdown()
		return nil, err
	}
	go s.monitor(ctx)
	return s, nil
}

// Ready describes the running stack.
func (s *Stack) Ready() Ready { return s.ready }

// Stop stops the stack — the edge, then the services (SIGTERM to each
// process group, SIGKILL after StopTimeout), the broker and the PostgreSQL
// cluster — and returns once all of it is gone. It may be called more than
// once.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() { close(s.stopReq) })
	return s.Wait()
}

// Wait blocks until the stack has stopped (after Stop, once ctx is done, or
// when the edge fails) and returns the error that stopped it, if any.
func (s *Stack) Wait() error {
	<-s.done
	return s.err
}

// PIDs lists every process the stack has started: each run of each service
// and the PostgreSQL server. After Stop none of them is alive.
func (s *Stack) PIDs() []int {
	s.mu.Lock()
	pids := slices.Clone(s.pids)
	s.mu.Unlock()
	if s.sup != nil {
		pids = append(pids, s.sup.PIDs()...)
	}
	return pids
}

// ServicePID is the pid of a service's running process, 0 when it is not
// running (not started, or exited and not restarted yet). Name is a
// replica's name (see Replica.Name): a service's name is its first
// replica.
func (s *Stack) ServicePID(name string) int {
	if p, ok := s.procs[name]; ok {
		return p.PID()
	}
	return 0
}

// KillService sends SIGKILL to a service's running process, as a crash
// would, and returns its pid. With Config.Restart the supervisor starts it
// again; ServicePID then answers the new pid.
func (s *Stack) KillService(name string) (int, error) {
	pid := s.ServicePID(name)
	if pid == 0 {
		return 0, fmt.Errorf("%s is not running", name)
	}
	s.logf("killing %s (pid %d) with SIGKILL", name, pid)
	return pid, syscall.Kill(pid, syscall.SIGKILL)
}

func (s *Stack) addPID(pid int) {
	s.mu.Lock()
	s.pids = append(s.pids, pid)
	s.mu.Unlock()
}

func (s *Stack) logf(format string, args ...any) { s.mux.Printf("devstack", format, args...) }

func (s *Stack) monitor(ctx context.Context) {
	select {
	case <-ctx.Done():
		s.logf("stopping (%v)", context.Cause(ctx))
	case err := <-s.edgeErr:
		s.err = fmt.Errorf("edge: %w", err)
		s.logf("stopping: %v", s.err)
	case <-s.stopReq:
		s.logf("stopping")
	}
	s.shutdown()
	close(s.done)
}

func (s *Stack) start(ctx context.Context) error {
	cfg := s.cfg
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return err
	}
	if err := s.acquireLock(); err != nil {
		return err
	}

	services, err := s.selectServices()
	if err != nil {
		return err
	}
	// Fixed ports are checked before anything starts; free ones are picked
	// only once PostgreSQL and the broker hold theirs (below), so a released
	// pick cannot be handed to them as well.
	if _, err := s.allocatePorts(services, false); err != nil {
		return err
	}
	if err := s.listenEdge(); err != nil {
		return err
	}

	// The auth service's secrets.
	s.ready.AdminEmail, s.ready.AdminPassword = cfg.AdminEmail, cfg.AdminPassword
	if s.ready.AdminPassword == "" {
		if s.ready.AdminPassword, err = NewPassword(24); err != nil {
			return err
		}
	}
	s.ready.SigningKeyFile = cfg.SigningKeyFile
	if s.ready.SigningKeyFile == "" {
		s.ready.SigningKeyFile = filepath.Join(cfg.StateDir, "jwt-signing-key.pem")
		if err := WriteSigningKey(s.ready.SigningKeyFile); err != nil {
			return fmt.Errorf("write the JWT signing key: %w", err)
		}
	}
	if s.ready.CheckpointKeyFile, err = checkpointKeyFile(cfg.StateDir); err != nil {
		return err
	}

	dbURLs, err := s.setupDatabases(ctx, services)
	if err != nil {
		return err
	}
	if s.pg != nil {
		s.ready.PostgresURL = s.pg.URL("postgres")
	}
	if u, ok := dbURLs[edge.Auth]; ok && (s.pg == nil || u != s.pg.URL(edge.Auth)) {
		s.ready.authDBKept = true
	}

	if len(cfg.KafkaBrokers) > 0 {
		s.ready.KafkaBrokers = cfg.KafkaBrokers
		s.logf("using Kafka at %s (KAFKA_BROKERS)", strings.Join(cfg.KafkaBrokers, ","))
	} else {
		if s.broker, err = broker.StartPartitions(cfg.KafkaPort, cfg.Partitions, s.mux.Writer("kafka")); err != nil {
			return err
		}
		s.ready.KafkaBrokers, s.ready.KafkaEmbedded = s.broker.Addrs(), true
		s.logf("in-process Kafka (kfake) listens on %s with topics %s (%d partitions each)",
			strings.Join(s.ready.KafkaBrokers, ","), strings.Join(broker.Topics, ", "), s.broker.PartitionCount())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ports, internalLn, err := s.reservePorts(services)
	if err != nil {
		return err
	}
	internal, err := s.serveInternal(services, ports, internalLn)
	if err != nil {
		return err
	}

	s.sup = supervisor.New(supervisor.Options{
		Restart: cfg.Restart,
		Logf:    s.logf,
	})
	if err := s.startCollector(ports); err != nil {
		return err
	}
	type start struct {
		info ServiceInfo
		r    Replica
		env  []string
	}
	var later []start // replicas 2…N, started once the first ones are ready
	for _, name := range services {
		info := ServiceInfo{
			Name:        name,
			DatabaseURL: dbURLs[name],
			Binary:      filepath.Join(cfg.BinDir, name),
			InternalURL: internal[name],
		}
		for k := 1; k <= cfg.Replicas; k++ {
			r := Replica{Name: ReplicaName(name, k), Port: ports[ReplicaName(name, k)]}
			r.URL = fmt.Sprintf("http://127.0.0.1:%d", r.Port)
			r.EnvFile = filepath.Join(cfg.StateDir, r.Name+".env")
			env := s.serviceEnv(name, r, dbURLs[name], internal)
			if err := writeEnvFile(r.EnvFile, env); err != nil {
				return err
			}
			if k == 1 {
				info.Port, info.URL, info.Env, info.EnvFile = r.Port, r.URL, env, r.EnvFile
				if err := s.startReplica(info, r, env); err != nil {
					return err
				}
			} else {
				later = append(later, start{info, r, env})
			}
			info.Replicas = append(info.Replicas, r)
		}
		if info.InternalURL == "" {
			info.InternalURL = info.URL
		}
		s.ready.Services = append(s.ready.Services, info)
	}

	if err := s.startExporters(services, dbURLs, ports); err != nil {
		return err
	}
	s.serveEdge(services)

	if err := s.waitReady(ctx, s.firstReplicas()); err != nil {
		return err
	}
	var rest []Replica
	for _, l := range later {
		if err := s.startReplica(l.info, l.r, l.env); err != nil {
			return err
		}
		rest = append(rest, l.r)
	}
	if err := s.waitReady(ctx, rest); err != nil {
		return err
	}
	s.mux.Raw(s.ready.Banner())
	return nil
}

// acquireLock makes sure only one stack uses StateDir at a time: a second
// one would wipe the first one's database.
func (s *Stack) acquireLock() error {
	path := filepath.Join(s.cfg.StateDir, "devstack.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("another dev stack is running with %s (its lock %s is held)", s.cfg.StateDir, path)
	}
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	s.lock = f
	return nil
}

// selectServices lists the services to start, in start order.
func (s *Stack) selectServices() ([]string, error) {
	if s.cfg.Services != nil {
		for _, name := range s.cfg.Services {
			if !isExecutable(filepath.Join(s.cfg.BinDir, name)) {
				return nil, fmt.Errorf("no executable %s in %s", name, s.cfg.BinDir)
			}
		}
		return s.cfg.Services, nil
	}
	var services []string
	for _, name := range edge.Services {
		if isExecutable(filepath.Join(s.cfg.BinDir, name)) {
			services = append(services, name)
		} else {
			s.ready.Skipped = append(s.ready.Skipped, name)
		}
	}
	if len(services) > 0 {
		s.logf("services found in %s: %s", s.cfg.BinDir, strings.Join(services, ", "))
	}
	if len(s.ready.Skipped) > 0 {
		s.logf("not starting %s: no binary in %s (build them first: make run does)",
			strings.Join(s.ready.Skipped, ", "), s.cfg.BinDir)
	}
	return services, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// allocatePorts checks that each replica's fixed port is free and, when
// pickFree is set, picks a free one for port 0; the ports are keyed by
// replica name. The kernel may hand a released port out again, so the
// picks are made only after every other listener of the stack (PostgreSQL,
// the broker, the edge, the balancers) is bound; the PostgreSQL exporters'
// ports are picked with them.
func (s *Stack) allocatePorts(services []string, pickFree bool) (map[string]int, error) {
	ports := map[string]int{}
	used := map[int]string{}
	for _, name := range services {
		env := strings.ToUpper(name) + "_PORT"
		for k := 1; k <= s.cfg.Replicas; k++ {
			rname := ReplicaName(name, k)
			p := s.cfg.Ports[name]
			if p != 0 {
				p += 10 * (k - 1)
			}
			if p == 0 {
				if !pickFree {
					continue
				}
				for {
					var err error
					if p, err = pgcluster.FreePort(); err != nil {
						return nil, err
					}
					if _, taken := used[p]; !taken {
						break
					}
				}
			} else {
				if other, taken := used[p]; taken {
					return nil, fmt.Errorf("%s and %s both have port %d (set %s)", other, rname, p, env)
				}
				l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
				if err != nil {
					return nil, fmt.Errorf("port %d for %s is not free (set %s or -%s-port): %w", p, rname, env, name, err)
				}
				l.Close()
			}
			ports[rname], used[p] = p, rname
		}
	}
	var extra []string // the exporters' and the collector's ports
	if pickFree && s.cfg.PostgresExporters {
		for _, name := range services {
			extra = append(extra, exporterName(name))
		}
	}
	if pickFree && s.wantCollector() {
		extra = append(extra, collectorName)
	}
	// Picked here too, so none of them can be a replica's that is not
	// listening yet.
	for _, name := range extra {
		for {
			p, err := pgcluster.FreePort()
			if err != nil {
				return nil, err
			}
			if _, taken := used[p]; !taken {
				ports[name], used[p] = p, name
				break
			}
		}
	}
	return ports, nil
}

// serviceEnv is what the stack sets for one replica of a service.
func (s *Stack) serviceEnv(name string, r Replica, dbURL string, internal map[string]string) []string {
	env := []string{
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(r.Port),
		"DATABASE_URL=" + dbURL,
		"KAFKA_BROKERS=" + strings.Join(s.ready.KafkaBrokers, ","),
		"JWKS_URL=" + internal[edge.Auth] + "/.well-known/jwks.json",
		"AUTH_URL=" + internal[edge.Auth],
		"PORTFOLIO_URL=" + internal[edge.Portfolio],
		"APP_ENV=development",
		"SERVICE_NAME=" + name,
	}
	if s.cfg.Replicas > 1 {
		// Readiness answers 503 for a second after SIGTERM before the
		// listener closes: the edge (polling /readyz every 200 ms) stops
		// sending to a replica that is going away, as Kubernetes does.
		env = append(env, "SHUTDOWN_DRAIN_DELAY=1s")
	}
	if name == edge.Auth {
		env = append(env,
			"BOOTSTRAP_ADMIN_EMAIL="+s.ready.AdminEmail,
			"BOOTSTRAP_ADMIN_PASSWORD="+s.ready.AdminPassword,
			"JWT_SIGNING_KEY_FILE="+s.ready.SigningKeyFile)
	}
	if name == edge.Withdrawal {
		env = append(env, "LEDGER_CHECKPOINT_KEY_FILE="+s.ready.CheckpointKeyFile, "LEDGER_CHECKPOINT_INTERVAL="+CheckpointInterval)
	}
	env = append(env, s.traceEnv()...)
	return MergeEnv(env, s.cfg.ServiceEnv[name])
}

// startReplica starts one process of a service.
func (s *Stack) startReplica(info ServiceInfo, r Replica, env []string) error {
	p, err := s.sup.Start(supervisor.Spec{
		Name:   r.Name,
		Path:   info.Binary,
		Env:    MergeEnv(s.cfg.Env, env),
		Stdout: s.mux.Writer(r.Name),
		Stderr: s.mux.Writer(r.Name),
		ExitHint: fmt.Sprintf("    to start it by hand (in another terminal): (set -a; . %s; exec %s)",
			shellQuote(r.EnvFile), shellQuote(info.Binary)),
	})
	if err != nil {
		return err
	}
	s.procs[r.Name] = p
	s.logf("started %s on %s (pid %d)", r.Name, r.URL, p.PID())
	return nil
}

// firstReplicas are the first replica of every started service.
func (s *Stack) firstReplicas() []Replica {
	var out []Replica
	for _, info := range s.ready.Services {
		out = append(out, info.Replicas[0])
	}
	return out
}

// reservePorts binds the balancers' listeners, then picks every replica's
// and exporter's port. In that order: a picked port is only released until
// its process binds it, so a later bind on port 0 could be handed it.
func (s *Stack) reservePorts(services []string) (map[string]int, map[string]net.Listener, error) {
	lns, err := s.listenInternal(services)
	if err != nil {
		return nil, nil, err
	}
	ports, err := s.allocatePorts(services, true)
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return nil, nil, err
	}
	return ports, lns, nil
}

// balancedServices are the services the others call: with more than one
// replica, each is reached through a balancing pool on its own port.
var balancedServices = []string{edge.Auth, edge.Portfolio}

// listenInternal binds the loopback listener of each balancing pool (none
// with one replica per service).
func (s *Stack) listenInternal(services []string) (map[string]net.Listener, error) {
	lns := map[string]net.Listener{}
	if s.cfg.Replicas == 1 {
		return lns, nil
	}
	for _, name := range balancedServices {
		if !slices.Contains(services, name) {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns[name] = ln
	}
	return lns, nil
}

// serveInternal returns the address each service is reached at by the
// others: its first replica's with one replica per service; with more, a
// balancing pool (edge.Pool, internal) over its replicas, served on the
// listener listenInternal bound for it.
func (s *Stack) serveInternal(services []string, ports map[string]int, lns map[string]net.Listener) (map[string]string, error) {
	urls := map[string]string{}
	for _, name := range balancedServices {
		port := ports[name]
		if port == 0 {
			port = s.cfg.Ports[name] // not started here: the default address
		}
		urls[name] = fmt.Sprintf("http://127.0.0.1:%d", port)
		ln, ok := lns[name]
		if !ok {
			continue
		}
		var bases []string
		for k := 1; k <= s.cfg.Replicas; k++ {
			bases = append(bases, fmt.Sprintf("http://127.0.0.1:%d", ports[ReplicaName(name, k)]))
		}
		pool, err := edge.NewPool(name, bases, edge.PoolOptions{
			Internal: true,
			Logger:   slog.New(slog.NewJSONHandler(s.mux.Writer("edge"), nil)),
		})
		if err != nil {
			return nil, err
		}
		s.pools = append(s.pools, pool)
		srv := edge.NewServer(pool)
		s.internal = append(s.internal, srv)
		go func() { _ = srv.Serve(ln) }()
		urls[name] = "http://" + ln.Addr().String()
		s.logf("%s's replicas are reached by the other services at %s", name, urls[name])
	}
	return urls, nil
}

// listenEdge binds the edge's address early, so a busy port fails the start
// before anything else is started.
func (s *Stack) listenEdge() error {
	addr := s.cfg.EdgeAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("edge address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if s.edgeLn, err = net.Listen("tcp", net.JoinHostPort(host, port)); err != nil {
		return fmt.Errorf("edge: listen on %s (set EDGE_ADDR or -edge-addr): %w", net.JoinHostPort(host, port), err)
	}
	s.ready.EdgeURL = "http://" + s.edgeLn.Addr().String()
	return nil
}

func (s *Stack) serveEdge(services []string) {
	replicas := map[string][]string{}
	for _, info := range s.ready.Services {
		for _, r := range info.Replicas {
			replicas[info.Name] = append(replicas[info.Name], r.URL)
		}
	}
	cfg := edge.Config{
		Replicas:      replicas,
		Logger:        slog.New(slog.NewJSONHandler(s.mux.Writer("edge"), nil)),
		RateLimits:    edge.DevStackRateLimits(),
		ExemptClients: edge.DevStackExemptClients,
	}
	if s.edgeTP = s.edgeTracerProvider(); s.edgeTP != nil {
		cfg.TracerProvider = s.edgeTP
	}
	h, err := edge.New(cfg)
	if err != nil {
		// Backends are built from our own ports above; cannot happen.
		panic(err)
	}
	s.edgeH = h
	s.edgeSrv = edge.NewServer(h)
	s.edgeSrv.ErrorLog = log.New(s.mux.Writer("edge"), "", 0)
	ln := s.edgeLn
	go func() {
		if err := s.edgeSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.edgeErr <- err
		}
	}()
	s.logf("edge listens on %s", s.ready.EdgeURL)
}

// waitReady polls the replicas' /readyz until all answer 200.
func (s *Stack) waitReady(ctx context.Context, replicas []Replica) error {
	if len(replicas) == 0 {
		return nil
	}
	deadline := time.Now().Add(s.cfg.ReadyTimeout)
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	pending := map[string]string{}
	for _, r := range replicas {
		pending[r.Name] = "not polled yet"
	}
	s.logf("waiting up to %v for %d service process(es) to be ready", s.cfg.ReadyTimeout, len(pending))
	for {
		for _, r := range replicas {
			if _, ok := pending[r.Name]; !ok {
				continue
			}
			if !s.cfg.Restart {
				select {
				case <-s.procs[r.Name].Done():
					return fmt.Errorf("%s exited before it was ready: %v", r.Name, s.procs[r.Name].Err())
				default:
				}
			}
			if problem := probe(ctx, client, r.URL+"/readyz"); problem != "" {
				pending[r.Name] = problem
			} else {
				delete(pending, r.Name)
				s.logf("%s is ready", r.Name)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var why []string
			for _, r := range replicas {
				if p, ok := pending[r.Name]; ok {
					why = append(why, fmt.Sprintf("%s (%s)", r.Name, p))
				}
			}
			return fmt.Errorf("not ready within %v: %s", s.cfg.ReadyTimeout, strings.Join(why, "; "))
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// probe returns "" when url answers 200, else what went wrong.
func probe(ctx context.Context, client *http.Client, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && errno == syscall.ECONNREFUSED {
			return "connection refused"
		}
		return err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "GET /readyz: " + resp.Status
	}
	return ""
}

// shutdown stops whatever has been started, in reverse order.
func (s *Stack) shutdown() {
	if s.edgeSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.edgeSrv.Shutdown(ctx); err != nil {
			s.edgeSrv.Close()
		}
		cancel()
	} else if s.edgeLn != nil {
		s.edgeLn.Close()
	}
	if s.edgeH != nil {
		s.edgeH.Close()
	}
	s.stopEdgeTracing()
	for _, srv := range s.internal {
		srv.Close()
	}
	for _, p := range s.pools {
		p.Close()
	}
	if s.sup != nil {
		if len(s.procs) > 0 {
			s.logf("stopping services (SIGTERM, SIGKILL after %v)", s.cfg.StopTimeout)
		}
		s.sup.Stop(s.cfg.StopTimeout)
	}
	if s.broker != nil {
		s.broker.Close()
	}
	if s.pg != nil {
		s.logf("stopping PostgreSQL")
		s.pg.Stop()
		s.pgLog.Close()
		select {
		case <-s.pgLogDone:
		case <-time.After(2 * time.Second):
		}
	}
	if s.lock != nil {
		s.lock.Close() // releases the flock
	}
	s.logf("stopped")
}

// MergeEnv returns base with the variables of set (KEY=value) replacing any
// of the same name.
func MergeEnv(base, set []string) []string {
	keys := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	out := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !keys[k] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeEnvFile writes env (KEY=value) as shell assignments, readable by its
// owner only: it may hold passwords.
func writeEnvFile(path string, env []string) error {
	var b strings.Builder
	b.WriteString("# Written by the dev stack: the variables it sets for this service on top of\n# the inherited environment. Start the service by hand with\n#   (set -a; . THIS_FILE; exec BINARY)\n")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString(k + "=" + shellQuote(v) + "\n")
	}
	_ = os.Remove(path) // a new file gets mode 0600 whatever the old one had
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
