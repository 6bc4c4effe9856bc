package migrationlint

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.work not found above the test's directory")
		}
		dir = parent
	}
}

// TestMigrationsAreExpandOnlySinceThePreviousRelease is the check over the
// repository: every migration has a Down section, no released migration
// changed, and every contract-breaking step newer than the previous
// release is a listed two-step rollout.
func TestMigrationsAreExpandOnlySinceThePreviousRelease(t *testing.T) {
	repo := repoRoot(t)
	r, err := LintRepo(repo)
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := PreviousRelease()
	t.Logf("migrations newer than the previous release %s: %s", rev, strings.Join(r.New, ", "))
	for _, f := range r.Listed {
		t.Logf("listed two-step rollout: %s", f)
	}
	for _, p := range r.Problems {
		t.Error(p)
	}
	all, err := Discover(repo)
	if err != nil {
		t.Fatal(err)
	}
	// The discovery finds every service's migrations and the library ones.
	for _, want := range []string{
		"services/auth/internal/store/migrations/00001_init.sql",
		"services/stats/internal/store/migrations/00001_init.sql",
		"libs/idempotency/migration.sql",
		"libs/idempotency/migration_effect.sql",
		"libs/outbox/outbox.sql",
		"libs/inbox/inbox.sql",
	} {
		if !slices.ContainsFunc(all, func(m Migration) bool { return m.Path == want }) {
			t.Errorf("Discover did not find %s", want)
		}
	}
}

// The services' histories hold the library migrations under the names
// their stores give them (library-migrations.txt), with the library's SQL.
func TestHistoryHoldsTheLibraryMigrations(t *testing.T) {
	repo := repoRoot(t)
	h, err := History(repo, "withdrawal")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range h {
		names = append(names, filepath.Base(m.Path))
	}
	// Its first steps; later ones are its own files.
	want := []string{"00001_init.sql", "00002_outbox.sql", "00003_inbox.sql", "00004_idempotency_keys.sql", "00005_idempotency_effect.sql"}
	if len(names) < len(want) || !slices.Equal(names[:len(want)], want) {
		t.Fatalf("withdrawal's history = %q, want it to start with %q", names, want)
	}
	inbox, err := os.ReadFile(filepath.Join(repo, "libs/inbox/inbox.sql"))
	if err != nil || h[2].Content != string(inbox) {
		t.Fatalf("00003_inbox.sql is not libs/inbox/inbox.sql: %v", err)
	}
}

func TestRemoved(t *testing.T) {
	old := Released{"services/x/internal/store/migrations/00001_init.sql": "a", "services/x/internal/store/migrations/00002_outbox.sql": "b", "libs/y/y.sql": "c"}
	kept := []Migration{{Path: "services/x/internal/store/migrations/00001_init.sql"}}
	if got := Removed(kept, old); len(got) != 1 || !strings.HasPrefix(got[0], "services/x/internal/store/migrations/00002_outbox.sql: ") {
		t.Errorf("Removed = %q, want the outbox migration only", got)
	}
	kept = append(kept, Migration{Path: "services/x/internal/store/migrations/00002_outbox.sql"})
	if got := Removed(kept, old); len(got) != 0 {
		t.Errorf("Removed = %q, want none", got)
	}
}

func TestPreviousReleaseIsInTheHistory(t *testing.T) {
	rev, err := PreviousRelease()
	if err != nil {
		t.Fatal(err)
	}
	if err := RequireHistory(repoRoot(t), rev); err != nil {
		t.Fatal(err)
	}
}

