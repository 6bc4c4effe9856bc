package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/stack"
)

// rotRoutes is one authenticated read per service, through the edge.
var rotRoutes = map[string]string{
	edge.Auth:       "/api/v1/auth/me",
	edge.Portfolio:  "/api/v1/portfolios?limit=1",
	edge.Profit:     "/api/v1/profit/allocations?limit=1",
	edge.Withdrawal: "/api/v1/balances?limit=1",
	edge.Stats:      "/api/v1/stats/overview",
}

// rotKID is the kid in a JWT's header.
func rotKID(t *testing.T, token string) string {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Kid == "" {
		t.Fatalf("token header %s: %v", b, err)
	}
	return h.Kid
}

// rotStatus is the status a GET with token gets through the edge.
func rotStatus(t *testing.T, edgeURL, token, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", edgeURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rotAllAccept asserts every service answers 200 to token.
func rotAllAccept(t *testing.T, edgeURL, token, what string) {
	t.Helper()
	for _, svc := range edge.Services {
		if st := rotStatus(t, edgeURL, token, rotRoutes[svc]); st != 200 {
			t.Errorf("%s: %s answers %d to GET %s, want 200", what, svc, st, rotRoutes[svc])
		}
	}
}

// rotJWKSKids lists the kids the JWKS publishes (through the edge).
func rotJWKSKids(t *testing.T, edgeURL string) []string {
	t.Helper()
	resp, err := http.Get(edgeURL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func rotContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestKeyRotationDrill rotates the auth service's signing key on a running
// stack with the commands of docs/operations-keys.md, then retires the old
// key at once.
func TestKeyRotationDrill(t *testing.T) {
	repo := repoRoot(t)
	var stateDir, bin string
	// Restart: a killed auth service is started again by the supervisor,
	// as with `make run RUN_FLAGS=-restart`.
	s, _ := runStack(t, repo, func(cfg *stack.Config) {
		cfg.Restart = true
		// The drill restarts the auth process (AUTH_PID) as the guide says
		// for one instance; a second replica would keep signing with the
		// old key until it is restarted too.
		cfg.Replicas = 1
		stateDir, bin = cfg.StateDir, cfg.BinDir
	})
	ready := s.Ready()
	if ready.SigningKeyFile != filepath.Join(stateDir, "jwt-signing-key.pem") {
		t.Fatalf("signing key file %s is not the one the operations guide names", ready.SigningKeyFile)
	}
	doc := filepath.Join(repo, "docs", "operations-keys.md")
	run := func(step string, env ...string) string {
		t.Helper()
		return drillRunScript(t, drillDocStep(t, doc, step), stateDir, bin, env...)
	}

	before := login(t, ready.EdgeURL, ready.AdminEmail, ready.AdminPassword)
	oldKID := rotKID(t, before.token)
	rotAllAccept(t, ready.EdgeURL, before.token, "before the rotation")

	// Rotate: a new key in the file, then restart auth.
	run("new-key")
	oldPID := s.ServicePID(edge.Auth)
	run("restart-auth", fmt.Sprintf("AUTH_PID=%d", oldPID))
	auth, _ := s.Service(edge.Auth)
	drillEventually(t, 60*time.Second, "auth restarted and ready", func() error {
		if pid := s.ServicePID(edge.Auth); pid == 0 || pid == oldPID {
			return fmt.Errorf("auth pid %d", pid)
		}
		resp, err := http.Get(auth.URL + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})

	after := login(t, ready.EdgeURL, ready.AdminEmail, ready.AdminPassword)
	newKID := rotKID(t, after.token)
	if newKID == oldKID {
		t.Fatalf("the token issued after the rotation still carries the old kid %s", oldKID)
	}
	kids := rotJWKSKids(t, ready.EdgeURL)
	if len(kids) != 2 || kids[0] != newKID || !rotContains(kids, oldKID) {
		t.Fatalf("JWKS after the rotation = %v, want the new key %s first and the old %s", kids, newKID, oldKID)
	}
	rotAllAccept(t, ready.EdgeURL, before.token, "a token of the old key after the rotation")
	rotAllAccept(t, ready.EdgeURL, after.token, "a token of the new key")

	listed := run("list-keys")
	for kid, state := range map[string]string{newKID: "current", oldKID: "rotated-out"} {
		if !rotLine(listed, kid, state) {
			t.Errorf("-list-keys does not show %s as %s:\n%s", kid, state, listed)
		}
	}

	// The current key cannot be retired.
	script := drillDocStep(t, doc, "retire-key")
	if o, err := drillTryScript(script, stateDir, bin, "OLD_KID="+newKID); err == nil {
		t.Errorf("retiring the current key succeeded:\n%s", o)
	}

	// Retire the old key at once.
	run("retire-key", "OLD_KID="+oldKID)
	if kids := rotJWKSKids(t, ready.EdgeURL); len(kids) != 1 || kids[0] != newKID {
		t.Fatalf("JWKS after retiring %s = %v, want only %s", oldKID, kids, newKID)
	}
	if st := rotStatus(t, ready.EdgeURL, before.token, rotRoutes[edge.Auth]); st != 401 {
		t.Errorf("auth answers %d to a token of the retired key, want 401 at once", st)
	}
	// The other services drop it at their next JWKS refresh (every minute).
	for _, svc := range edge.Services {
		drillEventually(t, 3*time.Minute, svc+" refuses the retired key's token", func() error {
			if st := rotStatus(t, ready.EdgeURL, before.token, rotRoutes[svc]); st != 401 {
				return fmt.Errorf("status %d", st)
			}
			return nil
		})
	}
	rotAllAccept(t, ready.EdgeURL, after.token, "a token of the new key after the retirement")
	if listed := run("list-keys"); !rotLine(listed, oldKID, "retired-now") {
		t.Errorf("-list-keys does not show %s as retired-now:\n%s", oldKID, listed)
	}
}

// rotLine reports whether some line of text starts with the words a b.
func rotLine(text, a, b string) bool {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == a && f[1] == b {
			return true
		}
	}
	return false
}
