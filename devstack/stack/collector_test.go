package stack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fundplatform/platform/devstack/edge"
)

// The collector runs only with its binary and its configuration; then its
// port is reserved with the others, every service is told where to export
// and the banner says where the spans go.
func TestCollectorIsWiredWhenBuilt(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(conf, []byte("receivers: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Stack{cfg: Config{Replicas: 1, BinDir: dir, CollectorConfig: conf, Ports: map[string]int{}}}
	if s.wantCollector() {
		t.Fatal("collector wanted without its binary")
	}
	if err := os.WriteFile(filepath.Join(dir, CollectorBinary), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !s.wantCollector() {
		t.Fatal("collector not wanted with its binary and configuration")
	}
	ports, lns, err := s.reservePorts([]string{edge.Auth})
	if err != nil {
		t.Fatal(err)
	}
	for _, ln := range lns {
		ln.Close()
	}
	if ports[collectorName] == 0 || ports[collectorName] == ports[edge.Auth] {
		t.Fatalf("ports %v: the collector has none of its own", ports)
	}

	if env := s.serviceEnv(edge.Auth, Replica{Port: 1}, "postgres://x", map[string]string{}); slices.ContainsFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "OTEL_")
	}) {
		t.Fatalf("OTEL_ variables without a collector: %v", env)
	}
	s.ready.OTLPEndpoint, s.ready.TracesFile = "http://127.0.0.1:4318", "/r/.devstack/traces.jsonl"
	env := s.serviceEnv(edge.Auth, Replica{Port: 1}, "postgres://x", map[string]string{})
	if !slices.Contains(env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318") || !slices.Contains(env, "OTEL_BSP_SCHEDULE_DELAY="+TraceSpanDelay) {
		t.Fatalf("service env %v: not exporting to the collector", env)
	}
	if b := s.ready.Banner(); !strings.Contains(b, "/r/.devstack/traces.jsonl") || !strings.Contains(b, "devstack/cmd/traces") {
		t.Fatalf("banner does not show the traces:\n%s", b)
	}
	if c, err := (Config{RepoDir: "/r"}).withDefaults(); err != nil || c.CollectorConfig != "/r/"+CollectorConfig {
		t.Fatalf("default collector config %q (%v)", c.CollectorConfig, err)
	}
}
