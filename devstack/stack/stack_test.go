package stack

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/devstack/broker"
	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/internal/proc"
	"github.com/fundplatform/platform/libs/pg/pgcluster"
	"github.com/fundplatform/platform/libs/testkit"
)

// fakeBin is a directory holding the fake service binary under every
// service's name, built once for the package's tests.
var (
	fakeBinOnce sync.Once
	fakeBinDir  string
	fakeBinErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeBinDir != "" {
		os.RemoveAll(fakeBinDir)
	}
	os.Exit(code)
}

func fakeBin(t *testing.T) string {
	t.Helper()
	fakeBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "devstack-fakebin-")
		if err != nil {
			fakeBinErr = err
			return
		}
		fakeBinDir = dir
		bin := filepath.Join(dir, "fakesvc")
		out, err := exec.Command("go", "build", "-o", bin, "./testdata/fakesvc").CombinedOutput()
		if err != nil {
			fakeBinErr = fmt.Errorf("build fakesvc: %v: %s", err, out)
			return
		}
		for _, name := range edge.Services {
			if err := os.Link(bin, filepath.Join(dir, name)); err != nil {
				fakeBinErr = err
				return
			}
		}
	})
	if fakeBinErr != nil {
		t.Fatal(fakeBinErr)
	}
	return fakeBinDir
}

