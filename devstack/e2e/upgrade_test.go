package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/devstack/broker"
	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/internal/edgeclient"
	"github.com/fundplatform/platform/devstack/invariants"
	"github.com/fundplatform/platform/devstack/migrationlint"
	"github.com/fundplatform/platform/devstack/stack"
	"github.com/fundplatform/platform/libs/pg/pgcluster"
	"github.com/fundplatform/platform/libs/testkit"
)

// TestUpgradeFromPreviousRelease is the rolling update of
// docs/operations-upgrades.md, end to end on this machine, running the
// guide's shell blocks. It builds the previous release
// (devstack/migrationlint/RELEASE_PREVIOUS) from git and the working tree's
// services, and with one PostgreSQL cluster and one Kafka broker for the
// whole run:
//
//  1. runs the previous release on its own schema and drives a business
//     flow through it (team, user, portfolio, ratios, NAVs → allocation →
//     ledger credit → stats, a withdrawal with an Idempotency-Key and its
//     replay);
//  2. runs the migration job (the newest binaries with -migrate-only) while
//     the previous release keeps serving, and the previous release's
//     binaries' own migration step (nothing to apply); the running previous
//     release then serves the next flow on the newest schema;
//  3. restarts the previous release against the newest schema (a rollback
//     of the code);
//  4. runs old and new side by side, both ways round (old portfolio and
//     withdrawal with new auth, profit and stats, then the reverse), with a
//     second withdrawal process of the other release beside the stack's
//     one on the same database; a key the previous release left in flight
//     after its effect committed is repeated through the new release
//     (it has no lease_until, so it is never taken over);
//  5. runs the newest release alone.
//
// Every phase replays the Idempotency-Keys of the phases before it (each
// must get its original answer byte for byte, whichever release stored
// it) and ends with the invariant checker.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	repo := repoRoot(t)
	docs := upgDocBlocks(t, repo)
	rev, err := migrationlint.PreviousRelease()
	if err != nil {
		t.Fatal(err)
	}
	if err := migrationlint.RequireHistory(repo, rev); err != nil {
		t.Fatalf("the upgrade test builds the previous release from git: %v", err)
	}
	for _, tool := range []string{"bash", "jq", "psql"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the upgrade guide's blocks need %s", tool)
		}
	}
	work := reachableTempDir(t)
	newBin, oldBin := filepath.Join(work, "bin-new"), filepath.Join(work, "bin-old")
	buildServices(t, repo, newBin)
	upgBuildRelease(t, repo, rev, filepath.Join(work, "src-old"), oldBin)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w := upgNewWorld(ctx, t, work)
	defer w.close()
	w.bins = map[string]string{"old": oldBin, "new": newBin}
	w.docs = docs
	defer func() {
		if t.Failed() {
			t.Logf("output:\n%s", w.out)
		}
	}()

	allOld := upgVersions("old", "old", "old", "old", "old")
	allNew := upgVersions("new", "new", "new", "new", "new")

	// 1. Production today: the previous release on its own schema.
	st := w.start(t, "previous release", allOld)
	w.flow(t, st, "p1")
	w.checkInvariants(t, st)
	released := w.schemaVersions(t)

	// 2. The migration job (the guide's block), while the previous release
	// serves.
	out := w.runDoc(t, "migrate_job", w.stateDir)
	if n := strings.Count(out, ": migrations applied; exiting (-migrate-only)"); n != len(edge.Services) {
		t.Errorf("migrate_job: %d services finished their migrations, want %d:\n%s", n, len(edge.Services), out)
	}
	migrated := w.schemaVersions(t)
	advanced := 0
	for _, name := range edge.Services {
		t.Logf("%s: schema version %d (previous release) → %d (newest)", name, released[name], migrated[name])
		if migrated[name] < released[name] {
			t.Errorf("%s: the schema went back from %d to %d", name, released[name], migrated[name])
		}
		if migrated[name] > released[name] {
			advanced++
			if !strings.Contains(out, name+": migration applied ") {
				t.Errorf("migrate_job: no migration applied shown for %s:\n%s", name, out)
			}
		}
	}
	if advanced == 0 {
		t.Logf("no service has a migration newer than the previous release %s: the run checks old and new code on one schema only", rev)
	}
	out = w.runDoc(t, "schema_versions", w.stateDir)
	for _, name := range edge.Services {
		if !strings.Contains(out, fmt.Sprintf("%s %d\n", name, migrated[name])) {
			t.Errorf("schema_versions does not show %s %d:\n%s", name, migrated[name], out)
		}
	}
	// The previous release's binaries against the migrated databases, as a
	// rolled-back pod's migration step: nothing to apply, exit 0.
	out = w.runDoc(t, "rollback_code", w.stateDir)
	if n := strings.Count(out, ": migrations applied; exiting (-migrate-only)"); n != len(edge.Services) || strings.Contains(out, "migration applied ") {
		t.Errorf("rollback_code: want every service to exit with nothing applied:\n%s", out)
	}
	// The previous release's running processes on the newest schema.
	w.flow(t, st, "p2")
	w.replayAll(t, st.Ready().EdgeURL, "")
	w.checkInvariants(t, st)
	w.stop(t, st)

	// 3. A rollback of the code: the previous release started again on the
	// newest schema. Its migrations apply nothing.
	st = w.start(t, "previous release restarted on the newest schema", allOld)
	if got := w.schemaVersions(t); !upgSameVersions(got, migrated) {
		t.Errorf("the previous release changed the schema versions at start: %v, want %v", got, migrated)
	}
	w.flow(t, st, "p3")
	w.replayAll(t, st.Ready().EdgeURL, "")
	w.checkInvariants(t, st)
	w.stop(t, st)

	// 4a. Side by side: new auth, profit and stats; old portfolio and
	// withdrawal, and a new withdrawal process beside the old one.
	st = w.start(t, "mixed: old portfolio and withdrawal", upgVersions("new", "old", "new", "old", "new"))
	extra := w.startExtra(t, st, edge.Withdrawal, "new")
	w.flow(t, st, "p4")
	w.replayAll(t, st.Ready().EdgeURL, "")
	w.replayAll(t, extra, edge.Withdrawal) // keys stored by the old withdrawal, answered by the new
	w.withdrawAt(t, extra, "p4", "p4-beside")
	w.replayAll(t, st.Ready().EdgeURL, "") // and the new one's key by the old
	unfenced := w.leaveInFlight(t, st, "p4", "1")
	t.Run("a key in flight under the previous release is not run again by the new one", func(t *testing.T) {
		w.checkInFlightRepeat(t, extra, unfenced)
	})
	w.checkInvariants(t, st)
	w.stopExtra(t, extra)
	w.stop(t, st)

	// 4b. Side by side the other way round: old auth, profit and stats; new
	// portfolio and withdrawal, and an old withdrawal process beside it.
	st = w.start(t, "mixed: new portfolio and withdrawal", upgVersions("old", "new", "old", "new", "old"))
	extra = w.startExtra(t, st, edge.Withdrawal, "old")
	w.flow(t, st, "p5")
	w.replayAll(t, st.Ready().EdgeURL, "")
	w.replayAll(t, extra, edge.Withdrawal)
	w.withdrawAt(t, extra, "p5", "p5-beside")
	w.replayAll(t, st.Ready().EdgeURL, "")
	t.Run("a key in flight under the previous release is not run again by the new one, through the edge", func(t *testing.T) {
		w.checkInFlightRepeat(t, st.Ready().EdgeURL, unfenced)
	})
	w.checkInvariants(t, st)
	w.stopExtra(t, extra)
	w.stop(t, st)

	// 5. The newest release alone.
	st = w.start(t, "newest release", allNew)
	w.flow(t, st, "p6")
	w.replayAll(t, st.Ready().EdgeURL, "")
	w.checkInvariants(t, st)
	w.stop(t, st)
}

