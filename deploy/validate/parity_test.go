package validate

// Parity tests: every Go service is started from its real binary with
// exactly the environment docker-compose.yml or the rendered Helm
// Deployments give it. Only what names a place is mapped to this machine:
// host names and ports (to a throwaway PostgreSQL set up by
// deploy/postgres/init-databases.sql, an in-process Kafka broker, a local
// OTLP receiver, the auth service started before the others) and the path
// of the mounted signing key. Each service must become ready, pass the
// health check its deployment runs, and export the span of a traced request.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/jackc/pgx/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fundplatform/platform/devstack/broker"
	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/stack"
	"github.com/fundplatform/platform/libs/observability/otlptest"
	"github.com/fundplatform/platform/libs/pg/pgcluster"
	"github.com/fundplatform/platform/libs/serve/configref"
	"github.com/fundplatform/platform/libs/testkit"
)

// tracingEndpoint enables tracing in the default Helm values, as an
// operator does with --set global.otel.endpoint=….
const tracingEndpoint = "http://otel-collector.observability.svc:4318"

// helmSecrets are the values of the Secrets a Helm release reads, by the
// variable they fill: what an operator puts in them (the chart only names
// them). The database URLs have the shape of compose's; their host is
// mapped like any other.
func helmSecret(service, variable string) (string, bool) {
	switch variable {
	case "DATABASE_URL":
		return fmt.Sprintf("postgres://%s:%s-dev-only@%sdb-rw.databases.svc:5432/%sdb?sslmode=disable", service, service, service, service), true
	case "BOOTSTRAP_ADMIN_PASSWORD":
		return "parity-test-Admin-password-7f3a", true
	}
	return "", false
}

func TestParityCompose(t *testing.T) {
	f := parity(t)
	p := loadComposeWith(t, nil)
	envs := map[string]map[string]string{}
	checks := map[string][]string{}
	for _, name := range edge.Services {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			if v != nil {
				env[k] = *v
			}
		}
		envs[name] = env
		if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Test[0] != "CMD" {
			t.Fatalf("compose %s: healthcheck %v is not a CMD", name, s.HealthCheck)
		}
		checks[name] = s.HealthCheck.Test[1:]
	}
	f.run(t, "compose", envs, false, func(t *testing.T, svc *process) {
		// The image's binary is /app; here it is the service's binary.
		cmd := slices.Clone(checks[svc.name])
		if cmd[0] != "/app" {
			t.Fatalf("compose %s: healthcheck runs %q, not the service binary /app", svc.name, cmd[0])
		}
		if out, err := svc.command(cmd[1:]...).CombinedOutput(); err != nil {
			t.Errorf("compose %s: healthcheck %v fails on a ready service: %v\n%s", svc.name, cmd, err, out)
		}
	})
	// The health check can fail: with the services stopped it does.
	for _, name := range edge.Services {
		svc := &process{name: name, bin: filepath.Join(f.bins, name), env: f.localize(t, "compose", name, envs[name], testkit.FreeAddr(t), testkit.FreeAddr(t))}
		if out, err := svc.command(checks[name][1:]...).CombinedOutput(); err == nil {
			t.Errorf("compose %s: healthcheck passes with nothing listening:\n%s", name, out)
		}
	}
}

func TestParityHelmDefault(t *testing.T) {
	f := parity(t)
	values := valuesFile(t, "")
	setValue(values, tracingEndpoint, "global", "otel", "endpoint")
	f.runHelm(t, "helm (values.yaml, tracing on)", values, false)
}

func TestParityHelmProduction(t *testing.T) {
	f := parity(t)
	values := valuesFile(t, "values-production.yaml")
	if g, _ := values["global"].(map[string]any); g == nil {
		t.Fatal("values-production.yaml has no global block")
	} else if o, _ := g["otel"].(map[string]any); o == nil || o["endpoint"] == "" || o["endpoint"] == nil {
		t.Fatal("values-production.yaml does not enable tracing (global.otel.endpoint)")
	}
	f.runHelm(t, "helm (values-production.yaml)", values, true)
}

