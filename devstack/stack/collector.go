package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/fundplatform/platform/devstack/internal/supervisor"
)

// CollectorBinary is the trace backend's binary in BinDir: the
// OpenTelemetry Collector of devstack/otelcol (make build builds it).
const CollectorBinary = "otelcol"

// CollectorConfig is its configuration, relative to the repository (the
// OTLP receiver, the batch processor, the file exporter).
const CollectorConfig = "deploy/otel/collector-file.yaml"

// TracesFile is the collector's output in StateDir: OTLP JSON, one export
// request per line (devstack/internal/traces reads it).
const TracesFile = "traces.jsonl"

// collectorName names the collector's process and port.
const collectorName = "otelcol"

// TraceSpanDelay is the services' and the edge's batch delay
// (OTEL_BSP_SCHEDULE_DELAY, ms): their spans reach the file within about
// this plus the collector's own batch timeout and flush interval.
const TraceSpanDelay = "200"

// wantCollector says whether the stack runs the trace collector: its
// binary is in BinDir and its configuration is found.
func (s *Stack) wantCollector() bool {
	return s.cfg.CollectorConfig != "" && isExecutable(filepath.Join(s.cfg.BinDir, CollectorBinary)) &&
		fileExists(s.cfg.CollectorConfig)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// startCollector starts the trace collector, supervised like the services,
// on the port allocatePorts picked, writing to a new StateDir/traces.jsonl;
// without its binary the stack runs without a trace backend (the services
// record no spans) and says so.
func (s *Stack) startCollector(ports map[string]int) error {
	if !s.wantCollector() {
		s.logf("no %s in %s: no trace backend, the services record no spans (make build builds it)", CollectorBinary, s.cfg.BinDir)
		return nil
	}
	file := filepath.Join(s.cfg.StateDir, TracesFile)
	if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[collectorName])
	p, err := s.sup.Start(supervisor.Spec{
		Name:   collectorName,
		Path:   filepath.Join(s.cfg.BinDir, CollectorBinary),
		Args:   []string{"--config=" + s.cfg.CollectorConfig},
		Env:    []string{"OTELCOL_HTTP_ENDPOINT=" + addr, "OTELCOL_TRACES_FILE=" + file},
		Stdout: s.mux.Writer(collectorName),
		Stderr: s.mux.Writer(collectorName),
	})
	if err != nil {
		return fmt.Errorf("start the trace collector: %w", err)
	}
	s.ready.OTLPEndpoint, s.ready.TracesFile = "http://"+addr, file
	s.logf("started the trace collector on %s (pid %d), spans go to %s", s.ready.OTLPEndpoint, p.PID(), file)
	return nil
}

// traceEnv is what every service is given to export its spans to the
// collector (nothing without one).
func (s *Stack) traceEnv() []string {
	if s.ready.OTLPEndpoint == "" {
		return nil
	}
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.ready.OTLPEndpoint, "OTEL_BSP_SCHEDULE_DELAY=" + TraceSpanDelay}
}

// edgeTracerProvider is the dev edge's tracer provider (service.name
// "edge"), exporting to the collector as the services do; nil without one.
func (s *Stack) edgeTracerProvider() *sdktrace.TracerProvider {
	if s.ready.OTLPEndpoint == "" {
		return nil
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(s.ready.OTLPEndpoint+"/v1/traces"))
	if err != nil {
		s.logf("the edge records no spans: %v", err)
		return nil
	}
	delay, _ := strconv.Atoi(TraceSpanDelay)
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Duration(delay)*time.Millisecond)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "edge"))))
}

// stopEdgeTracing flushes the edge's last spans (before the collector
// stops).
func (s *Stack) stopEdgeTracing() {
	if s.edgeTP == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.edgeTP.Shutdown(ctx); err != nil {
		s.logf("the edge's last spans were not exported: %v", err)
	}
}