// upgDocBlocks reads docs/operations-upgrades.md's shell blocks: every one
// carries a run-by or not-run-here marker, and the run-by ones are the
// blocks this test runs.
func upgDocBlocks(t *testing.T, repo string) map[string]string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repo, "docs", "operations-upgrades.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "TestUpgradeFromPreviousRelease") || !strings.Contains(string(doc), "devstack/e2e/upgrade_test.go") {
		t.Error("docs/operations-upgrades.md does not name its test")
	}
	blocks := map[string]string{}
	re := regexp.MustCompile("(?ms)^([ \t]*)```sh\n(.*?)^[ \t]*```")
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		var lines []string
		for _, l := range strings.Split(m[2], "\n") {
			lines = append(lines, strings.TrimPrefix(l, m[1]))
		}
		body := strings.Join(lines, "\n")
		first, _, _ := strings.Cut(body, "\n")
		switch {
		case strings.HasPrefix(first, "# run-by: TestUpgradeFromPreviousRelease/"):
			name := strings.TrimSpace(strings.TrimPrefix(first, "# run-by: TestUpgradeFromPreviousRelease/"))
			if _, dup := blocks[name]; dup {
				t.Errorf("docs/operations-upgrades.md: two blocks named %s", name)
			}
			blocks[name] = body
		case strings.HasPrefix(first, "# not-run-here: "):
		default:
			t.Errorf("docs/operations-upgrades.md: a shell block without a run-by or not-run-here marker:\n%s", body)
		}
	}
	var names []string
	for name := range blocks {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"migrate_job", "rollback_code", "schema_versions"}; !slices.Equal(names, want) {
		t.Errorf("docs/operations-upgrades.md runs blocks %v; the test runs %v", names, want)
	}
	return blocks
}

