package validate

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/fundplatform/platform/devstack/edge"
)

const (
	releaseName = "fund"
	namespace   = "fund"
)

var chartDir = filepath.Join(repoRoot, "deploy/helm/fund-platform")

// strictDecoder decodes a manifest into the k8s.io/api type its apiVersion
// and kind name, failing on unknown or duplicate fields.
var strictDecoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

func valuesFile(t *testing.T, name string) map[string]any {
	t.Helper()
	if name == "" {
		return map[string]any{}
	}
	b, err := os.ReadFile(filepath.Join(chartDir, name))
	if err != nil {
		t.Fatal(err)
	}
	v, err := chartutil.ReadValues(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v.AsMap()
}

type manifest struct {
	template string
	kind     string
	name     string
	obj      runtime.Object
}

// render renders the chart with the given values file over values.yaml (as
// `helm template` does) and strictly decodes every manifest.
func render(t *testing.T, valuesName string) []manifest {
	t.Helper()
	return renderValues(t, valuesFile(t, valuesName))
}

// renderValues renders the chart with values over values.yaml.
func renderValues(t *testing.T, values map[string]any) []manifest {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("chart does not load: %v", err)
	}
	opts := chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValues(ch, values, opts, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		t.Fatalf("chart does not render: %v", err)
	}
	names := make([]string, 0, len(out))
	for k := range out {
		names = append(names, k)
	}
	sort.Strings(names)
	var ms []manifest
	for _, tpl := range names {
		if strings.HasSuffix(tpl, "NOTES.txt") {
			continue
		}
		for _, doc := range releaseutil.SplitManifests(out[tpl]) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", tpl, err, doc)
			}
			m := manifest{template: tpl, kind: meta.Kind, name: meta.Metadata.Name}
			if meta.Kind == "ServiceMonitor" {
				// A Prometheus Operator CRD: no k8s.io/api type.
				u := &unstructured.Unstructured{}
				if err := yaml.UnmarshalStrict([]byte(doc), &u.Object); err != nil {
					t.Fatalf("%s: %v", tpl, err)
				}
				if meta.APIVersion != "monitoring.coreos.com/v1" {
					t.Errorf("%s: ServiceMonitor apiVersion %q", tpl, meta.APIVersion)
				}
				m.obj = u
			} else {
				obj, gvk, err := strictDecoder.Decode([]byte(doc), nil, nil)
				if err != nil {
					t.Fatalf("%s (%s %s) does not decode strictly: %v\n%s", tpl, meta.Kind, meta.Metadata.Name, err, doc)
				}
				if gvk.Kind != meta.Kind {
					t.Fatalf("%s: decoded kind %s, want %s", tpl, gvk.Kind, meta.Kind)
				}
				m.obj = obj
			}
			if m.name == "" {
				t.Errorf("%s: %s without a name", tpl, m.kind)
			}
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		t.Fatal("chart rendered nothing")
	}
	return ms
}

func lintChart(t *testing.T, valuesName string) {
	t.Helper()
	l := lint.AllWithKubeVersion(chartDir, valuesFile(t, valuesName), namespace, nil)
	for _, m := range l.Messages {
		if m.Severity >= support.ErrorSev {
			t.Errorf("helm lint (%q): %v", valuesName, m)
		} else {
			t.Logf("helm lint (%q): %v", valuesName, m)
		}
	}
}

func serviceDeployments(t *testing.T, ms []manifest) map[string]*appsv1.Deployment {
	t.Helper()
	deps := map[string]*appsv1.Deployment{}
	for _, m := range ms {
		if d, ok := m.obj.(*appsv1.Deployment); ok {
			// The component label, not the name: the PostgreSQL exporter of
			// a service's database ends in the service's name too.
			if s := d.Labels["app.kubernetes.io/component"]; slices.Contains(edge.Services, s) {
				deps[s] = d
			}
		}
	}
	for _, s := range edge.Services {
		if deps[s] == nil {
			t.Errorf("no Deployment for service %s", s)
		}
	}
	return deps
}

func checkHardened(t *testing.T, what string, pod corev1.PodSpec) {
	t.Helper()
	podNonRoot := pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot
	for _, c := range append(append([]corev1.Container(nil), pod.InitContainers...), pod.Containers...) {
		where := what + " container " + c.Name
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s: no securityContext", where)
			continue
		}
		if !podNonRoot && (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
			t.Errorf("%s: runAsNonRoot is not set", where)
		}
		if sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot {
			t.Errorf("%s: runAsNonRoot false", where)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem is not true", where)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation is not false", where)
		}
		dropsAll := false
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Drop {
				dropsAll = dropsAll || c == "ALL"
			}
		}
		if !dropsAll {
			t.Errorf("%s: capabilities do not drop ALL", where)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				t.Errorf("%s: no %s request", where, r)
			}
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			t.Errorf("%s: no memory limit", where)
		}
	}
}

