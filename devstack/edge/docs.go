package edge

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/fundplatform/platform/libs/httpx"
)

// The API docs the edge serves itself (they are not in Routes: no service
// owns them; Envoy has routes of its own for them, see below):
//
//   - GET /docs (and /docs/): a self-contained HTML page listing every
//     operation of every service, with links to the raw documents;
//   - GET /docs/assets/…: the page's script and style sheet, embedded in
//     the binary (no CDN, no npm);
//   - GET /docs/openapi.json: every service's document merged into one
//     (docs/openapi.json, generated from services/*/api/openapi.json by
//     `go generate ./devstack/edge`; a test fails when it is out of date);
//   - GET /docs/openapi/{service}.json: the service's own GET /openapi.json,
//     proxied (404 for an unknown service, 503 when it is not running).
//
// The Envoy edge of docker-compose and of the Helm chart serves the same
// files (this directory, mounted into the container) on the same paths:
// see deploy/envoy/README.md.
const (
	DocsPath              = "/docs"
	DocsAssetsPath        = "/docs/assets/"
	DocsOpenAPIPath       = "/docs/openapi/"
	DocsMergedOpenAPIPath = "/docs/openapi.json"
)

//go:generate go run ./internal/mergeopenapi -root ../.. -out docs/openapi.json

//go:embed docs
var docsFS embed.FS

// docsAssets is the content of docs/assets, served under /docs/assets/.
var docsAssets = func() fs.FS {
	sub, err := fs.Sub(docsFS, "docs/assets")
	if err != nil {
		panic(err)
	}
	return sub
}()

// isDocsPath reports whether the edge answers p as part of the docs.
func isDocsPath(p string) bool {
	return p == DocsPath || strings.HasPrefix(p, DocsPath+"/")
}

// docs answers the /docs routes.
func (h *Handler) docs(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpx.WriteError(r.Context(), w, httpx.ErrMethod)
		return
	}
	p := r.URL.Path
	switch {
	case p == DocsPath || p == DocsPath+"/":
		page, err := docsFS.ReadFile("docs/index.html")
		if err != nil {
			httpx.WriteError(r.Context(), w, httpx.ErrNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(page)
	case p == DocsMergedOpenAPIPath:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeFileFS(w, r, docsFS, "docs/openapi.json")
	case strings.HasPrefix(p, DocsAssetsPath):
		name := strings.TrimPrefix(p, DocsAssetsPath)
		if name == "" || strings.Contains(name, "/") || !fs.ValidPath(name) {
			httpx.WriteError(r.Context(), w, httpx.ErrNotFound)
			return
		}
		if _, err := fs.Stat(docsAssets, name); err != nil {
			httpx.WriteError(r.Context(), w, httpx.ErrNotFound)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeFileFS(w, r, docsAssets, name)
	case strings.HasPrefix(p, DocsOpenAPIPath) && strings.HasSuffix(p, ".json"):
		service := strings.TrimSuffix(strings.TrimPrefix(p, DocsOpenAPIPath), ".json")
		if !knownService(service) {
			httpx.WriteError(r.Context(), w, httpx.ErrNotFound)
			return
		}
		if rec, ok := w.(*recorder); ok {
			rec.service = service
		}
		proxy, ok := h.proxies[service]
		if !ok {
			httpx.WriteError(r.Context(), w, ErrServiceUnavailable)
			return
		}
		out := r.Clone(r.Context())
		out.URL.Path, out.URL.RawPath, out.URL.RawQuery = "/openapi.json", "", ""
		out.RequestURI = ""
		// The documents are public; no credentials go to the backend.
		out.Header.Del("Authorization")
		out.Header.Del("Cookie")
		proxy.ServeHTTP(w, out)
	default:
		httpx.WriteError(r.Context(), w, httpx.ErrNotFound)
	}
}

func knownService(name string) bool {
	for _, s := range Services {
		if s == name {
			return true
		}
	}
	return false
}
