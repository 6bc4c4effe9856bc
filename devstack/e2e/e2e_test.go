// Package e2e runs the real platform — the real service binaries, a real
// PostgreSQL cluster, the in-process Kafka broker and the edge — exactly as
// `make run` does, and drives it through the edge.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/internal/proc"
	"github.com/fundplatform/platform/devstack/stack"
	"github.com/fundplatform/platform/libs/testkit"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for !fileExists(filepath.Join(dir, "go.work")) {
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.work not found above the test's directory")
		}
		dir = parent
	}
	return dir
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// buildServices builds every service binary into dir.
func buildServices(t *testing.T, repo, dir string) {
	t.Helper()
	for _, name := range edge.Services {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./services/"+name+"/cmd/"+name)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
}

// walkthrough returns the README's walk-through script with the edge URL
// and the admin's password of this stack.
func walkthrough(t *testing.T, repo, edgeURL, password string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Walk-through.*?```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no walk-through shell block")
	}
	script := string(m[1])
	for old, repl := range map[string]string{
		"EDGE=http://127.0.0.1:8080":                       "EDGE=" + edgeURL,
		"ADMIN_PASSWORD='<the password make run printed>'": "ADMIN_PASSWORD='" + password + "'",
	} {
		if !strings.Contains(script, old) {
			t.Fatalf("README walk-through no longer contains %q", old)
		}
		script = strings.Replace(script, old, repl, 1)
	}
	return "set -euo pipefail\n" + script
}

// reachableTempDir is t.TempDir made reachable by every user: PostgreSQL
// runs as the unprivileged postgres user when we are root, and must be
// able to reach its directory under the test's temp dir.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startStack builds the real service binaries and starts the whole stack
// as `make run` does, on free ports, in a temporary directory.
func startStack(t *testing.T, repo string) (*stack.Stack, *testkit.SyncBuffer) {
	t.Helper()
	return startStackWith(t, repo, nil)
}

// runStack is startStack, or startStackWith when tune is not nil, for a
// test that needs the stack until it ends: the stack is stopped then, and
// its output logged should the test have failed.
func runStack(t *testing.T, repo string, tune func(*stack.Config)) (*stack.Stack, *testkit.SyncBuffer) {
	t.Helper()
	s, out := startStackWith(t, repo, tune)
	t.Cleanup(func() {
		_ = s.Stop()
		if t.Failed() {
			t.Logf("stack output:\n%s", out)
		}
	})
	return s, out
}

// startStackWith is startStack with tune (when not nil) applied to the
// stack's configuration before it starts.
func startStackWith(t *testing.T, repo string, tune func(*stack.Config)) (*stack.Stack, *testkit.SyncBuffer) {
	t.Helper()
	state := reachableTempDir(t)
	bin := filepath.Join(state, "bin")
	buildServices(t, repo, bin)
	out := &testkit.SyncBuffer{}
	// The stack lives until Stop: its context must outlive this function
	// (start-up is bounded by the stack's own readiness timeout).
	cfg := stack.Config{
		StateDir: filepath.Join(state, "stack"),
		BinDir:   bin,
		Env:      []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LOG_LEVEL=info"},
		Out:      out,
		Replicas: replicas(t),
	}
	if tune != nil {
		tune(&cfg)
	}
	s, err := stack.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("stack did not start: %v\n%s", err, out)
	}
	return s, out
}

// replicas is how many processes of each service the suite's stacks run:
// E2E_REPLICAS (default 1; make test sets 2).
func replicas(t *testing.T) int {
	t.Helper()
	v := os.Getenv("E2E_REPLICAS")
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("E2E_REPLICAS=%q: want a number of replicas, 1 or more", v)
	}
	return n
}

func TestStackWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README walk-through needs %s (make deps installs it)", tool)
		}
	}
	repo := repoRoot(t)
	start := time.Now()
	s, out := startStack(t, repo)
	stopped := false
	defer func() {
		if !stopped {
			_ = s.Stop()
		}
		if t.Failed() {
			t.Logf("stack output:\n%s", out)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Logf("stack ready in %s", time.Since(start).Round(time.Millisecond))
	ready := s.Ready()
	if len(ready.Skipped) != 0 || len(ready.Services) != len(edge.Services) {
		t.Fatalf("services started %v, skipped %v", ready.Services, ready.Skipped)
	}
	for _, want := range []string{ready.EdgeURL, ready.AdminEmail, ready.AdminPassword} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner does not show %q", want)
		}
	}

	// The README's walk-through, as written.
	cmd := exec.CommandContext(ctx, "bash", "-c", walkthrough(t, repo, ready.EdgeURL, ready.AdminPassword))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("walk-through failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	// Its outputs, in order: me, membership, alice's login, the JWKS.
	dec := json.NewDecoder(&stdout)
	var me, member, login struct {
		IsOK bool           `json:"isOK"`
		Data map[string]any `json:"data"`
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	for _, v := range []any{&me, &member, &login, &jwks} {
		if err := dec.Decode(v); err != nil {
			t.Fatalf("walk-through output: %v\n%s", err, stdout.String())
		}
	}
	if !me.IsOK || me.Data["email"] != ready.AdminEmail || me.Data["role"] != "admin" {
		t.Errorf("me = %+v", me)
	}
	if ids, _ := member.Data["member_ids"].([]any); !member.IsOK || len(ids) != 1 {
		t.Errorf("team after adding alice = %+v", member)
	}
	if tok, _ := login.Data["access_token"].(string); !login.IsOK || tok == "" || login.Data["token_type"] != "Bearer" {
		t.Errorf("alice's login = %+v", login)
	}
	if len(jwks.Keys) == 0 || jwks.Keys[0]["kty"] != "OKP" || jwks.Keys[0]["kid"] == "" {
		t.Errorf("jwks = %+v", jwks)
	}

	// The edge's own health route, and a protected route without a token.
	resp, err := http.Get(ready.EdgeURL + "/api/v1/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("edge health: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(ready.EdgeURL + "/api/v1/users")
	if err != nil || resp.StatusCode != 401 || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("GET /api/v1/users without a token: %v %v", resp, err)
	}
	resp.Body.Close()

	// Stopping leaves no process behind: services, PostgreSQL, anything.
	pids := s.PIDs()
	if len(pids) < len(edge.Services)+1 {
		t.Fatalf("stack reports pids %v, want every service and PostgreSQL", pids)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	stopped = true
	for _, pid := range pids {
		if proc.Alive(pid) {
			t.Errorf("process %d still running after Stop", pid)
		}
	}
	if resp, err := http.Get(ready.EdgeURL + "/api/v1/health"); err == nil {
		resp.Body.Close()
		t.Error("edge still answering after Stop")
	}
}