func TestRequireHistoryNamesTheFetch(t *testing.T) {
	repo := repoRoot(t)
	err := RequireHistory(repo, "0000000000000000000000000000000000000001")
	if err == nil || !strings.Contains(err.Error(), "git fetch") {
		t.Fatalf("RequireHistory of a missing commit = %v, want an error naming git fetch", err)
	}
	// A shallow clone of one commit lacks the previous release.
	dir := t.TempDir()
	head, err := git(repo, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := git(dir, "init", "-q"); err != nil {
		t.Fatal(err)
	}
	if _, err := git(dir, "fetch", "-q", "--depth=1", "file://"+repo, strings.TrimSpace(head)); err != nil {
		t.Fatal(err)
	}
	rev, _ := PreviousRelease()
	err = RequireHistory(dir, rev)
	if err == nil || !strings.Contains(err.Error(), "git fetch --unshallow") {
		t.Fatalf("RequireHistory in a shallow clone = %v, want the unshallow hint", err)
	}
}

func TestParseRelease(t *testing.T) {
	if got, err := parseRelease("# c\n\n  abcdef1234567  \nffff\n"); err != nil || got != "abcdef1234567" {
		t.Errorf("parseRelease = %q, %v", got, err)
	}
	for _, bad := range []string{"# only comments\n", "main\n", "v1.2.3\n"} {
		if _, err := parseRelease(bad); err == nil {
			t.Errorf("parseRelease(%q) accepted", bad)
		}
	}
}

func TestStatements(t *testing.T) {
	got := Statements(`
-- a comment; with a semicolon
CREATE TABLE t (a text DEFAULT 'x;y'); /* block; comment */
-- +goose StatementBegin
CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN NEW.a := 'b'; RETURN NEW; END $$ LANGUAGE plpgsql;
-- +goose StatementEnd
ALTER TABLE "odd;name"
   ADD COLUMN b int;`)
	want := []string{
		"CREATE TABLE t (a text DEFAULT 'x;y')",
		"CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN NEW.a := 'b'; RETURN NEW; END $$ LANGUAGE plpgsql",
		`ALTER TABLE "odd;name" ADD COLUMN b int`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Statements =\n%q\nwant\n%q", got, want)
	}
}

func TestCheckUpFlagsContractBreakingSteps(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want []string
	}{
		// Expand-only steps pass.
		{"CREATE TABLE t (id bigint PRIMARY KEY, a text NOT NULL)", nil},
		{"ALTER TABLE t ADD COLUMN effect_at timestamptz", nil},
		{"ALTER TABLE t ADD COLUMN n int NOT NULL DEFAULT 0", nil},
		{"ALTER TABLE t ADD COLUMN id2 bigint GENERATED ALWAYS AS IDENTITY NOT NULL", nil},
		{"ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID", nil},
		{"ALTER TABLE t DROP CONSTRAINT c", nil},
		{"ALTER TABLE t ALTER COLUMN a DROP NOT NULL", nil},
		{"ALTER TABLE t ALTER COLUMN a SET DEFAULT 'x', ALTER COLUMN a SET NOT NULL", nil},
		{"CREATE INDEX i ON t (a); DROP INDEX j", nil},
		{"UPDATE t SET note = 'drop table x'", nil},
		// Contract-breaking steps are flagged.
		{"DROP TABLE t", []string{"drop-table"}},
		{"drop table if exists t", []string{"drop-table"}},
		{"ALTER TABLE t DROP COLUMN a", []string{"drop-column"}},
		{"ALTER TABLE ONLY t DROP a", []string{"drop-column"}},
		{"ALTER TABLE t DROP COLUMN IF EXISTS a, DROP COLUMN b", []string{"drop-column", "drop-column"}},
		{"ALTER TABLE t RENAME COLUMN a TO b", []string{"rename"}},
		{"ALTER TABLE t RENAME TO u", []string{"rename"}},
		{"ALTER TABLE t RENAME CONSTRAINT c TO d", []string{"rename"}},
		{"ALTER INDEX i RENAME TO j", []string{"rename"}},
		{"ALTER TABLE t ALTER COLUMN a TYPE bigint", []string{"alter-type"}},
		{"ALTER TABLE t ALTER a SET DATA TYPE numeric(30,8)", []string{"alter-type"}},
		{"ALTER TABLE t ALTER COLUMN a SET NOT NULL", []string{"set-not-null"}},
		{"ALTER TABLE t ADD COLUMN b text NOT NULL", []string{"add-not-null-column"}},
		{"ALTER TABLE t ADD b text NOT NULL, ADD COLUMN c int", []string{"add-not-null-column"}},
		{"TRUNCATE t", []string{"truncate"}},
		{"DROP VIEW v", []string{"drop-object"}},
	} {
		var got []string
		for _, f := range CheckUp("m.sql", c.sql) {
			got = append(got, f.Rule)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("CheckUp(%q) = %v, want %v", c.sql, got, c.want)
		}
	}
}

