package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fundplatform/platform/devstack/edge"
)

// The API docs: the dev edge serves them itself (devstack/edge/docs.go) and
// so must Envoy, from the same files, mounted into its container.

// envoyDefaultMaxDirectResponse is Envoy's limit on a direct_response body
// when the route configuration does not set max_direct_response_body_size_bytes.
const envoyDefaultMaxDirectResponse = 4096

// configMapMaxBytes is what Kubernetes accepts in one ConfigMap (1 MiB).
const configMapMaxBytes = 1 << 20

func isDocsPath(p string) bool { return p == edge.DocsPath || strings.HasPrefix(p, edge.DocsPath+"/") }

// envoyFiles reads a file of the Envoy container by its path there, from
// where the deployment takes it in the repository.
type envoyFiles func(containerPath string) ([]byte, error)

// docsSamplePaths are the docs paths the dev edge answers and paths near them
// it does not.
func docsSamplePaths() []string {
	ps := []string{
		"/docs", "/docs/", "/docs/assets/docs.css", "/docs/assets/docs.js", edge.DocsMergedOpenAPIPath,
		"/docsx", "/docs/x", "/docs/index.html", "/docs/assets/", "/docs/assets/nope.js", "/docs/assets/docs.css/x",
		"/docs/openapi/", "/docs/openapi/nope.json", "/docs/openapi/.json", "/docs/openapi/auth", "/docs/openapi/auth/x.json",
		"/docs/openapi.json/x", "/docs/openapi.jsonx",
	}
	for _, s := range edge.Services {
		ps = append(ps, edge.DocsOpenAPIPath+s+".json")
	}
	return ps
}

// devEdgeAnswer is what the dev edge did with one request.
type devEdgeAnswer struct {
	status  int
	header  http.Header
	body    []byte
	backend *backendHit // the request a service got, if any
}

type backendHit struct {
	service, path, query, authorization, cookie string
}