// runHelm renders the chart with values and runs every service with its
// Deployment's environment; the probes are the Deployment's own.
func (f *parityFixture) runHelm(t *testing.T, source string, values map[string]any, production bool) {
	envs := map[string]map[string]string{}
	probes := map[string][]string{}
	for _, m := range renderValues(t, values) {
		d, ok := m.obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if !slices.Contains(edge.Services, c.Name) {
				continue
			}
			env := map[string]string{}
			for _, e := range c.Env {
				switch {
				case e.ValueFrom == nil:
					env[e.Name] = e.Value
				case e.ValueFrom.SecretKeyRef != nil:
					v, ok := helmSecret(c.Name, e.Name)
					if !ok {
						t.Fatalf("%s %s: %s comes from Secret %s, whose value the test does not know", source, c.Name, e.Name, e.ValueFrom.SecretKeyRef.Name)
					}
					env[e.Name] = v
				default:
					t.Fatalf("%s %s: %s comes from an unsupported source", source, c.Name, e.Name)
				}
			}
			envs[c.Name] = env
			for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "http" {
					t.Fatalf("%s %s: a probe is not an httpGet on the http port: %+v", source, c.Name, p)
				}
				probes[c.Name] = append(probes[c.Name], p.HTTPGet.Path)
			}
		}
	}
	for _, name := range edge.Services {
		if envs[name] == nil {
			t.Fatalf("%s: no Deployment runs %s", source, name)
		}
	}
	f.run(t, source, envs, production, func(t *testing.T, svc *process) {
		for _, path := range probes[svc.name] {
			if code, err := svc.get(path, nil); err != nil || code != http.StatusOK {
				t.Errorf("%s %s: probe GET %s answered %d (%v)", source, svc.name, path, code, err)
			}
		}
	})
}

// run checks each service's environment against the configuration
// reference, then starts auth and the others with it (localized), and for
// each: ready, healthCheck passes, a traced request's span reaches the
// collector. Every service is stopped with SIGTERM at the end and must exit 0.
func (f *parityFixture) run(t *testing.T, source string, envs map[string]map[string]string, production bool, healthCheck func(*testing.T, *process)) {
	t.Helper()
	for _, name := range edge.Services {
		checkAgainstReference(t, source, name, envs[name], production)
	}
	if t.Failed() {
		t.FailNow()
	}
	auth := f.start(t, source, edge.Auth, envs[edge.Auth], "")
	var others []*process
	for _, name := range edge.Services {
		if name != edge.Auth {
			others = append(others, f.start(t, source, name, envs[name], auth.addr))
		}
	}
	all := append([]*process{auth}, others...)
	for _, svc := range all {
		svc.waitReady(t)
	}
	for _, svc := range all {
		healthCheck(t, svc)
		f.traced(t, svc)
	}
	for _, svc := range all {
		svc.stop(t)
	}
}

// checkAgainstReference compares what a deployment sets with the variables
// the service reads (its table in docs/operations.md, which each service's
// own test keeps equal to its config struct): every variable set must be
// read, and every variable the service cannot run without in a container
// must be set — those production requires, those whose default is a
// loopback address, APP_ENV=production for production, and the tracing
// endpoint.
func checkAgainstReference(t *testing.T, source, service string, env map[string]string, production bool) {
	t.Helper()
	rows, err := configref.Table(configref.Doc(t), service)
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{"OTEL_EXPORTER_OTLP_ENDPOINT": true}
	for _, r := range rows {
		read[r.Name] = true
	}
	for _, k := range keys(env) {
		if !read[k] {
			t.Errorf("%s %s: sets %s, which the service does not read", source, service, k)
		}
	}
	for _, r := range rows {
		need := r.Required() || strings.Contains(r.Default, "127.0.0.1") ||
			(production && strings.HasPrefix(r.Production, "set to"))
		if need && env[r.Name] == "" {
			t.Errorf("%s %s: does not set %s, which the service reads (default %s; production: %s)", source, service, r.Name, r.Default, r.Production)
		}
	}
	if env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "" {
		t.Errorf("%s %s: does not set OTEL_EXPORTER_OTLP_ENDPOINT, although tracing is on", source, service)
	}
	if production && env["APP_ENV"] != "production" {
		t.Errorf("%s %s: APP_ENV is %q, not production", source, service, env["APP_ENV"])
	}
}