func TestLint(t *testing.T) {
	const released = "-- +goose Up\nCREATE TABLE t (a text);\n-- +goose Down\nDROP TABLE t;\n"
	old := Released{"services/x/internal/store/migrations/00001_init.sql": released}
	mig := func(path, content string) Migration { return Migration{Path: path, Content: content} }
	first := mig("services/x/internal/store/migrations/00001_init.sql", released)
	drop := mig("services/x/internal/store/migrations/00002_drop.sql", "-- +goose Up\nALTER TABLE t DROP COLUMN a;\n-- +goose Down\nALTER TABLE t ADD COLUMN a text;\n")

	// A released migration is not checked for its steps (its DROP TABLE is
	// in Down anyway), a new one is.
	r := Lint([]Migration{first, drop}, old, nil)
	if !slices.Equal(r.New, []string{drop.Path}) || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "drop-column") {
		t.Errorf("unlisted drop: %+v", r)
	}
	// Listed with its reason, it passes and is reported.
	listed := []Allowed{{Path: drop.Path, Rule: "drop-column", Reason: "release N stopped using a", Line: 1}}
	if r := Lint([]Migration{first, drop}, old, listed); len(r.Problems) != 0 || len(r.Listed) != 1 {
		t.Errorf("listed drop: %+v", r)
	}
	// A listing whose step is gone is stale.
	if r := Lint([]Migration{first}, old, listed); len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "matches no step") {
		t.Errorf("stale listing: %+v", r)
	}
	// A released migration edited since.
	edited := mig(first.Path, "-- +goose Up\nCREATE TABLE t (a text, b text);\n-- +goose Down\nDROP TABLE t;\n")
	if r := Lint([]Migration{edited}, old, nil); len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "changed") {
		t.Errorf("edited released migration: %+v", r)
	}
	// Comments and layout may change.
	reflowed := mig(first.Path, "-- note\n-- +goose Up\nCREATE TABLE t (a   text); -- why\n\n-- +goose Down\nDROP TABLE t;\n")
	if r := Lint([]Migration{reflowed}, old, nil); len(r.Problems) != 0 {
		t.Errorf("reflowed released migration: %+v", r)
	}
	// No Down section, or an empty one.
	for _, content := range []string{"-- +goose Up\nCREATE TABLE u (a text);\n", "-- +goose Up\nCREATE TABLE u (a text);\n-- +goose Down\n-- nothing\n"} {
		noDown := mig("libs/y/y.sql", content)
		if r := Lint([]Migration{noDown}, old, nil); len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "Down") {
			t.Errorf("no Down: %+v", r)
		}
	}
}

func TestParseAllowed(t *testing.T) {
	got, err := ParseAllowed("# comment\n\na.sql | drop-column | release 41 stopped reading it\n")
	if err != nil || len(got) != 1 || got[0].Rule != "drop-column" || got[0].Line != 3 {
		t.Errorf("ParseAllowed = %+v, %v", got, err)
	}
	for _, bad := range []string{"a.sql | drop-column\n", "a.sql | drop-column | why\n", " | drop-column | a long enough reason\n"} {
		if _, err := ParseAllowed(bad); err == nil {
			t.Errorf("ParseAllowed(%q) accepted", bad)
		}
	}
	if _, err := ParseAllowed(twoStepRollouts); err != nil {
		t.Errorf("two-step-rollouts.txt: %v", err)
	}
}
