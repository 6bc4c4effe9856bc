package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/fundplatform/platform/devstack/edge"
)

// noHealthcheck lists long-running services allowed to run without a
// health check, with the reason. Nothing may wait on them being healthy.
var noHealthcheck = map[string]string{
	// The collector image holds only its binary: no shell, no HTTP client.
	"otel-collector": "image has no shell or HTTP client",
}

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	return loadComposeWith(t, []string{"BOOTSTRAP_ADMIN_PASSWORD=validate-only-password"})
}

// loadComposeWith loads docker-compose.yml with env as the shell
// environment compose interpolates from (nil: none, so every default applies).
func loadComposeWith(t *testing.T, env []string) *types.Project {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(env),
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
	for _, name := range append([]string{"postgres", "kafka", "envoy"}, edge.Services...) {
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

// TestComposeServiceEnvironmentIsRead checks each service's variables
// against its configuration reference (the parity test then runs them).
func TestComposeServiceEnvironmentIsRead(t *testing.T) {
	p := loadComposeWith(t, nil)
	for _, name := range edge.Services {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			if v != nil {
				env[k] = *v
			}
		}
		checkAgainstReference(t, "compose", name, env, false)
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

// pinned is an exact release tag: major.minor.patch (v1.39.1, 3.9.1), or
// major.minor for images whose releases have two parts (postgres:15.18);
// never "latest" or a major-only tag.
var pinned = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?$`)

// TestImagesArePinned: every image compose pulls, the Helm chart's Envoy and
// the Dockerfile's Go are exact versions, so a cached older image cannot
// differ from a fresh pull.
func TestImagesArePinned(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		if s.Build != nil {
			continue // built here from the Dockerfile
		}
		i := strings.LastIndex(s.Image, ":")
		if i < 0 || !pinned.MatchString(s.Image[i+1:]) || strings.Contains(s.Image[i+1:], "latest") {
			t.Errorf("compose %s: image %q is not pinned to a release", name, s.Image)
		}
	}
	if tag := valuesFile(t, "values.yaml")["edge"].(map[string]any)["image"].(map[string]any)["tag"]; !pinned.MatchString(fmt.Sprint(tag)) ||
		strings.Count(fmt.Sprint(tag), ".") != 2 {
		t.Errorf("helm edge.image.tag %v is not an exact Envoy release", tag)
	}
	root, _ := filepath.Abs(repoRoot)
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindSubmatch(df)
	gomod, err := os.ReadFile(filepath.Join(root, "libs/go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if m == nil || goLine == nil || string(m[1]) != string(goLine[1]) {
		t.Errorf("Dockerfile's GO_VERSION %q is not the modules' go line %q", m, goLine)
	}
	if _, err := os.Stat(filepath.Join(root, ".dockerignore")); err != nil {
		t.Errorf("no .dockerignore: %v", err)
	}
}
