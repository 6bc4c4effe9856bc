package validate

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// Variables every service reads (libs/serve, libs/serve backend config).
var commonEnv = []string{
	"HTTP_ADDR", "APP_ENV", "LOG_LEVEL", "LOG_FORMAT", "SHUTDOWN_DRAIN_DELAY", "SHUTDOWN_TIMEOUT",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "DATABASE_URL", "JWT_ISSUER", "JWT_AUDIENCE",
}

// serviceEnv is, per service, every variable it reads: compose may set no
// other (a variable nothing reads is a misleading setting).
var serviceEnv = map[string][]string{
	"auth": append(slices.Clone(commonEnv), "JWT_SIGNING_KEY_FILE", "JWT_SIGNING_KEY", "ACCESS_TOKEN_TTL",
		"REFRESH_TOKEN_TTL", "BCRYPT_COST", "BOOTSTRAP_ADMIN_EMAIL", "BOOTSTRAP_ADMIN_PASSWORD"),
	"portfolio":  append(slices.Clone(commonEnv), "KAFKA_BROKERS", "JWKS_URL", "AUTH_URL"),
	"profit":     append(slices.Clone(commonEnv), "KAFKA_BROKERS", "JWKS_URL"),
	"withdrawal": append(slices.Clone(commonEnv), "KAFKA_BROKERS", "JWKS_URL"),
	"stats":      append(slices.Clone(commonEnv), "KAFKA_BROKERS", "JWKS_URL"),
}

// noHealthcheck lists long-running services allowed to run without a
// health check, with the reason. Nothing may wait on them being healthy.
var noHealthcheck = map[string]string{
	// The collector image holds only its binary: no shell, no HTTP client.
	"otel-collector": "image has no shell or HTTP client",
}

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv([]string{"BOOTSTRAP_ADMIN_PASSWORD=validate-only-password"}),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func oneShot(s types.ServiceConfig) bool { return s.Restart == "no" }

func TestComposeLoads(t *testing.T) {
	p := loadCompose(t)
	for _, name := range append([]string{"postgres", "kafka", "envoy"}, keys(serviceEnv)...) {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
	}
}

func TestComposeHealthchecksAndDependencies(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		hasCheck := s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0
		if !oneShot(s) && !hasCheck {
			if _, ok := noHealthcheck[name]; !ok {
				t.Errorf("long-running service %s has no healthcheck", name)
			}
		}
		for dep, d := range s.DependsOn {
			switch d.Condition {
			case types.ServiceConditionHealthy:
				ds, err := p.GetService(dep)
				if err != nil {
					t.Errorf("%s depends on unknown %s", name, dep)
				} else if ds.HealthCheck == nil || len(ds.HealthCheck.Test) == 0 {
					t.Errorf("%s waits for %s to be healthy, which has no healthcheck", name, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				ds, err := p.GetService(dep)
				if err != nil {
					t.Errorf("%s depends on unknown %s", name, dep)
				} else if !oneShot(ds) {
					t.Errorf("%s waits for %s to complete, which restarts (%q)", name, dep, ds.Restart)
				}
			default:
				t.Errorf("%s depends on %s with condition %q", name, dep, d.Condition)
			}
		}
	}
}

func TestComposeServiceEnvironmentIsRead(t *testing.T) {
	p := loadCompose(t)
	for name, allowed := range serviceEnv {
		s, err := p.GetService(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(s.Environment) == 0 {
			t.Errorf("%s: no environment", name)
		}
		for _, k := range keys(s.Environment) {
			if !slices.Contains(allowed, k) {
				t.Errorf("%s: sets %s, which the service does not read", name, k)
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