// --- the fixture: binaries, PostgreSQL, broker, collector, key ---------------

type parityFixture struct {
	bins    string
	pg      *pgcluster.Cluster
	pgAddr  string
	broker  *broker.Broker
	otlp    *otlptest.Receiver
	keyFile string
}

var (
	fixtureOnce sync.Once
	fixture     *parityFixture
	fixtureErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture != nil {
		fixture.close()
	}
	os.Exit(code)
}

// parity returns the fixture the parity tests share, set up on first use.
func parity(t *testing.T) *parityFixture {
	t.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = newParityFixture() })
	if fixtureErr != nil {
		t.Fatalf("parity fixture: %v", fixtureErr)
	}
	return fixture
}

func newParityFixture() (_ *parityFixture, err error) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "parity-")
	if err != nil {
		return nil, err
	}
	f := &parityFixture{bins: filepath.Join(dir, "bin"), keyFile: filepath.Join(dir, "jwt-signing-key.pem")}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	for _, name := range edge.Services {
		cmd := exec.Command("go", "build", "-o", filepath.Join(f.bins, name), "./services/"+name+"/cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %v\n%s", name, err, out)
		}
	}
	if err := stack.WriteSigningKey(f.keyFile); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if f.pg, err = pgcluster.Start(ctx, pgcluster.Options{}); err != nil {
		return nil, err
	}
	f.pgAddr = fmt.Sprintf("127.0.0.1:%d", f.pg.Port)
	if err := initDatabases(ctx, f.pg.URL("postgres"), filepath.Join(root, "deploy/postgres/init-databases.sql")); err != nil {
		return nil, err
	}
	if f.broker, err = broker.Start(0, nil); err != nil {
		return nil, err
	}
	f.otlp = otlptest.Start()
	return f, nil
}

func (f *parityFixture) close() {
	if f.otlp != nil {
		f.otlp.Close()
	}
	if f.broker != nil {
		f.broker.Close()
	}
	if f.pg != nil {
		f.pg.Stop()
	}
	_ = os.RemoveAll(filepath.Dir(f.bins))
}

// initDatabases runs compose's database set-up script, one statement at a
// time (CREATE DATABASE cannot run in the implicit transaction of a
// multi-statement query).
func initDatabases(ctx context.Context, adminURL, script string) error {
	b, err := os.ReadFile(script)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var sql strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			sql.WriteString(line + "\n")
		}
	}
	for _, stmt := range strings.Split(sql.String(), ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %q: %w", filepath.Base(script), stmt, err)
			}
		}
	}
	return nil
}

// localize maps what names a place in env to this machine: the database
// server, the brokers, the auth service (authAddr), the collector, the
// listen address (listen) and the signing key file. Every other variable
// is passed as it is.
func (f *parityFixture) localize(t *testing.T, source, service string, env map[string]string, listen string, authAddr ...string) []string {
	t.Helper()
	withHost := func(k, raw, host string) string {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			t.Fatalf("%s %s: %s=%q is not a URL with a host", source, service, k, raw)
		}
		u.Host = host
		return u.String()
	}
	var out []string
	for _, k := range keys(env) {
		v := env[k]
		switch k {
		case "HTTP_ADDR":
			if _, _, err := net.SplitHostPort(v); err != nil {
				t.Fatalf("%s %s: HTTP_ADDR=%q is not host:port", source, service, v)
			}
			v = listen
		case "DATABASE_URL":
			v = withHost(k, v, f.pgAddr)
		case "KAFKA_BROKERS":
			v = strings.Join(f.broker.Addrs(), ",")
		case "JWKS_URL", "AUTH_URL":
			if len(authAddr) == 0 || authAddr[0] == "" {
				t.Fatalf("%s %s: %s set, but no auth service runs for it", source, service, k)
			}
			v = withHost(k, v, authAddr[0])
		case "OTEL_EXPORTER_OTLP_ENDPOINT":
			v = withHost(k, v, f.otlp.Addr())
		case "JWT_SIGNING_KEY_FILE", "LEDGER_CHECKPOINT_KEY_FILE":
			v = f.keyFile
		}
		out = append(out, k+"="+v)
	}
	return out
}