func checkProbe(t *testing.T, where, kind string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: no HTTP %s probe", where, kind)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s: %s probe on %q, want %q", where, kind, p.HTTPGet.Path, path)
	}
}

func checkRendered(t *testing.T, ms []manifest) {
	t.Helper()
	for s, d := range serviceDeployments(t, ms) {
		if len(d.Spec.Template.Spec.Containers) == 0 {
			t.Errorf("%s: no containers", s)
			continue
		}
		c := d.Spec.Template.Spec.Containers[0]
		where := "Deployment " + d.Name
		checkProbe(t, where, "liveness", c.LivenessProbe, "/healthz")
		checkProbe(t, where, "readiness", c.ReadinessProbe, "/readyz")
		if len(c.Resources.Limits) == 0 || len(c.Resources.Requests) == 0 {
			t.Errorf("%s: resources need requests and limits", where)
		}
	}
	// Every workload of the chart is hardened, the edge and the migration
	// Jobs included.
	for _, m := range ms {
		switch o := m.obj.(type) {
		case *appsv1.Deployment:
			checkHardened(t, "Deployment "+o.Name, o.Spec.Template.Spec)
		case *batchv1.Job:
			checkHardened(t, "Job "+o.Name, o.Spec.Template.Spec)
		}
	}
	// The edge's Envoy configuration is valid and routes as the dev edge.
	edgeConfigs := 0
	for _, m := range ms {
		if cm, ok := m.obj.(*corev1.ConfigMap); ok {
			if y, ok := cm.Data["envoy.yaml"]; ok {
				edgeConfigs++
				b := loadBootstrap(t, "ConfigMap "+cm.Name, []byte(y))
				checkClustersExist(t, b)
				checkRoutesMatchEdge(t, apiVirtualHost(t, b))
			}
		}
	}
	if edgeConfigs != 1 {
		t.Errorf("%d ConfigMaps with envoy.yaml, want 1", edgeConfigs)
	}
}

func count(ms []manifest, kind string) int {
	n := 0
	for _, m := range ms {
		if m.kind == kind {
			n++
		}
	}
	return n
}

func TestHelmLintDefault(t *testing.T)    { lintChart(t, "") }
func TestHelmLintProduction(t *testing.T) { lintChart(t, "values-production.yaml") }

func TestHelmRenderDefault(t *testing.T) {
	ms := render(t, "")
	checkRendered(t, ms)
}

func TestHelmRenderProduction(t *testing.T) {
	ms := render(t, "values-production.yaml")
	checkRendered(t, ms)
	deps := map[string]bool{}
	for _, m := range ms {
		if m.kind == "Deployment" {
			deps[m.name] = true
		}
	}
	hpaFor, pdbFor := map[string]bool{}, map[string]bool{}
	for _, m := range ms {
		switch o := m.obj.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			if o.Spec.ScaleTargetRef.Kind != "Deployment" || !deps[o.Spec.ScaleTargetRef.Name] {
				t.Errorf("HPA %s scales %s %q, not a rendered Deployment", o.Name, o.Spec.ScaleTargetRef.Kind, o.Spec.ScaleTargetRef.Name)
			}
			hpaFor[o.Spec.ScaleTargetRef.Name] = true
		case *policyv1.PodDisruptionBudget:
			pdbFor[o.Name] = true
		}
	}
	for s, d := range serviceDeployments(t, ms) {
		if !hpaFor[d.Name] {
			t.Errorf("production: no HPA for %s", s)
		}
		if !pdbFor[d.Name] {
			t.Errorf("production: no PodDisruptionBudget named %s", d.Name)
		}
	}
	if n := count(ms, "NetworkPolicy"); n == 0 {
		t.Error("production: no NetworkPolicy")
	}
	for _, m := range ms {
		if np, ok := m.obj.(*networkingv1.NetworkPolicy); ok && len(np.Spec.PolicyTypes) == 0 {
			t.Errorf("NetworkPolicy %s has no policyTypes", np.Name)
		}
	}
	t.Logf("production: %d HPAs, %d PDBs, %d NetworkPolicies", count(ms, "HorizontalPodAutoscaler"), count(ms, "PodDisruptionBudget"), count(ms, "NetworkPolicy"))
}