// runDoc runs one of the guide's blocks with bash against a stack's state
// directory and the built binaries, and returns its output.
func (w *upgWorld) runDoc(t *testing.T, name, stateDir string) string {
	t.Helper()
	script, ok := w.docs[name]
	if !ok {
		t.Fatalf("docs/operations-upgrades.md has no block %s", name)
	}
	for old, repl := range map[string]string{
		".devstack/":        stateDir + "/",
		"NEW_BIN=./bin-new": "NEW_BIN=" + w.bins["new"],
		"OLD_BIN=./bin-old": "OLD_BIN=" + w.bins["old"],
	} {
		script = strings.ReplaceAll(script, old, repl)
	}
	cmd := exec.CommandContext(w.ctx, "bash", "-c", "set -euo pipefail\n"+script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	fmt.Fprintf(w.out, "[guide block %s]\n%s%s", name, stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("the guide's block %s failed: %v\nstdout:\n%s\nstderr:\n%s", name, err, stdout.String(), stderr.String())
	}
	t.Logf("guide block %s:\n%s", name, stdout.String())
	return stdout.String()
}

// upgBuildRelease extracts rev from git into src and builds its service
// binaries into bin.
func upgBuildRelease(t *testing.T, repo, rev, src, bin string) {
	t.Helper()
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("git", "-C", repo, "archive", "--format=tar", rev)
	extract := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	extract.Stdin = pipe
	var archErr, tarErr bytes.Buffer
	archive.Stderr, extract.Stderr = &archErr, &tarErr
	if err := extract.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s: %v: %s", rev, err, archErr.String())
	}
	if err := extract.Wait(); err != nil {
		t.Fatalf("extract %s: %v: %s", rev, err, tarErr.String())
	}
	for _, name := range edge.Services {
		// -trimpath: the build cache serves the next run, whatever the
		// temporary directory.
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(bin, name), "./services/"+name+"/cmd/"+name)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s of the previous release %s: %v\n%s", name, rev, err, out)
		}
	}
}

func upgVersions(auth, portfolio, profit, withdrawal, stats string) map[string]string {
	return map[string]string{edge.Auth: auth, edge.Portfolio: portfolio, edge.Profit: profit, edge.Withdrawal: withdrawal, edge.Stats: stats}
}