// devEdge runs the dev edge in process with one fake backend per service
// that records what it receives.
func devEdge(t *testing.T) func(method, path string) devEdgeAnswer {
	t.Helper()
	var mu sync.Mutex
	var last *backendHit
	backends := map[string]string{}
	for _, s := range edge.Services {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			last = &backendHit{s, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Cookie")}
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"openapi":"3.0.3"}`))
		}))
		t.Cleanup(srv.Close)
		backends[s] = srv.URL
	}
	h, err := edge.New(edge.Config{Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	return func(method, p string) devEdgeAnswer {
		mu.Lock()
		last = nil
		mu.Unlock()
		req := httptest.NewRequest(method, p, nil)
		req.Header.Set("Authorization", "Bearer secret")
		req.Header.Set("Cookie", "session=secret")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		mu.Lock()
		defer mu.Unlock()
		return devEdgeAnswer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes(), backend: last}
	}
}

func firstRoute(t *testing.T, vh *routev3.VirtualHost, method, p string) *routev3.Route {
	t.Helper()
	for _, r := range vh.GetRoutes() {
		if envoyMatches(t, r, method, p) {
			return r
		}
	}
	return nil
}

func responseHeader(r *routev3.Route, name string) (string, bool) {
	for _, h := range r.GetResponseHeadersToAdd() {
		if strings.EqualFold(h.GetHeader().GetKey(), name) {
			return h.GetHeader().GetValue(), h.GetAppendAction() == corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		}
	}
	return "", false
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// checkDocsRoutes proves that Envoy answers every docs path and method as
// the dev edge does: the same files (read through files) with the same
// Content-Type, Cache-Control and X-Content-Type-Options; the same service
// for each service's document, at /openapi.json and without credentials;
// 405 for other methods and no route (404) where the dev edge has none.
// The docs need no token, and keep the edge's rate limit.
func checkDocsRoutes(t *testing.T, name string, b *bootstrapv3.Bootstrap, files envoyFiles) {
	t.Helper()
	hcm, vh := edgeHCM(t, b)
	maxBody := uint32(envoyDefaultMaxDirectResponse)
	if v := hcm.GetRouteConfig().GetMaxDirectResponseBodySizeBytes(); v != nil {
		maxBody = v.GetValue()
	}
	dev := devEdge(t)
	used := map[*routev3.Route]bool{}
	for _, p := range docsSamplePaths() {
		for _, method := range []string{"GET", "HEAD", "POST", "DELETE"} {
			want := dev(method, p)
			got := firstRoute(t, vh, method, p)
			where := fmt.Sprintf("%s: %s %s", name, method, p)
			if got != nil {
				used[got] = true
			}
			switch {
			case want.backend != nil:
				if got == nil || got.GetRoute() == nil {
					t.Errorf("%s: the dev edge proxies it to %s, Envoy does not route it", where, want.backend.service)
					continue
				}
				ra := got.GetRoute()
				if ra.GetCluster() != want.backend.service {
					t.Errorf("%s: Envoy sends it to %q, the dev edge to %q", where, ra.GetCluster(), want.backend.service)
				}
				if got.GetMatch().GetPath() != p || ra.GetPrefixRewrite() != want.backend.path {
					t.Errorf("%s: Envoy rewrites %q to %q, the dev edge sends %q", where, matchValue(got.GetMatch()), ra.GetPrefixRewrite(), want.backend.path)
				}
				removed := map[string]bool{}
				for _, h := range got.GetRequestHeadersToRemove() {
					removed[strings.ToLower(h)] = true
				}
				for h, v := range map[string]string{"authorization": want.backend.authorization, "cookie": want.backend.cookie} {
					if v == "" && !removed[h] {
						t.Errorf("%s: the dev edge drops %s, Envoy passes it on", where, h)
					}
				}
			case want.status == http.StatusNotFound:
				if got != nil {
					t.Errorf("%s: the dev edge answers 404, Envoy routes it (%q)", where, got.GetName())
				}
			case got == nil || got.GetDirectResponse() == nil:
				t.Errorf("%s: the dev edge answers %d itself, Envoy has no direct response", where, want.status)
			case got.GetDirectResponse().GetStatus() != uint32(want.status):
				t.Errorf("%s: Envoy answers %d (route %q), the dev edge %d", where, got.GetDirectResponse().GetStatus(), got.GetName(), want.status)
			case want.status == http.StatusMethodNotAllowed:
				allow, _ := responseHeader(got, "allow")
				if allow != want.header.Get("Allow") {
					t.Errorf("%s: Allow %q, the dev edge %q", where, allow, want.header.Get("Allow"))
				}
				if body := got.GetDirectResponse().GetBody().GetInlineString(); !jsonEqual([]byte(body), want.body) {
					t.Errorf("%s: body %s, the dev edge %s", where, body, want.body)
				}
			case want.status == http.StatusOK:
				for _, h := range []string{"Content-Type", "Cache-Control", "X-Content-Type-Options"} {
					v, overwrites := responseHeader(got, h)
					if v != want.header.Get(h) || !overwrites {
						t.Errorf("%s: %s %q (overwriting: %v), the dev edge %q", where, h, v, overwrites, want.header.Get(h))
					}
				}
				fn := got.GetDirectResponse().GetBody().GetFilename()
				if fn == "" {
					t.Errorf("%s: route %q does not answer with a file", where, got.GetName())
					continue
				}
				body, err := files(fn)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				if len(body) > int(maxBody) {
					t.Errorf("%s: %s has %d bytes, over max_direct_response_body_size_bytes %d", where, fn, len(body), maxBody)
				}
				if method == "GET" && !bytes.Equal(body, want.body) {
					t.Errorf("%s: Envoy's %s (%d bytes) is not what the dev edge serves (%d bytes)", where, fn, len(body), len(want.body))
				}
			default:
				t.Errorf("%s: the dev edge answers %d, not modelled here", where, want.status)
			}
		}
	}

	// Every docs route is one of those above, none overrides the filters
	// (the API rate limit, CORS) as the public routes do not either.
	for _, r := range vh.GetRoutes() {
		if !isDocsPath(matchValue(r.GetMatch())) {
			continue
		}
		if !used[r] {
			t.Errorf("%s: docs route %q (%s) answers none of the sample requests", name, r.GetName(), matchValue(r.GetMatch()))
		}
		if len(r.GetTypedPerFilterConfig()) > 0 {
			t.Errorf("%s: docs route %q overrides filters %v", name, r.GetName(), keys(r.GetTypedPerFilterConfig()))
		}
	}
	hasRateLimit := false
	for _, f := range hcm.GetHttpFilters() {
		hasRateLimit = hasRateLimit || f.GetName() == "envoy.filters.http.local_ratelimit"
	}
	if !hasRateLimit {
		t.Errorf("%s: the edge has no local rate limit", name)
	}

	// No docs path needs a token: the first JWT rule that matches it (if
	// any) requires nothing.
	jwt := jwtConfig(t, hcm.GetHttpFilters())
	for _, p := range docsSamplePaths() {
		for _, rule := range jwt.GetRules() {
			if envoyMatches(t, &routev3.Route{Name: "jwt rule", Match: rule.GetMatch()}, "GET", p) {
				if rule.GetRequires() != nil || rule.GetRequirementName() != "" {
					t.Errorf("%s: GET %s needs a token (JWT rule %v)", name, p, rule.GetMatch())
				}
				break
			}
		}
	}
}

func jwtConfig(t *testing.T, filters []*hcmv3.HttpFilter) *jwtv3.JwtAuthentication {
	t.Helper()
	for _, f := range filters {
		var j jwtv3.JwtAuthentication
		if a := f.GetTypedConfig(); a != nil && a.MessageIs(&j) {
			if err := a.UnmarshalTo(&j); err != nil {
				t.Fatal(err)
			}
			return &j
		}
	}
	t.Fatal("no jwt_authn filter")
	return nil
}

// composeEnvoyFiles resolves a path of the compose Envoy container through
// the service's read-only bind mounts.
func composeEnvoyFiles(t *testing.T) envoyFiles {
	t.Helper()
	s, err := loadCompose(t).GetService("envoy")
	if err != nil {
		t.Fatal(err)
	}
	vols := s.Volumes
	return func(p string) ([]byte, error) {
		var best *types.ServiceVolumeConfig
		for i, v := range vols {
			if (p == v.Target || strings.HasPrefix(p, strings.TrimSuffix(v.Target, "/")+"/")) && (best == nil || len(v.Target) > len(best.Target)) {
				best = &vols[i]
			}
		}
		if best == nil {
			return nil, fmt.Errorf("compose: nothing is mounted at %s in the envoy container", p)
		}
		if best.Type != types.VolumeTypeBind || !best.ReadOnly {
			return nil, fmt.Errorf("compose: %s is mounted from %s %q, not a read-only bind mount", p, best.Type, best.Source)
		}
		src := filepath.Join(best.Source, filepath.FromSlash(strings.TrimPrefix(p, best.Target)))
		root, _ := filepath.Abs(repoRoot)
		if rel, err := filepath.Rel(root, src); err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("compose: %s comes from %s, outside the repository", p, src)
		}
		return os.ReadFile(src)
	}
}

// helmEnvoyFiles resolves a path of the chart's Envoy container through its
// volume mounts to the ConfigMaps the chart renders.
func helmEnvoyFiles(t *testing.T, ms []manifest) envoyFiles {
	t.Helper()
	var dep *appsv1.Deployment
	cms := map[string]*corev1.ConfigMap{}
	for _, m := range ms {
		switch o := m.obj.(type) {
		case *appsv1.Deployment:
			if strings.HasSuffix(o.Name, "-edge") {
				dep = o
			}
		case *corev1.ConfigMap:
			cms[o.Name] = o
		}
	}
	if dep == nil {
		t.Fatal("no edge Deployment")
	}
	pod := dep.Spec.Template.Spec
	var envoy *corev1.Container
	for i, c := range pod.Containers {
		if c.Name == "envoy" {
			envoy = &pod.Containers[i]
		}
	}
	if envoy == nil {
		t.Fatal("edge Deployment: no envoy container")
	}
	return func(p string) ([]byte, error) {
		var best *corev1.VolumeMount
		for i, vm := range envoy.VolumeMounts {
			if (p == vm.MountPath || strings.HasPrefix(p, strings.TrimSuffix(vm.MountPath, "/")+"/")) && (best == nil || len(vm.MountPath) > len(best.MountPath)) {
				best = &envoy.VolumeMounts[i]
			}
		}
		if best == nil {
			return nil, fmt.Errorf("helm: nothing is mounted at %s in the envoy container", p)
		}
		if !best.ReadOnly || best.SubPath != "" {
			return nil, fmt.Errorf("helm: %s: mount %s is not read-only or uses subPath", p, best.Name)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, best.MountPath), "/")
		for _, v := range pod.Volumes {
			if v.Name != best.Name {
				continue
			}
			if v.ConfigMap == nil {
				return nil, fmt.Errorf("helm: %s: volume %s is not a ConfigMap", p, v.Name)
			}
			cm := cms[v.ConfigMap.Name]
			if cm == nil {
				return nil, fmt.Errorf("helm: %s: ConfigMap %s is not rendered", p, v.ConfigMap.Name)
			}
			key := rel
			if len(v.ConfigMap.Items) > 0 {
				key = ""
				for _, it := range v.ConfigMap.Items {
					if path.Clean(it.Path) == rel {
						key = it.Key
					}
				}
				if key == "" {
					return nil, fmt.Errorf("helm: %s: no item of ConfigMap %s is mounted as %s", p, cm.Name, rel)
				}
			}
			if s, ok := cm.Data[key]; ok {
				return []byte(s), nil
			}
			if b, ok := cm.BinaryData[key]; ok {
				return b, nil
			}
			return nil, fmt.Errorf("helm: %s: ConfigMap %s has no key %q", p, cm.Name, key)
		}
		return nil, fmt.Errorf("helm: %s: no volume %s", p, best.Name)
	}
}

// checkConfigMapSizes keeps every ConfigMap under what Kubernetes accepts.
func checkConfigMapSizes(t *testing.T, ms []manifest) {
	t.Helper()
	for _, m := range ms {
		if cm, ok := m.obj.(*corev1.ConfigMap); ok {
			n := 0
			for k, v := range cm.Data {
				n += len(k) + len(v)
			}
			for k, v := range cm.BinaryData {
				n += len(k) + len(v)
			}
			if n > configMapMaxBytes*9/10 {
				t.Errorf("ConfigMap %s holds %d bytes, near or over the 1 MiB Kubernetes accepts", cm.Name, n)
			}
		}
	}
}

func TestEnvoyServesTheDocsAsTheDevEdge(t *testing.T) {
	y, err := os.ReadFile(filepath.Join(repoRoot, "deploy/envoy/envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b := loadBootstrap(t, "deploy/envoy/envoy.yaml", y)
	checkDocsRoutes(t, "compose", b, composeEnvoyFiles(t))
}

func TestHelmEdgeServesTheDocsAsTheDevEdge(t *testing.T) {
	for _, values := range []string{"", "values-production.yaml"} {
		name := "helm (values.yaml)"
		if values != "" {
			name = "helm (" + values + ")"
		}
		t.Run(name, func(t *testing.T) {
			ms := render(t, values)
			checkConfigMapSizes(t, ms)
			files := helmEnvoyFiles(t, ms)
			n := 0
			for _, m := range ms {
				if cm, ok := m.obj.(*corev1.ConfigMap); ok {
					if y, ok := cm.Data["envoy.yaml"]; ok {
						n++
						checkDocsRoutes(t, name, loadBootstrap(t, "ConfigMap "+cm.Name, []byte(y)), files)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d ConfigMaps with envoy.yaml, want 1", n)
			}
		})
	}
}

// The chart's docs/ is a link to the dev edge's files, as dashboards/ is to
// deploy/grafana/dashboards: one copy, served alike everywhere.
func TestHelmDocsAreTheDevEdgeFiles(t *testing.T) {
	got, err := filepath.EvalSymlinks(filepath.Join(chartDir, "docs"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.EvalSymlinks(filepath.Join(repoRoot, "devstack/edge/docs"))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("deploy/helm/fund-platform/docs is %s, want a link to devstack/edge/docs", got)
	}
	ms := render(t, "")
	for _, m := range ms {
		d, ok := m.obj.(*appsv1.Deployment)
		if !ok || !strings.HasSuffix(d.Name, "-edge") {
			continue
		}
		if d.Spec.Template.Annotations["checksum/docs"] == "" {
			t.Error("the edge pods do not roll when the docs change (no checksum/docs annotation)")
		}
	}
}
