package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/testkit"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestMain lets TestMainExits (and the outbox commands' tests) run Main
// in a child process (Main exits).
func TestMain(m *testing.M) {
	switch os.Getenv("SERVE_TEST_MAIN") {
	case "1":
		runToyMain()
		return
	case "backend":
		runToyBackend()
		return
	}
	os.Exit(pgtest.Main(m))
}

// toyConfig is a configuration of Main's shape that needs no database to
// load.
type toyConfig struct {
	Config
	DatabaseURL string `env:"DATABASE_URL"`
}

func (c toyConfig) Database() string { return c.DatabaseURL }

func runToyMain() {
	var say string
	Main(Program[toyConfig]{
		Name: "toy",
		Load: func(bool) (toyConfig, error) {
			if os.Getenv("TOY_BAD") != "" {
				return toyConfig{}, errors.New("TOY_BAD is set")
			}
			return toyConfig{Config: Config{HTTPAddr: os.Getenv("TOY_ADDR"), LogLevel: "info", LogFormat: "json"}}, nil
		},
		Start: func(context.Context, toyConfig, *pgxpool.Pool, *slog.Logger) (*Server, error) {
			return nil, errors.New("not reached in these tests")
		},
		Commands: []Command[toyConfig]{{
			Register: func(fs *flag.FlagSet) { fs.StringVar(&say, "say", "", "print this and exit") },
			Run: func(_ context.Context, cfg toyConfig) (bool, error) {
				switch say {
				case "":
					return false, nil
				case "fail":
					return true, errors.New("the command failed")
				}
				fmt.Println(say)
				return true, nil
			},
		}},
	})
}

// Main's flags and exit codes: 2 on a bad configuration, 1 when not ready
// or when a command fails, 0 after a command ran.
func TestMainExits(t *testing.T) {
	cases := map[string]struct {
		args []string
		env  []string
		code int
		out  string
	}{
		"bad config":       {nil, []string{"TOY_BAD=1"}, 2, "toy: configuration: TOY_BAD is set"},
		"bad config first": {[]string{"-say", "hi"}, []string{"TOY_BAD=1"}, 2, "toy: configuration:"},
		"not ready":        {[]string{"-healthcheck"}, []string{"TOY_ADDR=" + testkit.FreeAddr(t)}, 1, "toy: not ready:"},
		"command":          {[]string{"-say", "hi"}, nil, 0, "hi"},
		"command fails":    {[]string{"-say", "fail"}, nil, 1, "toy: the command failed"},
		"unknown flag":     {[]string{"-nope"}, nil, 2, "flag provided but not defined"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], append([]string{}, c.args...)...)
			cmd.Env = append(append(os.Environ(), "SERVE_TEST_MAIN=1"), c.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.code || !strings.Contains(string(out), c.out) {
				t.Fatalf("exit %d, output %q; want %d and %q", code, out, c.code, c.out)
			}
		})
	}
}