// --- one service process ------------------------------------------------------

type process struct {
	name, bin, addr, source string
	env                     []string
	cmd                     *exec.Cmd
	out                     *testkit.SyncBuffer
	done                    chan struct{}
}

func (f *parityFixture) start(t *testing.T, source, name string, env map[string]string, authAddr string) *process {
	t.Helper()
	p := &process{name: name, source: source, bin: filepath.Join(f.bins, name), addr: testkit.FreeAddr(t), out: &testkit.SyncBuffer{}, done: make(chan struct{})}
	p.env = f.localize(t, source, name, env, p.addr, authAddr)
	p.cmd = exec.Command(p.bin)
	p.cmd.Env = p.env // exactly the deployment's variables, nothing inherited
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// A test binary killed by a timeout takes its services with it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s %s: %v", source, name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// command is the binary run again with the service's environment (a
// container's health check runs in the container's environment).
func (p *process) command(args ...string) *exec.Cmd {
	cmd := exec.Command(p.bin, args...)
	cmd.Env = p.env
	return cmd
}

func (p *process) get(path string, header http.Header) (int, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (p *process) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("%s %s exited before it was ready (%v); its output:\n%s", p.source, p.name, p.cmd.ProcessState, p.out.String())
		default:
		}
		if code, err := p.get("/readyz", nil); err == nil && code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s is not ready after 90s; its output:\n%s", p.source, p.name, p.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop sends SIGTERM, as Kubernetes and compose do, and expects exit 0.
func (p *process) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s %s exited %d after SIGTERM; its output:\n%s", p.source, p.name, code, p.out.String())
		}
	case <-time.After(40 * time.Second):
		t.Errorf("%s %s still runs 40s after SIGTERM", p.source, p.name)
	}
	if strings.Contains(p.out.String(), `"level":"ERROR"`) {
		t.Errorf("%s %s logged an error; its output:\n%s", p.source, p.name, p.out.String())
	}
}

