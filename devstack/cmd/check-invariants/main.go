// Command check-invariants checks the money invariants of a running stack,
// each in every currency on its own, through its edge (see package
// invariants) and exits 1 when one does not hold. Against the dev stack (`make run`) it needs no flags: it reads the
// bootstrap admin's credentials from the stack's .devstack/auth.env.
//
//	go run ./devstack/cmd/check-invariants [-edge URL] [-email E -password P] [-wait 60s]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fundplatform/platform/devstack/invariants"
)

func main() {
	edge := flag.String("edge", envOr("EDGE", "http://127.0.0.1:8080"), "base URL of the edge (EDGE)")
	email := flag.String("email", os.Getenv("ADMIN_EMAIL"), "an admin's or viewer's email (ADMIN_EMAIL; default: the dev stack's bootstrap admin)")
	password := flag.String("password", os.Getenv("ADMIN_PASSWORD"), "that user's password (ADMIN_PASSWORD; default: from -env-file)")
	envFile := flag.String("env-file", ".devstack/auth.env", "the dev stack's auth environment, read when -email or -password is missing")
	wait := flag.Duration("wait", 0, "retry until every invariant holds or this long has passed (stats are eventually consistent)")
	flag.Parse()

	if *email == "" || *password == "" {
		vars, err := readEnvFile(*envFile)
		if err != nil {
			fail(fmt.Errorf("no -email/-password given and %w", err))
		}
		if *email == "" {
			*email = vars["BOOTSTRAP_ADMIN_EMAIL"]
		}
		if *password == "" {
			*password = vars["BOOTSTRAP_ADMIN_PASSWORD"]
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client, err := invariants.Login(ctx, *edge, *email, *password)
	if err != nil {
		fail(err)
	}
	report, err := invariants.Wait(ctx, client, *wait)
	if err != nil {
		fail(err)
	}
	report.Print(os.Stdout)
	if !report.OK() {
		fmt.Fprintf(os.Stderr, "check-invariants: %d invariant(s) violated\n", len(report.Violations()))
		os.Exit(1)
	}
	fmt.Println("check-invariants: every invariant holds")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// readEnvFile reads the NAME='value' lines the dev stack writes.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the dev stack's credentials: %w (is `make run` running?)", err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		vars[name] = unquote(value)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if vars["BOOTSTRAP_ADMIN_PASSWORD"] == "" {
		return nil, errors.New(path + " has no BOOTSTRAP_ADMIN_PASSWORD")
	}
	return vars, nil
}

// unquote undoes the stack's shell quoting ('…' with '\” for a quote).
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return strings.ReplaceAll(v[1:len(v)-1], `'\''`, `'`)
	}
	return v
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "check-invariants:", err)
	os.Exit(2)
}