// binWith makes a bin directory with only the named fake services.
func binWith(t *testing.T, names ...string) string {
	t.Helper()
	src := fakeBin(t)
	dir := t.TempDir()
	for _, n := range names {
		if err := os.Link(filepath.Join(src, n), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// stateDir is a state directory the postgres user can reach (t.TempDir's
// directories are private to root).
func stateDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "devstack-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testConfig runs everything on free ports with no PostgreSQL: every
// service gets a dummy database URL (the fake services never connect).
func testConfig(t *testing.T, bin string, out io.Writer) Config {
	t.Helper()
	dbs := map[string]string{}
	for _, s := range edge.Services {
		dbs[s] = "postgres://app:s3cret@db.invalid:5432/" + s
	}
	return Config{
		StateDir:            stateDir(t),
		BinDir:              bin,
		ServiceDatabaseURLs: dbs,
		ReadyTimeout:        20 * time.Second,
		StopTimeout:         5 * time.Second,
		Out:                 out,
	}
}

// runningFrom lists live processes whose executable is in dir.
func runningFrom(dir string) []int {
	return proc.Running(func(exe string) bool { return filepath.Dir(exe) == dir })
}

func assertGone(t *testing.T, pids []int, bin string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var left []int
		for _, p := range pids {
			if proc.Alive(p) {
				left = append(left, p)
			}
		}
		left = append(left, runningFrom(bin)...)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		body, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %d %s: %v", url, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode
}

func TestRunStartsServicesBehindTheEdgeAndStopsThemAll(t *testing.T) {
	bin := binWith(t, edge.Services...)
	var out testkit.SyncBuffer
	cfg := testConfig(t, bin, &out)
	cfg.Env = append(os.Environ(), "INHERITED_VAR=kept", "HTTP_ADDR=0.0.0.0:1") // the stack's own value wins
	cfg.ServiceEnv = map[string][]string{edge.Stats: {"DEBUG_ADDR=127.0.0.1:6060", "INHERITED_VAR=stats-only"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	stopped := false
	defer func() {
		if !stopped {
			s.Stop()
		}
	}()
	r := s.Ready()

	// Every service is up, on a port of its own, and reported.
	if len(r.Services) != len(edge.Services) || len(r.Skipped) != 0 {
		t.Fatalf("services = %+v, skipped %v", r.Services, r.Skipped)
	}
	if !r.KafkaEmbedded || len(r.KafkaBrokers) != 1 || !strings.HasPrefix(r.KafkaBrokers[0], "127.0.0.1:") {
		t.Fatalf("kafka = %v embedded=%v", r.KafkaBrokers, r.KafkaEmbedded)
	}
	if r.PostgresURL != "" {
		t.Fatalf("a local cluster was started although every service has its own URL: %s", r.PostgresURL)
	}
	if r.AdminEmail != DefaultAdminEmail || len(r.AdminPassword) < 20 {
		t.Fatalf("admin = %q / %q", r.AdminEmail, r.AdminPassword)
	}

	// Each service got its environment.
	authPort := r.Services[0].Port
	var portfolioPort int
	for _, svc := range r.Services {
		if svc.Name == edge.Portfolio {
			portfolioPort = svc.Port
		}
	}
	for _, svc := range r.Services {
		var env map[string]string
		getJSON(t, svc.URL+"/env", &env)
		want := map[string]string{
			"HTTP_ADDR":     fmt.Sprintf("127.0.0.1:%d", svc.Port),
			"DATABASE_URL":  "postgres://app:s3cret@db.invalid:5432/" + svc.Name,
			"KAFKA_BROKERS": r.KafkaBrokers[0],
			"JWKS_URL":      fmt.Sprintf("http://127.0.0.1:%d/.well-known/jwks.json", authPort),
			"AUTH_URL":      fmt.Sprintf("http://127.0.0.1:%d", authPort),
			"PORTFOLIO_URL": fmt.Sprintf("http://127.0.0.1:%d", portfolioPort),
			"APP_ENV":       "development",
			"SERVICE_NAME":  svc.Name,
			"INHERITED_VAR": "kept",
		}
		if svc.Name == edge.Stats {
			want["DEBUG_ADDR"], want["INHERITED_VAR"] = "127.0.0.1:6060", "stats-only"
		} else if env["DEBUG_ADDR"] != "" {
			t.Errorf("%s got stats' DEBUG_ADDR", svc.Name)
		}
		if svc.Name == edge.Auth {
			want["BOOTSTRAP_ADMIN_EMAIL"] = r.AdminEmail
			want["BOOTSTRAP_ADMIN_PASSWORD"] = r.AdminPassword
			want["JWT_SIGNING_KEY_FILE"] = filepath.Join(cfg.StateDir, "jwt-signing-key.pem")
		} else if _, ok := env["BOOTSTRAP_ADMIN_PASSWORD"]; ok && os.Getenv("BOOTSTRAP_ADMIN_PASSWORD") == "" {
			t.Errorf("%s got the admin password", svc.Name)
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s: %s = %q, want %q", svc.Name, k, env[k], v)
			}
		}
	}

	// The signing key is a private Ed25519 PKCS#8 PEM, readable by its owner only.
	keyFile := filepath.Join(cfg.StateDir, "jwt-signing-key.pem")
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key: %v %v", fi, err)
	}
	pemBytes, _ := os.ReadFile(keyFile)
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("signing key is not a PRIVATE KEY PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Fatal(err)
	} else if _, ok := k.(ed25519.PrivateKey); !ok {
		t.Fatalf("signing key is a %T", k)
	}

	// The edge routes every prefix to its service and answers health itself.
	for _, route := range edge.Routes {
		var got map[string]string
		p := strings.TrimSuffix(route.Prefix, "/") + "/x"
		if code := getJSON(t, r.EdgeURL+p, &got); code != 200 || got["service"] != route.Service || got["path"] != p {
			t.Errorf("edge %s → %d %v, want %s", p, code, got, route.Service)
		}
	}
	var health map[string]string
	if getJSON(t, r.EdgeURL+"/api/v1/health", &health); health["status"] != "healthy" {
		t.Fatalf("health = %v", health)
	}

	// Output: the services' lines carry their tag; the banner is there.
	log := out.String()
	for _, want := range []string{
		"auth       | {\"level\":\"INFO\",\"msg\":\"listening\"",
		"withdrawal | {\"level\":\"INFO\",\"msg\":\"a line on stderr\"}",
		"edge       | {",
		"Fund platform dev stack is ready",
		r.EdgeURL, r.AdminPassword,
		"postgres://app:xxxxx@db.invalid:5432/auth", // redacted
	} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(log, "s3cret") {
		t.Error("output shows a database password")
	}

	// A service that dies is reported; the rest keeps running, and the
	// edge answers 503 for it.
	victim := s.ServicePID(edge.Portfolio)
	if victim == 0 || !proc.Alive(victim) {
		t.Fatalf("portfolio's pid %d", victim)
	}
	syscall.Kill(victim, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "portfolio exited: signal: killed") {
		if time.Now().After(deadline) {
			t.Fatalf("crash not reported:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	hint := fmt.Sprintf("to start it by hand (in another terminal): (set -a; . %s; exec %s)",
		filepath.Join(cfg.StateDir, "portfolio.env"), filepath.Join(bin, "portfolio"))
	if !strings.Contains(out.String(), hint) {
		t.Errorf("no hint how to start it by hand:\n%s", out.String())
	}
	var env map[string]any
	if code := getJSON(t, r.EdgeURL+"/api/v1/portfolios", &env); code != http.StatusServiceUnavailable {
		t.Errorf("edge for a dead service: %d %v", code, env)
	}
	if code := getJSON(t, r.EdgeURL+"/api/v1/users", nil); code != 200 {
		t.Errorf("auth stopped working after portfolio died: %d", code)
	}

	// The hint works: portfolio started by hand is reachable through the
	// edge again.
	byHand := exec.Command("/bin/sh", "-c", hint[strings.Index(hint, "(set -a"):])
	byHand.Stdout, byHand.Stderr = &out, &out
	byHand.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := byHand.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-byHand.Process.Pid, syscall.SIGKILL); byHand.Wait() }()
	deadline = time.Now().Add(10 * time.Second)
	for getStatus(r.EdgeURL+"/api/v1/portfolios") != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("portfolio started by hand is not reachable through the edge:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(-byHand.Process.Pid, syscall.SIGTERM)
	byHand.Wait()

	// Stop: every process is gone, the ports are free again.
	pids := s.PIDs()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	assertGone(t, pids, bin)
	if _, err := net.Dial("tcp", strings.TrimPrefix(r.EdgeURL, "http://")); err == nil {
		t.Error("edge still accepts connections after Stop")
	}
	if _, err := net.Dial("tcp", r.KafkaBrokers[0]); err == nil {
		t.Error("broker still accepts connections after Stop")
	}
	if err := s.Wait(); err != nil {
		t.Errorf("Wait after Stop: %v", err)
	}
}

func TestContextCancelStopsTheStack(t *testing.T) {
	bin := binWith(t, edge.Auth, edge.Stats)
	cfg := testConfig(t, bin, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Ready()
	if len(r.Services) != 2 || strings.Join(r.Skipped, ",") != "portfolio,profit,withdrawal" {
		t.Fatalf("started %v, skipped %v", r.Services, r.Skipped)
	}
	// A route to a service that is not running answers 503.
	if code := getJSON(t, r.EdgeURL+"/api/v1/profit/ratios", nil); code != http.StatusServiceUnavailable {
		t.Errorf("route to an absent service: %d", code)
	}
	pids := s.PIDs()
	cancel()
	done := make(chan error)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("stack did not stop after ctx was cancelled")
	}
	assertGone(t, pids, bin)
}

func TestNotReadyTimesOutAndCleansUp(t *testing.T) {
	bin := binWith(t, edge.Services...)
	var out testkit.SyncBuffer
	cfg := testConfig(t, bin, &out)
	cfg.ReadyTimeout = 1500 * time.Millisecond
	cfg.Env = append(os.Environ(), "FAKESVC_PROFIT=never-ready", "FAKESVC_STATS=never-ready")
	start := time.Now()
	s, err := Run(context.Background(), cfg)
	if err == nil {
		s.Stop()
		t.Fatal("Run succeeded with services that never get ready")
	}
	msg := err.Error()
	if !strings.Contains(msg, "profit (GET /readyz: 503") || !strings.Contains(msg, "stats (GET /readyz: 503") ||
		strings.Contains(msg, "auth") {
		t.Fatalf("error does not name exactly the services not ready: %v", err)
	}
	if d := time.Since(start); d > 12*time.Second {
		t.Fatalf("took %v", d)
	}
	assertGone(t, nil, bin)
	// The state dir is free again: a new stack can start there.
	cfg.Env = os.Environ()
	cfg.ReadyTimeout = 20 * time.Second
	s, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	s.Stop()
	assertGone(t, nil, bin)
}

func TestServiceThatCrashesAtStartFailsFast(t *testing.T) {
	bin := binWith(t, edge.Services...)
	cfg := testConfig(t, bin, io.Discard)
	cfg.Env = append(os.Environ(), "FAKESVC_WITHDRAWAL=crash")
	start := time.Now()
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "withdrawal exited before it was ready: exit status 3") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v; a crash should not wait for the ready timeout", d)
	}
	assertGone(t, nil, bin)
}

func TestRestartBringsACrashedServiceBack(t *testing.T) {
	bin := binWith(t, edge.Auth)
	var out testkit.SyncBuffer
	cfg := testConfig(t, bin, &out)
	cfg.Restart = true
	s, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	first := s.ServicePID(edge.Auth)
	if pids := s.PIDs(); len(pids) != 1 || pids[0] != first {
		t.Fatalf("PIDs = %v, auth %d", pids, first)
	}
	syscall.Kill(first, syscall.SIGKILL)
	url := s.Ready().Services[0].URL + "/readyz"
	deadline := time.Now().Add(10 * time.Second)
	for pid := s.ServicePID(edge.Auth); pid == 0 || pid == first || getStatus(url) != 200; pid = s.ServicePID(edge.Auth) {
		if time.Now().After(deadline) {
			t.Fatalf("auth not restarted:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "restarting auth in 1s") {
		t.Errorf("restart not logged:\n%s", out.String())
	}
	pids := s.PIDs()
	s.Stop()
	assertGone(t, pids, bin)
}

func getStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSecondStackOnTheSameStateDirIsRefused(t *testing.T) {
	bin := binWith(t, edge.Auth)
	cfg := testConfig(t, bin, io.Discard)
	s, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	_, err = Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "another dev stack is running") {
		t.Fatalf("second Run: %v", err)
	}
}

func TestBusyPortsAreReportedBeforeAnythingStarts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	bin := binWith(t, edge.Auth)

	cfg := testConfig(t, bin, io.Discard)
	cfg.Ports = map[string]int{edge.Auth: busy}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "AUTH_PORT") {
		t.Fatalf("busy service port: %v", err)
	}
	cfg = testConfig(t, bin, io.Discard)
	cfg.EdgeAddr = l.Addr().String()
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "EDGE_ADDR") {
		t.Fatalf("busy edge port: %v", err)
	}
	cfg = testConfig(t, bin, io.Discard)
	cfg.KafkaPort = busy
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "KAFKA_PORT") {
		t.Fatalf("busy kafka port: %v", err)
	}
	assertGone(t, nil, bin)
}