func upgSameVersions(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// upgWorld is what outlives the phases: the databases, the broker, the
// auth service's secrets and the Idempotency-Keys sent so far.
type upgWorld struct {
	ctx      context.Context
	work     string
	out      *testkit.SyncBuffer
	pg       *pgcluster.Cluster
	broker   *broker.Broker
	dbURLs   map[string]string
	password string
	keyFile  string
	bins     map[string]string
	phase    int
	extras   map[string]*exec.Cmd
	sent     []upgSent
	users    map[string]upgUser // by phase tag
	// currentEdge is the running phase's edge, stateDir its stack's state
	// directory (with the services' env files).
	currentEdge string
	stateDir    string
	docs        map[string]string
	// running is the phase's stack until it is stopped.
	running *stack.Stack
	// currencies is, by base URL (an edge, a process beside), whether the
	// withdrawal service there keeps currencies apart (the newest release:
	// a withdrawal names its currency, an owner's balances are a list).
	currencies map[string]bool
}

// upgSent is an acknowledged request with an Idempotency-Key.
type upgSent struct {
	service                                  string // the service that answers path
	what, email, password, method, path, key string
	body                                     any
	status                                   int
	response                                 []byte
}

type upgUser struct {
	id              int64
	email, password string
}

func upgNewWorld(ctx context.Context, t *testing.T, work string) *upgWorld {
	t.Helper()
	w := &upgWorld{ctx: ctx, work: work, out: &testkit.SyncBuffer{}, dbURLs: map[string]string{}, extras: map[string]*exec.Cmd{}, users: map[string]upgUser{},
		currencies: map[string]bool{}}
	var err error
	if w.pg, err = pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(work, "pg")}); err != nil {
		t.Fatal(err)
	}
	for _, name := range edge.Services {
		if err := w.pg.CreateDatabase(ctx, name); err != nil {
			w.close()
			t.Fatal(err)
		}
		w.dbURLs[name] = w.pg.URL(name)
	}
	if w.broker, err = broker.Start(0, w.out); err != nil {
		w.close()
		t.Fatal(err)
	}
	if w.password, err = stack.NewPassword(24); err != nil {
		w.close()
		t.Fatal(err)
	}
	w.keyFile = filepath.Join(work, "jwt-signing-key.pem")
	if err := stack.WriteSigningKey(w.keyFile); err != nil {
		w.close()
		t.Fatal(err)
	}
	return w
}

func (w *upgWorld) close() {
	if w.running != nil {
		_ = w.running.Stop() // a phase that failed half-way
	}
	for _, cmd := range w.extras {
		upgKill(cmd)
	}
	if w.broker != nil {
		w.broker.Close()
	}
	if w.pg != nil {
		w.pg.Stop()
	}
}

