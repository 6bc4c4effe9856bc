package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fundplatform/platform/devstack/edge"
)

// chromiumPath is where Debian's chromium package (make deps) puts it.
const chromiumPath = "/usr/bin/chromium"

// docsOperations are operations of every service, as the /docs page shows
// them ("METHOD path"); they are in services/*/api/openapi.json.
var docsOperations = map[string]string{
	edge.Auth:       "POST /api/v1/auth/login",
	edge.Portfolio:  "POST /api/v1/portfolios/{id}/nav",
	edge.Profit:     "POST /api/v1/profit/profit_allocation_ratios",
	edge.Withdrawal: "POST /api/v1/withdrawals",
	edge.Stats:      "GET /api/v1/stats/overview",
}

// runChromium runs headless Chromium with args and the given URL, bounded
// by a 60 s timeout after which it (and its helper processes) are killed.
func runChromium(t *testing.T, profile string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--no-default-browser-check", "--disable-quic",
		"--user-data-dir=" + profile, "--virtual-time-budget=5000",
	}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	// Its own process group, so the timeout kills the renderer and GPU
	// helpers too, not only the browser process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("chromium %v timed out after 60s and was killed\nstderr:\n%s", args, stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

func TestDocsPageInHeadlessChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing (%v): `make deps` installs Debian's chromium package", chromiumPath, err)
	}
	repo := repoRoot(t)
	start := time.Now()
	s, _ := runStack(t, repo, nil)
	t.Logf("stack ready in %s", time.Since(start).Round(time.Millisecond))
	ready := s.Ready()
	if len(ready.Skipped) != 0 || len(ready.Services) != len(edge.Services) {
		t.Fatalf("services started %v, skipped %v", ready.Services, ready.Skipped)
	}
	docsURL := ready.EdgeURL + "/docs"

	// The page, after its script has fetched and rendered the documents.
	begin := time.Now()
	dom := string(runChromium(t, t.TempDir(), "--dump-dom", docsURL))
	t.Logf("dump-dom took %s", time.Since(begin).Round(time.Millisecond))
	if !strings.Contains(dom, `data-status="ready"`) {
		t.Errorf("the page never finished loading its documents:\n%s", dom)
	}
	if strings.Contains(dom, `class="error"`) {
		t.Errorf("the page reports a document it could not load:\n%s", dom)
	}
	for _, name := range edge.Services {
		if !strings.Contains(dom, `id="service-`+name+`"`) {
			t.Errorf("no section for %s", name)
		}
		if op := docsOperations[name]; !strings.Contains(dom, op) {
			t.Errorf("%s operation %q not on the page", name, op)
		}
		if !strings.Contains(dom, `href="/docs/openapi/`+name+`.json"`) {
			t.Errorf("no link to the %s document", name)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}

	// The screenshot, kept as a test artefact.
	shots := t.TempDir()
	begin = time.Now()
	runChromium(t, t.TempDir(), "--screenshot="+filepath.Join(shots, "docs.png"), "--window-size=1280,2000", "--hide-scrollbars", docsURL)
	t.Logf("screenshot took %s", time.Since(begin).Round(time.Millisecond))
	png, err := os.ReadFile(filepath.Join(shots, "docs.png"))
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if len(png) == 0 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	artefacts := filepath.Join(repo, "testdata-artifacts")
	if err := os.MkdirAll(artefacts, 0o755); err != nil {
		t.Fatal(err)
	}
	artefact := filepath.Join(artefacts, "docs.png")
	if err := os.WriteFile(artefact, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(artefact); err != nil || fi.Size() == 0 {
		t.Fatalf("artefact %s: %v", artefact, err)
	}
	t.Logf("screenshot saved to %s (%d bytes)", artefact, len(png))
}
