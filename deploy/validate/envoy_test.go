package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	"github.com/fundplatform/platform/devstack/edge"

	// Every extension the configurations name in a typed_config: importing
	// the packages registers their types, so the Any values resolve.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/request_id/uuid/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// repoRoot is the monorepo's root, seen from this module's directory.
const repoRoot = "../.."

// loadBootstrap decodes an Envoy YAML configuration strictly (unknown
// fields are errors) into the v3 Bootstrap, resolving every Any, and runs
// the protoc-gen-validate rules on it and on every message packed in an Any.
func loadBootstrap(t *testing.T, name string, y []byte) *bootstrapv3.Bootstrap {
	t.Helper()
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("%s: YAML: %v", name, err)
	}
	var b bootstrapv3.Bootstrap
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(j, &b); err != nil {
		t.Fatalf("%s: does not decode into envoy.config.bootstrap.v3.Bootstrap: %v", name, err)
	}
	if err := validateDeep(&b, "bootstrap"); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &b
}

type validator interface{ ValidateAll() error }

// validateDeep runs ValidateAll on m and on every message packed in an Any
// below it (ValidateAll itself does not look inside Any values).
func validateDeep(m proto.Message, path string) error {
	if v, ok := m.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	var walk func(protoreflect.Message, string) error
	walk = func(rm protoreflect.Message, p string) error {
		if a, ok := rm.Interface().(*anypb.Any); ok {
			inner, err := a.UnmarshalNew()
			if err != nil {
				return fmt.Errorf("%s: %s does not resolve: %w", p, a.TypeUrl, err)
			}
			return validateDeep(inner, p+"<"+a.TypeUrl+">")
		}
		var err error
		rm.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			fp := p + "." + string(fd.Name())
			switch {
			case fd.IsMap():
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
						err = walk(mv.Message(), fp+"["+k.String()+"]")
						return err == nil
					})
				}
			case fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind:
			case fd.IsList():
				l := v.List()
				for i := 0; i < l.Len() && err == nil; i++ {
					err = walk(l.Get(i).Message(), fmt.Sprintf("%s[%d]", fp, i))
				}
			default:
				err = walk(v.Message(), fp)
			}
			return err == nil
		})
		return err
	}
	return walk(m.ProtoReflect(), path)
}

// apiVirtualHost finds the virtual host whose routes serve /api/v1/.
func apiVirtualHost(t *testing.T, b *bootstrapv3.Bootstrap) *routev3.VirtualHost {
	t.Helper()
	_, vh := edgeHCM(t, b)
	return vh
}

// edgeHCM finds the HTTP connection manager whose route configuration
// serves /api/v1/, and that virtual host.
func edgeHCM(t *testing.T, b *bootstrapv3.Bootstrap) (*hcmv3.HttpConnectionManager, *routev3.VirtualHost) {
	t.Helper()
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				a := f.GetTypedConfig()
				if a == nil {
					continue
				}
				var hcm hcmv3.HttpConnectionManager
				if !a.MessageIs(&hcm) {
					continue
				}
				if err := a.UnmarshalTo(&hcm); err != nil {
					t.Fatal(err)
				}
				for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
					for _, r := range vh.GetRoutes() {
						if strings.HasPrefix(matchValue(r.GetMatch()), "/api/v1/") {
							return &hcm, vh
						}
					}
				}
			}
		}
	}
	t.Fatal("no virtual host routes /api/v1/")
	return nil, nil
}

func matchValue(m *routev3.RouteMatch) string {
	switch {
	case m.GetPath() != "":
		return m.GetPath()
	case m.GetPrefix() != "":
		return m.GetPrefix()
	default:
		return m.GetPathSeparatedPrefix()
	}
}

// envoyMatches is Envoy's route matching for the matchers the
// configuration uses (path, prefix, path_separated_prefix, and an exact
// :method header); anything else fails the test rather than guess.
func envoyMatches(t *testing.T, r *routev3.Route, method, path string) bool {
	t.Helper()
	m := r.GetMatch()
	switch {
	case m.GetPath() != "":
		if path != m.GetPath() {
			return false
		}
	case m.GetPrefix() != "":
		if !strings.HasPrefix(path, m.GetPrefix()) {
			return false
		}
	case m.GetPathSeparatedPrefix() != "":
		p := m.GetPathSeparatedPrefix()
		if path != p && !strings.HasPrefix(path, p+"/") {
			return false
		}
	default:
		t.Fatalf("route %q: unsupported path matcher %v", r.GetName(), m)
	}
	if m.GetCaseSensitive() != nil || len(m.GetQueryParameters()) > 0 || m.GetRuntimeFraction() != nil || m.GetGrpc() != nil {
		t.Fatalf("route %q: unsupported matcher %v", r.GetName(), m)
	}
	for _, h := range m.GetHeaders() {
		sm := h.GetStringMatch()
		if h.GetName() != ":method" || sm == nil || sm.GetIgnoreCase() {
			t.Fatalf("route %q: unsupported header matcher %v", r.GetName(), h)
		}
		var ok bool
		switch {
		case sm.GetExact() != "":
			ok = method == sm.GetExact()
		case sm.GetSafeRegex().GetRegex() != "":
			// Envoy's safe_regex (RE2) must match the whole value.
			re, err := regexp.Compile(`^(?:` + sm.GetSafeRegex().GetRegex() + `)$`)
			if err != nil {
				t.Fatalf("route %q: %v", r.GetName(), err)
			}
			ok = re.MatchString(method)
		default:
			t.Fatalf("route %q: unsupported header matcher %v", r.GetName(), h)
		}
		if ok == h.GetInvertMatch() {
			return false
		}
	}
	return true
}