// start starts a stack whose services run the given versions ("old" or
// "new") against the run's databases and broker.
func (w *upgWorld) start(t *testing.T, title string, versions map[string]string) *stack.Stack {
	t.Helper()
	w.phase++
	dir := filepath.Join(w.work, fmt.Sprintf("phase-%d", w.phase))
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, name := range edge.Services {
		if err := os.Symlink(filepath.Join(w.bins[versions[name]], name), filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
		desc = append(desc, name+"="+versions[name])
	}
	w.stateDir = filepath.Join(dir, "stack")
	fmt.Fprintf(w.out, "\n===== phase %d: %s (%s)\n", w.phase, title, strings.Join(desc, " "))
	t.Logf("phase %d: %s (%s)", w.phase, title, strings.Join(desc, " "))
	s, err := stack.Run(context.Background(), stack.Config{
		StateDir:            w.stateDir,
		BinDir:              bin,
		ServiceDatabaseURLs: w.dbURLs,
		KafkaBrokers:        w.broker.Addrs(),
		AdminPassword:       w.password,
		SigningKeyFile:      w.keyFile,
		Env:                 []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LOG_LEVEL=info"},
		Out:                 w.out,
	})
	if err != nil {
		t.Fatalf("phase %d (%s): the stack did not start: %v", w.phase, title, err)
	}
	w.running = s
	w.currencies[s.Ready().EdgeURL] = versions[edge.Withdrawal] == "new"
	return s
}

func (w *upgWorld) stop(t *testing.T, s *stack.Stack) {
	t.Helper()
	if err := s.Stop(); err != nil {
		t.Errorf("phase %d: stop: %v", w.phase, err)
	}
	w.running = nil
}

func upgService(s *stack.Stack, name string) (stack.ServiceInfo, bool) {
	for _, svc := range s.Ready().Services {
		if svc.Name == name {
			return svc, true
		}
	}
	return stack.ServiceInfo{}, false
}

// schemaVersions reads each database's newest applied goose version.
func (w *upgWorld) schemaVersions(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, name := range edge.Services {
		conn, err := pgx.Connect(w.ctx, w.dbURLs[name])
		if err != nil {
			t.Fatal(err)
		}
		var v int64
		err = conn.QueryRow(w.ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
		conn.Close(w.ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = v
	}
	return out
}

// startExtra runs a second process of a service, of the given version,
// beside the stack's one: on the same database and broker, on its own
// port, with the environment the stack gives the service. It returns the
// process's base URL.
func (w *upgWorld) startExtra(t *testing.T, s *stack.Stack, name, version string) string {
	t.Helper()
	info, ok := upgService(s, name)
	if !ok {
		t.Fatalf("no service %s in the stack", name)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(filepath.Join(w.bins[version], name))
	cmd.Env = stack.MergeEnv(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, info.Env...),
		[]string{"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port)})
	tag := fmt.Sprintf("[%s %s beside]", name, version)
	cmd.Stdout, cmd.Stderr = upgPrefix{w.out, tag}, upgPrefix{w.out, tag}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	w.extras[url] = cmd
	if name == edge.Withdrawal {
		w.currencies[url] = version == "new"
	}
	eventuallyWithin(t, 60*time.Second, fmt.Sprintf("%s %s beside the stack's ready", version, name), func() (bool, string) {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	t.Logf("%s %s runs beside the stack's %s on %s", version, name, name, url)
	return url
}

func (w *upgWorld) stopExtra(t *testing.T, url string) {
	t.Helper()
	if cmd, ok := w.extras[url]; ok {
		upgKill(cmd)
		delete(w.extras, url)
	}
}

// upgKill stops a process started by the test (SIGTERM to its group, then
// SIGKILL) and waits for it.
func upgKill(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

type upgPrefix struct {
	w   io.Writer
	tag string
}

func (p upgPrefix) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			if _, err := io.WriteString(p.w, p.tag+" "+line); err != nil {
				return 0, err
			}
		}
	}
	return len(b), nil
}

// upgClient calls the platform as one identity, through the edge or one
// service's own address (every service verifies tokens itself).
type upgClient struct {
	t     *testing.T
	base  string
	token string
}

func upgLogin(t *testing.T, base, email, password string) upgClient {
	t.Helper()
	c := upgClient{t: t, base: base}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	c.must(200, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &tok)
	c.token = tok.AccessToken
	return c
}

// upgHTTP is the HTTP client of upgClient.
var upgHTTP = &http.Client{Timeout: 30 * time.Second}

// call sends one request; headers are name, value pairs.
func (c upgClient) call(method, path string, body any, headers ...string) (int, []byte, json.RawMessage) {
	c.t.Helper()
	resp, raw, err := edgeclient.Send(context.Background(), upgHTTP, c.base, c.token, method, path, body, headers...)
	if err != nil {
		c.t.Fatalf("%s %s%s: %v", method, c.base, path, err)
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(raw, &env)
	return resp.StatusCode, raw, env.Data
}

func (c upgClient) must(status int, method, path string, body, out any, headers ...string) []byte {
	c.t.Helper()
	got, raw, data := c.call(method, path, body, headers...)
	if got != status {
		c.t.Fatalf("%s %s%s = %d %s, want %d", method, c.base, path, got, raw, status)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return raw
}

// send sends a request with an Idempotency-Key, checks that a repeat gets
// the same answer byte for byte, and keeps it for the later phases'
// replays.
func (w *upgWorld) send(t *testing.T, c upgClient, email, password string, status int, what, method, path, key string, body, out any) {
	t.Helper()
	raw := c.must(status, method, path, body, out, "Idempotency-Key", key)
	if got, again, _ := c.call(method, path, body, "Idempotency-Key", key); got != status || !bytes.Equal(again, raw) {
		t.Fatalf("%s: the repeat with key %s = %d %s, want the original %d %s", what, key, got, again, status, raw)
	}
	w.sent = append(w.sent, upgSent{service: upgServiceOf(path), what: what, email: email, password: password, method: method, path: path, key: key,
		body: body, status: status, response: raw})
}

// replayAll sends every acknowledged request again with its key, through
// base, and checks each gets its original answer byte for byte; service,
// when not empty, limits it to that service's requests (base is then that
// service's own address).
func (w *upgWorld) replayAll(t *testing.T, base, service string) {
	t.Helper()
	clients := map[string]upgClient{}
	for _, s := range w.sent {
		if service != "" && s.service != service {
			continue
		}
		c, ok := clients[s.email]
		if !ok {
			// Logins go through the edge's auth route.
			c = upgLogin(t, w.currentEdge, s.email, s.password)
			c.base = base
			clients[s.email] = c
		}
		got, raw, _ := c.call(s.method, s.path, s.body, "Idempotency-Key", s.key)
		if got != s.status || !bytes.Equal(raw, s.response) {
			t.Errorf("phase %d: replay of %s (key %s) through %s = %d %s, want the original %d %s",
				w.phase, s.what, s.key, base, got, raw, s.status, s.response)
		}
	}
}

// upgServiceOf is the service the edge routes path to.
func upgServiceOf(path string) string {
	for _, r := range edge.Routes {
		if strings.HasPrefix(path, r.Prefix) && (!r.SegmentPrefix() || len(path) == len(r.Prefix) || path[len(r.Prefix)] == '/' || path[len(r.Prefix)] == '?') {
			return r.Service
		}
	}
	return ""
}

// flow drives one business flow through the edge: a team, a user in it, a
// portfolio with ratios, two NAVs (profit 100: 20 team, 10 platform, 70
// user) to an allocation, the user's ledger credit, a withdrawal with its
// replay and completion, and the stats.
func (w *upgWorld) flow(t *testing.T, s *stack.Stack, tag string) {
	t.Helper()
	edgeURL := s.Ready().EdgeURL
	w.currentEdge = edgeURL
	ready := s.Ready()
	admin := upgLogin(t, edgeURL, ready.AdminEmail, w.password)
	var team, user, pf struct {
		ID int64 `json:"id"`
	}
	admin.must(201, "POST", "/api/v1/teams", map[string]string{"name": "Upgrade " + tag, "description": "upgrade phase " + tag}, &team)
	email, password := "upg-"+tag+"@example.com", "upg-"+tag+"-password-123"
	admin.must(201, "POST", "/api/v1/users", map[string]string{"email": email, "username": "upg" + tag, "password": password, "role": "user"}, &user)
	admin.must(200, "PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", team.ID, user.ID), nil, nil)
	w.users[tag] = upgUser{id: user.ID, email: email, password: password}
	admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Upgrade " + tag, "user_id": user.ID, "team_id": team.ID}, &pf)
	eventuallyWithin(t, 60*time.Second, tag+": the portfolio known to the profit service", func() (bool, string) {
		st, raw, _ := admin.call("POST", "/api/v1/profit/profit_allocation_ratios", map[string]any{"portfolio_id": pf.ID,
			"to_team": "0.2", "to_platform": "0.1", "to_user": "0.7"})
		return st == 201, fmt.Sprintf("%d %s", st, raw)
	})
	day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, nav := range []string{"1000", "1100"} {
		w.send(t, admin, ready.AdminEmail, w.password, 201, tag+" NAV "+nav, "POST", fmt.Sprintf("/api/v1/portfolios/%d/nav", pf.ID),
			fmt.Sprintf("upg-%s-nav-%d", tag, i), map[string]any{"as_of": day.AddDate(0, 0, i).Format(time.RFC3339), "nav": nav}, nil)
	}
	eventuallyWithin(t, 60*time.Second, tag+": the allocation", func() (bool, string) {
		var allocs []map[string]any
		admin.must(200, "GET", fmt.Sprintf("/api/v1/profit/allocations?portfolio_id=%d", pf.ID), nil, &allocs)
		return len(allocs) == 1, fmt.Sprint(allocs)
	})
	alice := upgLogin(t, edgeURL, email, password)
	eventuallyWithin(t, 60*time.Second, tag+": the user's ledger credit", func() (bool, string) {
		b := w.balance(alice, user.ID)
		return b.Credited.Equal(decimal.NewFromInt(70)), fmt.Sprintf("%+v", b)
	})
	var wd struct {
		ID int64 `json:"id"`
	}
	w.send(t, alice, email, password, 201, tag+" withdrawal", "POST", "/api/v1/withdrawals", "upg-"+tag+"-w",
		w.withdrawal(edgeURL, user.ID, "20"), &wd)
	w.send(t, admin, ready.AdminEmail, w.password, 200, tag+" withdrawal completed", "POST", fmt.Sprintf("/api/v1/withdrawals/%d/complete", wd.ID),
		"upg-"+tag+"-w-complete", nil, nil)
	if b := w.balance(alice, user.ID); !b.Withdrawn.Equal(decimal.NewFromInt(20)) || !b.Held.IsZero() || !b.Available.Equal(decimal.NewFromInt(50)) {
		t.Errorf("%s: the user's balance after one withdrawal of 20 (sent twice with its key) = %+v, want withdrawn 20, available 50", tag, b)
	}
	eventuallyWithin(t, 60*time.Second, tag+": the stats", func() (bool, string) {
		var acc map[string]any
		admin.must(200, "GET", fmt.Sprintf("/api/v1/stats/acc_profit/%d", pf.ID), nil, &acc)
		got, _ := acc["acc_profit"].(string)
		return got != "" && decimal.RequireFromString(got).Equal(decimal.NewFromInt(100)), fmt.Sprint(acc)
	})
}

// withdrawAt sends a withdrawal for the user of phase tag through base
// (one service's own address), with its replay.
func (w *upgWorld) withdrawAt(t *testing.T, base, tag, key string) {
	t.Helper()
	u := w.users[tag]
	c := upgLogin(t, w.currentEdge, u.email, u.password)
	c.base = base
	w.send(t, c, u.email, u.password, 201, tag+" withdrawal at "+base, "POST", "/api/v1/withdrawals", "upg-"+key,
		w.withdrawal(base, u.id, "5"), nil)
}

// withdrawal is the body of a withdrawal of amount from user id's account
// as the withdrawal service at base takes it: the newest release's names
// its currency (USD, the flows' portfolios'), the previous release's knows
// none and refuses the field.
func (w *upgWorld) withdrawal(base string, id int64, amount string) map[string]any {
	b := map[string]any{"from_type": "user", "owner_id": id, "amount": amount}
	if w.currencies[base] {
		b["currency"] = "USD"
	}
	return b
}

// balance is user id's balance in USD as the withdrawal service at c.base
// answers it: the newest release lists an owner's balances by currency,
// the previous release answers one.
func (w *upgWorld) balance(c upgClient, id int64) invariants.Balance {
	c.t.Helper()
	path := fmt.Sprintf("/api/v1/balances/user/%d", id)
	var b invariants.Balance
	if !w.currencies[c.base] {
		c.must(200, "GET", path, nil, &b)
		return b
	}
	var bs struct {
		Balances []invariants.Balance `json:"balances"`
	}
	c.must(200, "GET", path+"?currency=USD", nil, &bs)
	if len(bs.Balances) != 1 {
		c.t.Fatalf("GET %s%s?currency=USD: %+v, want one balance", c.base, path, bs)
	}
	return bs.Balances[0]
}

// upgInFlight is a withdrawal whose key the previous release left in
// flight after its effect committed.
type upgInFlight struct {
	user   upgUser
	key    string
	amount decimal.Decimal
	body   map[string]any
}

// leaveInFlight makes, through the stack's (previous release's) withdrawal
// service, a withdrawal and then leaves its key as the previous release
// leaves it when its process dies after the withdrawal's transaction
// committed and before the answer was stored: in flight (no status), no
// effect_at (the previous release does not know the column), claimed longer
// ago than the newest release's lease (idempotency.DefaultLease, 10 s).
func (w *upgWorld) leaveInFlight(t *testing.T, s *stack.Stack, tag, amount string) upgInFlight {
	t.Helper()
	u := w.users[tag]
	c := upgLogin(t, s.Ready().EdgeURL, u.email, u.password)
	h := upgInFlight{user: u, key: "upg-" + tag + "-in-flight-" + amount, amount: decimal.RequireFromString(amount),
		body: w.withdrawal(s.Ready().EdgeURL, u.id, amount)}
	c.must(201, "POST", "/api/v1/withdrawals", h.body, nil, "Idempotency-Key", h.key)
	conn, err := pgx.Connect(w.ctx, w.dbURLs[edge.Withdrawal])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(w.ctx)
	tag2, err := conn.Exec(w.ctx, `
UPDATE idempotency_keys
   SET status = NULL, response_body = NULL, response_headers = NULL, completed_at = NULL,
       created_at = created_at - interval '1 minute'
 WHERE key = $1 AND effect_at IS NULL`, h.key)
	if err != nil || tag2.RowsAffected() != 1 {
		t.Fatalf("leave key %s in flight: %v (%d rows)", h.key, err, tag2.RowsAffected())
	}
	return h
}

// checkInFlightRepeat repeats, through base, the request of a key the
// previous release left in flight: its withdrawal committed, so the repeat
// must not make a second one.
func (w *upgWorld) checkInFlightRepeat(t *testing.T, base string, h upgInFlight) {
	c := upgLogin(t, w.currentEdge, h.user.email, h.user.password)
	c.base = base
	status, raw, _ := c.call("POST", "/api/v1/withdrawals", h.body, "Idempotency-Key", h.key)
	c.base = w.currentEdge
	var list []struct {
		Amount decimal.Decimal `json:"amount"`
	}
	c.must(200, "GET", fmt.Sprintf("/api/v1/withdrawals?from_type=user&owner_id=%d&limit=1000", h.user.id), nil, &list)
	same := 0
	for _, wd := range list {
		if wd.Amount.Equal(h.amount) {
			same++
		}
	}
	if same != 1 {
		t.Errorf("the repeat of key %s through %s, left in flight by the previous release after its withdrawal committed, answered %d %s "+
			"and the user now has %d withdrawals of %s, want exactly 1: the newest release takes over a key in flight with "+
			"no effect_at after its lease (10 s), but the previous release never sets effect_at, so a key it left in flight "+
			"(its process died between committing the effect and storing the answer, or its request ran past the lease) is run a second time",
			h.key, base, status, raw, same, h.amount)
	} else {
		t.Logf("the repeat of key %s through %s answered %d %s; still one withdrawal of %s", h.key, base, status, raw, h.amount)
	}
}

func (w *upgWorld) checkInvariants(t *testing.T, s *stack.Stack) {
	t.Helper()
	c, err := invariants.Login(w.ctx, s.Ready().EdgeURL, s.Ready().AdminEmail, w.password)
	if err != nil {
		t.Fatal(err)
	}
	r, err := invariants.Wait(w.ctx, c, 60*time.Second)
	if err != nil {
		t.Fatalf("phase %d: invariants: %v", w.phase, err)
	}
	if !r.OK() {
		var b strings.Builder
		r.Print(&b)
		t.Errorf("phase %d: invariants do not hold:\n%s", w.phase, b.String())
	}
}