// traced sends one request with a new trace id and waits for the service's
// span of it at the collector.
func (f *parityFixture) traced(t *testing.T, p *process) {
	t.Helper()
	id := make([]byte, 24)
	_, _ = rand.Read(id)
	traceID, parent := hex.EncodeToString(id[:16]), hex.EncodeToString(id[16:])
	h := http.Header{"Traceparent": {"00-" + traceID + "-" + parent + "-01"}}
	if code, err := p.get("/openapi.json", h); err != nil || code != http.StatusOK {
		t.Errorf("%s %s: GET /openapi.json answered %d (%v)", p.source, p.name, code, err)
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for !f.otlp.Has(traceID, p.name) {
		if time.Now().After(deadline) {
			t.Errorf("%s %s: no span of trace %s reached the collector in 30s; its output:\n%s", p.source, p.name, traceID, p.out.String())
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// --- the other containers' health checks --------------------------------------

// noLocalEquivalent lists the compose services whose health check has no
// local program to run against, with the reason.
var noLocalEquivalent = map[string]string{
	"kafka":   "kafka-broker-api-versions.sh needs a JVM Kafka; the tests' broker is in-process",
	"jaeger":  "no Jaeger binary on this machine",
	"grafana": "no Grafana binary on this machine",
}

// TestComposeHealthchecksRunLocally runs each infrastructure container's
// health check command against a local equivalent of the container, with
// only the port mapped. The Go services' checks run in TestParityCompose.
func TestComposeHealthchecksRunLocally(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		if slices.Contains(edge.Services, name) || s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			continue
		}
		test := s.HealthCheck.Test
		t.Run(name, func(t *testing.T) {
			switch name {
			case "postgres":
				f := parity(t)
				// pg_isready -h 127.0.0.1 …: the port comes from PGPORT.
				runCheck(t, test, nil, "PGPORT="+fmt.Sprint(f.pg.Port))
			case "envoy":
				runEnvoyCheck(t, test)
			case "prometheus":
				runPrometheusCheck(t, test)
			default:
				if strings.HasPrefix(name, "postgres-exporter-") {
					runPostgresExporterCheck(t, s, test)
					return
				}
				if _, ok := noLocalEquivalent[name]; !ok {
					t.Fatalf("compose service %s has a health check that no test runs (%v)", name, test)
				}
			}
		})
	}
}

// runCheckErr runs a compose health check (CMD or CMD-SHELL) with each
// old→new replacement applied to its words and extra variables added, and
// returns its output and error.
func runCheckErr(t *testing.T, test []string, replace map[string]string, env ...string) ([]byte, error) {
	t.Helper()
	var argv []string
	switch test[0] {
	case "CMD":
		argv = slices.Clone(test[1:])
	case "CMD-SHELL":
		argv = []string{"sh", "-c", test[1]}
	default:
		t.Fatalf("health check %v: neither CMD nor CMD-SHELL", test)
	}
	for i := range argv {
		for old, repl := range replace {
			argv[i] = strings.ReplaceAll(argv[i], old, repl)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

func runCheck(t *testing.T, test []string, replace map[string]string, env ...string) {
	t.Helper()
	if out, err := runCheckErr(t, test, replace, env...); err != nil {
		t.Errorf("health check %v fails against the local equivalent: %v\n%s", test, err, out)
	}
}

// runEnvoyCheck runs Envoy's health check against a stand-in for Envoy's
// admin listener that answers as Envoy does: HTTP/1.0 is refused with 426
// (Envoy's default), an HTTP/1.1 request without Host with 400, and
// GET /ready with 200 LIVE.
func runEnvoyCheck(t *testing.T, test []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveEnvoyAdmin(l)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	joined := strings.Join(test, " ")
	if !strings.Contains(joined, "/127.0.0.1/9901") {
		t.Fatalf("envoy's health check does not ask the admin listener 127.0.0.1:9901: %v", test)
	}
	runCheck(t, test, map[string]string{"/127.0.0.1/9901": "/127.0.0.1/" + port})
	// The stand-in refuses what Envoy refuses: an HTTP/1.0 check fails.
	old := []string{"CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9901 && printf 'GET /ready HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"}
	if out, err := runCheckErr(t, old, map[string]string{"/127.0.0.1/9901": "/127.0.0.1/" + port}); err == nil {
		t.Errorf("an HTTP/1.0 check passes against the stand-in, which Envoy would refuse:\n%s", out)
	}
}

var requestLine = regexp.MustCompile(`^([A-Z]+) (\S+) (HTTP/1\.[01])\r?$`)

func serveEnvoyAdmin(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			var head bytes.Buffer
			buf := make([]byte, 1)
			for !bytes.HasSuffix(head.Bytes(), []byte("\r\n\r\n")) && head.Len() < 8192 {
				if _, err := c.Read(buf); err != nil {
					return
				}
				head.Write(buf)
			}
			lines := strings.Split(head.String(), "\r\n")
			m := requestLine.FindStringSubmatch(lines[0])
			hasHost := false
			for _, h := range lines[1:] {
				if strings.HasPrefix(strings.ToLower(h), "host:") {
					hasHost = true
				}
			}
			switch {
			case m == nil:
				_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
			case m[3] == "HTTP/1.0":
				_, _ = io.WriteString(c, "HTTP/1.1 426 Upgrade Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
			case !hasHost:
				_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
			case m[1] == "GET" && m[2] == "/ready":
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=UTF-8\r\ncontent-length: 5\r\n\r\nLIVE\n")
			default:
				_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
			}
		}()
	}
}

// runPrometheusCheck starts Debian's Prometheus server (installed by make
// deps) with compose's configuration on a free port and runs the check.
func runPrometheusCheck(t *testing.T, test []string) {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("no prometheus binary: run make deps (Debian's prometheus package)")
	}
	root, _ := filepath.Abs(repoRoot)
	addr := testkit.FreeAddr(t)
	out := startLocal(t, nil, bin, "--config.file="+filepath.Join(root, "deploy/prometheus/prometheus.yml"),
		"--storage.tsdb.path="+t.TempDir(), "--web.listen-address="+addr)
	_, port, _ := net.SplitHostPort(addr)
	replace := map[string]string{"127.0.0.1:9090": "127.0.0.1:" + port}
	deadline := time.Now().Add(60 * time.Second)
	for {
		o, err := runCheckErr(t, test, replace)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus health check %v still fails after 60s: %v\n%s\nprometheus:\n%s", test, err, o, out.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// runPostgresExporterCheck runs Debian's prometheus-postgres-exporter (the
// release of the compose image) with the compose service's command and
// DATA_SOURCE_NAME, the database host mapped to the fixture's server (set up
// with deploy/postgres/init-databases.sql, so the monitor role is the one
// compose uses; the fixture trusts local connections, so the role and the
// database are checked, not the password), then its health check, and
// checks that it reaches its database and runs the extra queries.
func runPostgresExporterCheck(t *testing.T, s types.ServiceConfig, test []string) {
	t.Helper()
	bin, err := exec.LookPath(stack.ExporterBinary)
	if err != nil {
		t.Fatalf("no %s: run make deps", stack.ExporterBinary)
	}
	f := parity(t)
	root, _ := filepath.Abs(repoRoot)
	dsn := s.Environment["DATA_SOURCE_NAME"]
	if dsn == nil || !strings.Contains(*dsn, "@postgres:5432/") {
		t.Fatalf("%s: DATA_SOURCE_NAME %v does not name the compose postgres", s.Name, dsn)
	}
	var args []string
	for _, a := range s.Command {
		args = append(args, strings.ReplaceAll(a, "/etc/postgres-exporter/queries.yaml", filepath.Join(root, stack.ExporterQueries)))
	}
	addr := testkit.FreeAddr(t)
	startLocal(t, []string{"DATA_SOURCE_NAME=" + strings.Replace(*dsn, "@postgres:5432/", "@"+f.pgAddr+"/", 1)},
		bin, append(args, "--web.listen-address="+addr)...)
	_, port, _ := net.SplitHostPort(addr)
	replace := map[string]string{"127.0.0.1:9187": "127.0.0.1:" + port}
	testkit.Poll(t, 30*time.Second, 300*time.Millisecond, s.Name+" health check", func() bool {
		_, err := runCheckErr(t, test, replace)
		return err == nil
	})
	db := strings.TrimSuffix(strings.Split(strings.SplitN(*dsn, "@postgres:5432/", 2)[1], "?")[0], "/")
	for _, want := range []string{"pg_up 1", `pg_lock_waits_backends{datname="` + db + `"`} {
		testkit.Poll(t, 30*time.Second, 300*time.Millisecond, s.Name+" metrics have "+want, func() bool {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(b), want)
		})
	}
}

// --- helpers -----------------------------------------------------------------

// startLocal starts bin with args and the test's environment plus env,
// killed when the test ends (or the test binary dies), and returns its
// output.
func startLocal(t *testing.T, env []string, bin string, args ...string) *testkit.SyncBuffer {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return out
}

// setValue sets a nested Helm value, creating the maps on the way.
func setValue(values map[string]any, v any, path ...string) {
	m := values
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}
