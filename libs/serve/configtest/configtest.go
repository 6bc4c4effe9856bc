// Package configtest runs the table tests of a service's configuration
// loader (libs/serve's, and each service's in cmd/<service>/config_test.go):
// each case changes a base environment and says whether the loader must
// accept it, or which error it must give.
package configtest

import (
	"strings"
	"testing"
)

// Case is one environment: the base with Change applied (an empty value
// sets the variable empty).
type Case struct {
	Change map[string]string
	// MigrateOnly is given to the loader (the process runs -migrate-only).
	MigrateOnly bool
	// Want is "" when the environment must be accepted, else a text the
	// loader's error must contain.
	Want string
}

// Run runs each case as a subtest: it sets base and then the case's
// changes as environment variables (restored after the subtest) and checks
// what load returns.
func Run(t *testing.T, base map[string]string, cases map[string]Case, load func(migrateOnly bool) error) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for k, v := range base {
				t.Setenv(k, v)
			}
			for k, v := range c.Change {
				t.Setenv(k, v)
			}
			err := load(c.MigrateOnly)
			switch {
			case c.Want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.Want != "" && (err == nil || !strings.Contains(err.Error(), c.Want)):
				t.Fatalf("err = %v, want it to mention %q", err, c.Want)
			}
		})
	}
}
