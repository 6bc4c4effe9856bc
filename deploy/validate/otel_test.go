package validate

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fundplatform/platform/devstack/edge"
)

// collectorConfig is what the two collector configurations must agree on.
type collectorConfig struct {
	Receivers struct {
		OTLP struct {
			Protocols struct {
				HTTP *struct {
					Endpoint string `json:"endpoint"`
				} `json:"http"`
			} `json:"protocols"`
		} `json:"otlp"`
	} `json:"receivers"`
	Processors map[string]any `json:"processors"`
	Service    struct {
		Pipelines map[string]struct {
			Receivers  []string `json:"receivers"`
			Processors []string `json:"processors"`
			Exporters  []string `json:"exporters"`
		} `json:"pipelines"`
	} `json:"service"`
}

func readCollectorConfig(t *testing.T, rel string) collectorConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	var c collectorConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return c
}

// The dev stack's collector (deploy/otel/collector-file.yaml) and compose's
// (deploy/otel/collector.yaml) take what the services send the same way:
// OTLP over HTTP into a traces pipeline that batches; compose's every
// service sends to its collector's HTTP port. (The dev stack's wiring is
// tested by devstack/stack and TestCrossServiceTrace; the services' export
// with compose's and the chart's environment by the parity tests.)
func TestCollectorConfigsAgree(t *testing.T) {
	for _, rel := range []string{"deploy/otel/collector-file.yaml", "deploy/otel/collector.yaml"} {
		c := readCollectorConfig(t, rel)
		if c.Receivers.OTLP.Protocols.HTTP == nil {
			t.Errorf("%s: no OTLP/HTTP receiver", rel)
			continue
		}
		p, ok := c.Service.Pipelines["traces"]
		if !ok || !slices.Contains(p.Receivers, "otlp") || !slices.Contains(p.Processors, "batch") || len(p.Exporters) == 0 {
			t.Errorf("%s: traces pipeline %+v, want otlp → batch → an exporter", rel, p)
		}
		if rel != "deploy/otel/collector.yaml" {
			continue
		}
		_, port, _ := strings.Cut(c.Receivers.OTLP.Protocols.HTTP.Endpoint, ":")
		for _, s := range loadCompose(t).Services {
			if !slices.Contains(edge.Services, s.Name) {
				continue
			}
			v := s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
			if v == nil {
				t.Errorf("compose %s: no OTEL_EXPORTER_OTLP_ENDPOINT", s.Name)
				continue
			}
			u, err := url.Parse(*v)
			if err != nil || u.Hostname() != "otel-collector" || u.Port() != port {
				t.Errorf("compose %s: OTEL_EXPORTER_OTLP_ENDPOINT %q, want the otel-collector's OTLP/HTTP port %s", s.Name, *v, port)
			}
		}
	}
}
