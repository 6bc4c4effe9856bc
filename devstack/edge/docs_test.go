package edge

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/fundplatform/platform/devstack/edge/internal/openapimerge"
)

// The merged document is generated from the services' documents; a change
// to any of them must come with the regenerated file.
func TestMergedOpenAPIIsUpToDate(t *testing.T) {
	want, err := openapimerge.FromRepo("../..", Services)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("devstack/edge/docs/openapi.json is out of date with services/*/api/openapi.json: " +
			"regenerate it with `go generate ./devstack/edge` (or `make openapi`) from the repository root and commit it")
	}
}

func TestDocsMergedOpenAPIIsServed(t *testing.T) {
	srv, _ := newEdge(t, Config{Backends: startBackends(t)})
	resp, body := get(t, srv.URL+DocsMergedOpenAPIPath, map[string]string{"Authorization": "Bearer secret"})
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", DocsMergedOpenAPIPath, resp.StatusCode, body)
	}
	for h, want := range map[string]string{
		"Content-Type": "application/json", "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	file, err := os.ReadFile("docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, file) {
		t.Error("the served document is not docs/openapi.json")
	}
	var doc struct {
		Paths map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/v1/auth/login", "/api/v1/portfolios", "/api/v1/profit/allocations", "/api/v1/withdrawals", "/api/v1/stats/summary"} {
		if doc.Paths[p] == nil {
			t.Errorf("the merged document has no path %s", p)
		}
	}
	_, page := get(t, srv.URL+DocsPath, nil)
	if !bytes.Contains(page, []byte(`href="`+DocsMergedOpenAPIPath+`"`)) {
		t.Errorf("the docs page does not link %s", DocsMergedOpenAPIPath)
	}
	for _, m := range []string{"POST", "PUT"} {
		req, _ := http.NewRequest(m, srv.URL+DocsMergedOpenAPIPath, nil)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 {
			t.Errorf("%s %s = %v %v, want 405", m, DocsMergedOpenAPIPath, resp, err)
		} else {
			resp.Body.Close()
		}
	}
}