// checkRoutesMatchEdge proves that the Envoy virtual host routes exactly as
// the dev edge's table (devstack/edge.Routes) does.
func checkRoutesMatchEdge(t *testing.T, vh *routev3.VirtualHost) {
	t.Helper()
	routes := vh.GetRoutes()

	// 1. Every table entry has a route with its matcher kind and prefix to
	// its service's cluster, and one that takes every method (no header
	// matcher: the catch-all after the GET route with retries).
	for _, er := range edge.Routes {
		var any, catchAll bool
		for _, r := range routes {
			m := r.GetMatch()
			var v string
			if er.SegmentPrefix() {
				v = m.GetPathSeparatedPrefix()
			} else {
				v = m.GetPrefix()
			}
			if v != er.Prefix {
				continue
			}
			if c := r.GetRoute().GetCluster(); c != er.Service {
				t.Errorf("route %q for %s goes to cluster %q, the edge to %q", r.GetName(), er.Prefix, c, er.Service)
			}
			any = true
			if len(m.GetHeaders()) == 0 {
				catchAll = true
			}
		}
		kind := "prefix"
		if er.SegmentPrefix() {
			kind = "path_separated_prefix"
		}
		if !any {
			t.Errorf("edge route %s -> %s: no Envoy route with %s %q", er.Prefix, er.Service, kind, er.Prefix)
		} else if !catchAll {
			t.Errorf("edge route %s -> %s: only method-restricted Envoy routes", er.Prefix, er.Service)
		}
	}

	// 2. Every Envoy route is the health route (answered by Envoy itself)
	// or lies inside a table entry for the same service; a prefix route
	// must be exactly a table entry.
	for _, r := range routes {
		m := r.GetMatch()
		v := matchValue(m)
		if v == edge.HealthPath && m.GetPath() != "" {
			if r.GetDirectResponse().GetStatus() != 200 {
				t.Errorf("health route %q is not a direct 200 response", r.GetName())
			}
			continue
		}
		if isDocsPath(v) {
			continue // checkDocsRoutes
		}
		er, ok := edge.Match(edge.Routes, v)
		if !ok {
			t.Errorf("Envoy route %q (%s) has no entry in the edge's route table", r.GetName(), v)
			continue
		}
		if c := r.GetRoute().GetCluster(); c != er.Service {
			t.Errorf("Envoy route %q (%s) goes to %q, the edge's table to %q", r.GetName(), v, c, er.Service)
		}
		if m.GetPath() == "" && er.Prefix != v {
			t.Errorf("Envoy route %q: prefix %q is not a table prefix (the table has %q)", r.GetName(), v, er.Prefix)
		}
	}

	// 3. Behaviour: for sample paths around every prefix, Envoy's first
	// matching route (for GET and for POST) sends the request where the
	// edge would, or nowhere when the edge has no route either.
	var paths []string
	for _, er := range edge.Routes {
		p := strings.TrimSuffix(er.Prefix, "/")
		paths = append(paths, er.Prefix, er.Prefix+"/x", er.Prefix+"x", p, p+"/1/items", p+"X/1")
	}
	paths = append(paths, edge.HealthPath, "/api/v1/", "/api/v1/unknown", "/", "/healthz")
	for _, p := range paths {
		for _, method := range []string{"GET", "POST"} {
			var got *routev3.Route
			for _, r := range routes {
				if envoyMatches(t, r, method, p) {
					got = r
					break
				}
			}
			want, ok := edge.Match(edge.Routes, p)
			switch {
			case p == edge.HealthPath:
				if got == nil || got.GetDirectResponse() == nil {
					t.Errorf("%s %s: not answered by Envoy itself", method, p)
				}
			case !ok && got != nil:
				t.Errorf("%s %s: Envoy routes it (%q) but the edge has no route", method, p, got.GetName())
			case ok && got == nil:
				t.Errorf("%s %s: the edge sends it to %s, Envoy has no route", method, p, want.Service)
			case ok && got.GetRoute().GetCluster() != want.Service:
				t.Errorf("%s %s: Envoy sends it to %q (route %q), the edge to %q", method, p, got.GetRoute().GetCluster(), got.GetName(), want.Service)
			}
		}
	}
}

func checkClustersExist(t *testing.T, b *bootstrapv3.Bootstrap) {
	t.Helper()
	have := map[string]bool{}
	for _, c := range b.GetStaticResources().GetClusters() {
		have[c.GetName()] = true
	}
	for _, s := range edge.Services {
		if !have[s] {
			t.Errorf("no cluster %q", s)
		}
	}
}

func TestEnvoyBootstrapDecodesAndValidates(t *testing.T) {
	y, err := os.ReadFile(filepath.Join(repoRoot, "deploy/envoy/envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b := loadBootstrap(t, "deploy/envoy/envoy.yaml", y)
	checkClustersExist(t, b)
}

func TestEnvoyRoutesEqualDevEdge(t *testing.T) {
	y, err := os.ReadFile(filepath.Join(repoRoot, "deploy/envoy/envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b := loadBootstrap(t, "deploy/envoy/envoy.yaml", y)
	checkRoutesMatchEdge(t, apiVirtualHost(t, b))
}