func TestExternalKafkaIsPassedOn(t *testing.T) {
	b, err := broker.Start(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bin := binWith(t, edge.Stats)
	cfg := testConfig(t, bin, io.Discard)
	cfg.KafkaBrokers = b.Addrs()
	s, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r := s.Ready()
	if r.KafkaEmbedded || strings.Join(r.KafkaBrokers, ",") != strings.Join(b.Addrs(), ",") {
		t.Fatalf("kafka = %v embedded=%v", r.KafkaBrokers, r.KafkaEmbedded)
	}
	var env map[string]string
	getJSON(t, r.Services[0].URL+"/env", &env)
	if env["KAFKA_BROKERS"] != b.Addrs()[0] {
		t.Fatalf("KAFKA_BROKERS = %q", env["KAFKA_BROKERS"])
	}
}

// TestLocalPostgres starts the stack's own throwaway cluster and checks
// every service's database exists and the server is gone after Stop.
func TestLocalPostgres(t *testing.T) {
	if _, err := exec.LookPath("initdb"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
			t.Skip("no PostgreSQL server binaries")
		}
	}
	bin := binWith(t, edge.Services...)
	var out testkit.SyncBuffer
	cfg := testConfig(t, bin, &out)
	cfg.ServiceDatabaseURLs = map[string]string{edge.Stats: "postgres://stats@elsewhere.invalid/stats"}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	defer s.Stop()
	r := s.Ready()
	if r.PostgresURL == "" {
		t.Fatal("no local cluster reported")
	}
	for _, svc := range r.Services {
		if svc.Name == edge.Stats {
			if svc.DatabaseURL != "postgres://stats@elsewhere.invalid/stats" {
				t.Errorf("stats ignored STATS_DATABASE_URL: %s", svc.DatabaseURL)
			}
			continue
		}
		conn, err := pgx.Connect(ctx, svc.DatabaseURL)
		if err != nil {
			t.Fatalf("%s: %v", svc.Name, err)
		}
		var db string
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != svc.Name {
			t.Errorf("%s: connected to %q (%v)", svc.Name, db, err)
		}
		conn.Close(ctx)
	}
	if !strings.Contains(out.String(), "postgres   | ") {
		t.Error("PostgreSQL's log is not in the output")
	}
	pids := s.PIDs()
	if len(pids) != len(edge.Services)+1 {
		t.Fatalf("PIDs = %v, want the services and the PostgreSQL server", pids)
	}
	s.Stop()
	assertGone(t, pids, bin)
}

