package configref_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/libs/serve/configref"
)

// TestBackendServicesConfigReference checks the tables of the services
// configured by serve.BackendConfig alone (the withdrawal service, which
// reads more, has its own TestConfigReference). Their default listen
// address is the one their main.go hands to serve.MainBackend.
func TestBackendServicesConfigReference(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	for _, name := range []string{"stats"} {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(root, "services", name, "cmd", name, "main.go"))
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`serve\.MainBackend\("` + name + `", "([^"]+)"`).FindSubmatch(src)
			if m == nil {
				t.Fatalf("services/%s/cmd/%s/main.go no longer calls serve.MainBackend(%q, addr, …)", name, name, name)
			}
			addr := string(m[1])
			configref.Check(t, name, func() (any, error) { return serve.LoadBackendConfig(addr) }, nil)
		})
	}
}

// recorder is a testing.TB that collects failures instead of failing.
type recorder struct {
	testing.TB
	real   *testing.T
	failed []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Setenv(k, v string)        { r.real.Setenv(k, v) }
func (r *recorder) Errorf(f string, a ...any) { r.failed = append(r.failed, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = append(r.failed, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatal(a ...any)            { r.failed = append(r.failed, fmt.Sprint(a...)) }

type toyConfig struct {
	serve.Config
	DatabaseURL string        `env:"TOY_DATABASE_URL"`
	TTL         time.Duration `env:"TOY_TTL" envDefault:"15m"`
	Secret      string        `env:"TOY_SECRET"`
}

func loadToy() (any, error) {
	cfg := toyConfig{Config: serve.Config{HTTPAddr: "127.0.0.1:9999"}}
	if err := env.Parse(&cfg); err != nil {
		return cfg, err
	}
	err := cfg.Config.Validate()
	if cfg.DatabaseURL == "" {
		err = errors.Join(err, errors.New("TOY_DATABASE_URL is required"))
	}
	if cfg.Production() && cfg.Secret == "" {
		err = errors.Join(err, errors.New("production: TOY_SECRET is required"))
	}
	return cfg, err
}

const toyTable = `<!-- config: toy -->
| variable | default | production | meaning |
|---|---|---|---|
| ` + "`HTTP_ADDR`" + ` | ` + "`127.0.0.1:9999`" + ` | — | listen address |
| ` + "`APP_ENV`" + ` | ` + "`development`" + ` | ` + "`production`" + ` | environment |
| ` + "`LOG_LEVEL`" + ` | ` + "`info`" + ` | — | level |
| ` + "`LOG_FORMAT`" + ` | ` + "`json`" + ` | — | format |
| ` + "`SHUTDOWN_DRAIN_DELAY`" + ` | ` + "`0s`" + ` | — | drain |
| ` + "`SHUTDOWN_TIMEOUT`" + ` | ` + "`25s`" + ` | — | timeout |
| ` + "`DEBUG_ADDR`" + ` | — | — | profiler |
| ` + "`TOY_DATABASE_URL`" + ` | — | required (always) | database |
| ` + "`TOY_TTL`" + ` | ` + "`15m`" + ` | — | lifetime |
| ` + "`TOY_SECRET`" + ` | — | required | secret |

after the table
`

func TestCheckDocFindsEveryKindOfDrift(t *testing.T) {
	samples := map[string]string{"TOY_DATABASE_URL": "postgres://x", "TOY_SECRET": "s"}
	run := func(doc string) []string {
		r := &recorder{real: t}
		configref.CheckDoc(r, []byte(doc), "toy", loadToy, samples)
		return r.failed
	}
	if failed := run(toyTable); len(failed) != 0 {
		t.Fatalf("the correct table is refused: %q", failed)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"wrong default", "`15m` |", "`10m` |", "TOY_TTL default"},
		{"wrong code-set default", "`127.0.0.1:9999`", "`127.0.0.1:8080`", "HTTP_ADDR default"},
		{"missing variable", "| `TOY_TTL` | `15m` | — | lifetime |\n", "", "does not document TOY_TTL"},
		{"unknown variable", "| `TOY_TTL`", "| `TOY_NOPE` | — | — | x |\n| `TOY_TTL`", "TOY_NOPE, which the configuration does not read"},
		{"required not marked", "| required | secret", "| — | secret", "only the variables marked required set is refused"},
		{"marked but not required", "| `15m` | — | lifetime", "| `15m` | required | lifetime", "accepted without it"},
		{"no table", "<!-- config: toy -->", "", "has no line"},
	} {
		doc := strings.Replace(toyTable, tc.from, tc.to, 1)
		if doc == toyTable {
			t.Fatalf("%s: the edit did not apply", tc.name)
		}
		failed := strings.Join(run(doc), "\n")
		if !strings.Contains(failed, tc.want) {
			t.Errorf("%s: failures %q, want one containing %q", tc.name, failed, tc.want)
		}
	}
}