// TestDatabaseURLCreatesDatabasesOnThatServer points DATABASE_URL at a
// running server: the stack creates the databases there and starts no
// cluster of its own.
func TestDatabaseURLCreatesDatabasesOnThatServer(t *testing.T) {
	if _, err := exec.LookPath("initdb"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
			t.Skip("no PostgreSQL server binaries")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	server, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Stop()

	bin := binWith(t, edge.Auth, edge.Profit)
	cfg := testConfig(t, bin, io.Discard)
	cfg.ServiceDatabaseURLs = nil
	cfg.DatabaseURL = server.URL("postgres")
	s, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r := s.Ready()
	if r.PostgresURL != "" {
		t.Fatalf("started a local cluster too: %s", r.PostgresURL)
	}
	for _, svc := range r.Services {
		if svc.DatabaseURL != server.URL(svc.Name) {
			t.Errorf("%s: DATABASE_URL %s, want %s", svc.Name, svc.DatabaseURL, server.URL(svc.Name))
		}
		conn, err := pgx.Connect(ctx, svc.DatabaseURL)
		if err != nil {
			t.Fatalf("%s: %v", svc.Name, err)
		}
		conn.Close(ctx)
	}
	if !strings.Contains(r.Banner(), "creates this admin only if its database has no users yet") {
		t.Error("banner does not warn that the admin may already exist")
	}
}

func TestReplicasRunBehindTheEdgeAndSurviveAKill(t *testing.T) {
	bin := binWith(t, edge.Auth, edge.Portfolio, edge.Profit)
	var out testkit.SyncBuffer
	cfg := testConfig(t, bin, &out)
	cfg.Replicas, cfg.Restart = 2, true
	s, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	defer s.Stop()
	r := s.Ready()
	log := out.String()
	for _, svc := range r.Services {
		if len(svc.Replicas) != 2 || svc.Replicas[0].Name != svc.Name || svc.Replicas[1].Name != svc.Name+"-2" ||
			svc.Replicas[0].Port == svc.Replicas[1].Port || svc.Replicas[0].URL != svc.URL {
			t.Fatalf("%s replicas: %+v", svc.Name, svc.Replicas)
		}
		for _, rep := range svc.Replicas {
			if !strings.Contains(r.Banner(), rep.URL) {
				t.Errorf("the banner lacks %s (%s):\n%s", rep.Name, rep.URL, r.Banner())
			}
		}
		// The first replica (which migrates) is ready before the second starts.
		ready, second := strings.Index(log, svc.Name+" is ready"), strings.Index(log, "started "+svc.Name+"-2 ")
		if ready < 0 || second < 0 || second < ready {
			t.Errorf("%s-2 started before %s was ready:\n%s", svc.Name, svc.Name, log)
		}
	}

	// The edge balances over both replicas of profit.
	seen := func() map[string]int {
		addrs := map[string]int{}
		for i := range 8 {
			var echo map[string]string
			if code := getJSON(t, r.EdgeURL+"/api/v1/profit/x", &echo); code != 200 {
				t.Fatalf("request %d: %d", i, code)
			}
			addrs[echo["addr"]]++
		}
		return addrs
	}
	if addrs := seen(); len(addrs) != 2 {
		t.Errorf("requests reached %v, want both replicas", addrs)
	}

	// The other services reach auth and portfolio through a balancing
	// address of their own, not one replica.
	var env map[string]string
	getJSON(t, r.Services[2].URL+"/env", &env)
	auth, _ := s.Service(edge.Auth)
	if env["AUTH_URL"] != auth.InternalURL || env["AUTH_URL"] == auth.URL || env["SHUTDOWN_DRAIN_DELAY"] == "" {
		t.Errorf("profit's AUTH_URL %q (auth's address %q), SHUTDOWN_DRAIN_DELAY %q", env["AUTH_URL"], auth.InternalURL, env["SHUTDOWN_DRAIN_DELAY"])
	}
	var echo map[string]string
	if code := getJSON(t, auth.InternalURL+"/x", &echo); code != 200 || echo["service"] != edge.Auth {
		t.Errorf("GET %s/x = %d %v", auth.InternalURL, code, echo)
	}

	// With one replica killed, every request is still answered.
	if _, err := s.KillService(edge.Profit); err != nil {
		t.Fatal(err)
	}
	if addrs := seen(); len(addrs) == 0 {
		t.Error("no answer")
	}
}

// Every port the stack hands out is distinct: the replicas', the exporters'
// and the balancers' (bound before the others are picked).
func TestReservedPortsAreDistinct(t *testing.T) {
	s := &Stack{cfg: Config{Replicas: 3, PostgresExporters: true, Ports: map[string]int{}}}
	services := []string{edge.Auth, edge.Portfolio, edge.Profit, edge.Withdrawal, edge.Stats}
	for range 50 {
		ports, lns, err := s.reservePorts(services)
		if err != nil {
			t.Fatal(err)
		}
		if len(lns) != 2 || len(ports) != len(services)*4 {
			t.Fatalf("%d balancers, %d ports: %v", len(lns), len(ports), ports)
		}
		owner := map[int]string{}
		for name, p := range ports {
			if other, dup := owner[p]; dup || p == 0 {
				t.Fatalf("port %d given to %s and %s", p, other, name)
			}
			owner[p] = name
		}
		for name, ln := range lns {
			p := ln.Addr().(*net.TCPAddr).Port
			if other, dup := owner[p]; dup {
				t.Fatalf("balancer of %s listens on %s's port %d", name, other, p)
			}
			ln.Close()
		}
	}
}
