// Package migrationlint checks the services' goose migrations for steps
// that would break the previous release while it still runs beside the new
// one during a rolling update (expand/contract), and names that release.
//
// The migrations checked are every service's
// services/<name>/internal/store/migrations/*.sql and the library
// migrations under libs/ (the outbox, inbox and Idempotency-Key store's SQL
// that services add to their own migrations), each also read under the
// service's name for it (library-migrations.txt). A migration is new when its
// file does not exist in the previous release (RELEASE_PREVIOUS); a
// released migration whose Up section changed is an error of its own, since
// goose never runs an applied version again. In new migrations every
// contract-breaking step (DROP TABLE, DROP COLUMN, RENAME, ALTER COLUMN …
// TYPE, SET NOT NULL, ADD COLUMN … NOT NULL without DEFAULT, TRUNCATE) must
// be listed in two-step-rollouts.txt with its reason. Every migration must
// have a Down section: production is forward-only, but development and
// tests step back with it.
package migrationlint

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

//go:embed RELEASE_PREVIOUS
var releasePrevious string

//go:embed two-step-rollouts.txt
var twoStepRollouts string

// PreviousRelease is the commit of the previous release, from
// RELEASE_PREVIOUS.
func PreviousRelease() (string, error) { return parseRelease(releasePrevious) }

func parseRelease(text string) (string, error) {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !regexp.MustCompile(`^[0-9a-f]{7,40}$`).MatchString(line) {
			return "", fmt.Errorf("RELEASE_PREVIOUS: %q is not a commit hash", line)
		}
		return line, nil
	}
	return "", errors.New("RELEASE_PREVIOUS names no commit")
}

// RequireHistory checks that the repository at repo holds rev, and says how
// to fetch the history when it does not (a shallow clone).
func RequireHistory(repo, rev string) error {
	out, err := git(repo, "rev-parse", "--is-shallow-repository")
	if err != nil {
		return fmt.Errorf("%s is not a git checkout with history (%v): clone the repository fully (git clone <url>; CI clones main fully)", repo, err)
	}
	shallow := strings.TrimSpace(out) == "true"
	if _, err := git(repo, "cat-file", "-e", rev+"^{commit}"); err != nil {
		if shallow {
			return fmt.Errorf("the previous release %s is not in this shallow clone: fetch the history with `git fetch --unshallow origin` (CI clones main fully)", rev)
		}
		return fmt.Errorf("the previous release %s is not in this repository: fetch it with `git fetch origin` (or correct devstack/migrationlint/RELEASE_PREVIOUS)", rev)
	}
	return nil
}

func git(repo string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Migration is one goose SQL migration file.
type Migration struct {
	// Path is relative to the repository root, with slashes.
	Path    string
	Content string
}

// LibraryMigrationsFile lists, in a repository, the service migrations that
// are a library's SQL (see library-migrations.txt there).
const LibraryMigrationsFile = "devstack/migrationlint/library-migrations.txt"

// Discover reads every migration in the repository's working tree: the
// services' migration directories, the goose files under libs/, and the
// service migrations LibraryMigrationsFile says are a library's file (read
// under the service's path, with the library file's content).
func Discover(repo string) ([]Migration, error) {
	var paths []string
	svc, err := filepath.Glob(filepath.Join(repo, "services", "*", "internal", "store", "migrations", "*.sql"))
	if err != nil {
		return nil, err
	}
	paths = append(paths, svc...)
	err = filepath.WalkDir(filepath.Join(repo, "libs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".sql") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(repo, p)
		if err != nil {
			return nil, err
		}
		content := string(b)
		if !strings.HasPrefix(filepath.ToSlash(rel), "services/") && !gooseUp.MatchString(content) {
			continue // not a goose migration
		}
		out = append(out, Migration{Path: filepath.ToSlash(rel), Content: content})
	}
	lib, err := libraryMigrations(repo, out)
	if err != nil {
		return nil, err
	}
	out = append(out, lib...)
	slices.SortFunc(out, func(a, b Migration) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// libraryMigrations reads LibraryMigrationsFile (none when the repository
// has no such file): each service path with its library file's content.
// files are the migration files found, which a listed path must not be.
func libraryMigrations(repo string, files []Migration) ([]Migration, error) {
	text, err := os.ReadFile(filepath.Join(repo, LibraryMigrationsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range listEntries(string(text), 2) {
		if len(e.parts) != 2 || !strings.HasPrefix(e.parts[0], "services/") || e.parts[1] == "" {
			return nil, fmt.Errorf("%s:%d: want <service migration path> | <library SQL file>", LibraryMigrationsFile, e.line)
		}
		if slices.ContainsFunc(files, func(m Migration) bool { return m.Path == e.parts[0] }) {
			return nil, fmt.Errorf("%s:%d: %s is a file of the service too", LibraryMigrationsFile, e.line, e.parts[0])
		}
		b, err := os.ReadFile(filepath.Join(repo, filepath.FromSlash(e.parts[1])))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", LibraryMigrationsFile, e.line, err)
		}
		out = append(out, Migration{Path: e.parts[0], Content: string(b)})
	}
	return out, nil
}

// History is the whole migration history of service (its directory name
// under services/) in the repository's working tree, in goose order: its
// own files and the library ones it lists under its name.
func History(repo, service string) ([]Migration, error) {
	all, err := Discover(repo)
	if err != nil {
		return nil, err
	}
	prefix := "services/" + service + "/internal/store/migrations/"
	var out []Migration
	for _, m := range all {
		if strings.HasPrefix(m.Path, prefix) {
			out = append(out, m)
		}
	}
	return out, nil
}

// Removed returns a problem for each service migration of the previous
// release that migrations no longer hold: goose would not run it on a new
// database, whose schema would then lack what it created.
func Removed(migrations []Migration, released Released) []string {
	var out []string
	for p := range released {
		if strings.HasPrefix(p, "services/") && !slices.ContainsFunc(migrations, func(m Migration) bool { return m.Path == p }) {
			out = append(out, p+": released in the previous release and gone since: restore it, or list the library file it became in "+LibraryMigrationsFile)
		}
	}
	slices.Sort(out)
	return out
}

var (
	gooseUp   = regexp.MustCompile(`(?m)^\s*--\s*\+goose\s+Up\b`)
	gooseDown = regexp.MustCompile(`(?m)^\s*--\s*\+goose\s+Down\b`)
)

// Sections splits a goose file into its Up and Down SQL; ok is false when
// a section is missing.
func Sections(content string) (up, down string, hasUp, hasDown bool) {
	u := gooseUp.FindStringIndex(content)
	d := gooseDown.FindStringIndex(content)
	switch {
	case u == nil:
		return "", "", false, d != nil
	case d == nil:
		return content[u[1]:], "", true, false
	case d[0] < u[0]:
		return content[u[1]:], content[d[1]:u[0]], true, true
	default:
		return content[u[1]:d[0]], content[d[1]:], true, true
	}
}

// Statements splits SQL into its statements, without comments and with
// whitespace collapsed; semicolons inside quotes, dollar quotes and goose
// StatementBegin/End blocks do not split.
func Statements(sql string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if s := strings.Join(strings.Fields(cur.String()), " "); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	// Bytes, not runes: every delimiter is ASCII, which never occurs inside
	// a multi-byte UTF-8 sequence.
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				j = len(sql) - i
			}
			i += j
			cur.WriteByte(' ')
		case strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				i = len(sql)
			} else {
				i += 2 + j + 1
			}
			cur.WriteByte(' ')
		case c == '\'' || c == '"':
			j := strings.IndexByte(sql[i+1:], c)
			if j < 0 {
				j = len(sql) - i - 1
			}
			cur.WriteString(sql[i:min(i+1+j+1, len(sql))])
			i += 1 + j
		case c == '$':
			tag := dollarTag.FindString(sql[i:])
			if tag == "" {
				cur.WriteByte(c)
				continue
			}
			j := strings.Index(sql[i+len(tag):], tag)
			if j < 0 {
				cur.WriteString(sql[i:])
				i = len(sql)
				continue
			}
			n := len(tag) + j + len(tag)
			cur.WriteString(sql[i : i+n])
			i += n - 1
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

var dollarTag = regexp.MustCompile(`^\$[A-Za-z_0-9]*\$`)

// Finding is one contract-breaking step.
type Finding struct {
	Path      string
	Rule      string
	Statement string
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s: %s", f.Path, f.Rule, f.Statement) }

var (
	reDropTable  = regexp.MustCompile(`^DROP TABLE\b`)
	reDropObject = regexp.MustCompile(`^DROP (VIEW|MATERIALIZED VIEW|TYPE|FUNCTION|SEQUENCE|SCHEMA|TRIGGER)\b`)
	reTruncate   = regexp.MustCompile(`^TRUNCATE\b`)
	reRenameAny  = regexp.MustCompile(`^ALTER (TABLE|INDEX|SEQUENCE|VIEW|MATERIALIZED VIEW|TYPE|FUNCTION|SCHEMA)\b.*\bRENAME\b`)
	reAlterTable = regexp.MustCompile(`^ALTER TABLE (IF EXISTS )?(ONLY )?("[^"]+"|[A-Z_0-9.]+) (.*)$`)

	reActDropCol   = regexp.MustCompile(`^DROP (COLUMN )?(IF EXISTS )?("[^"]+"|[A-Z_0-9]+)`)
	reActAlterType = regexp.MustCompile(`^ALTER (COLUMN )?("[^"]+"|[A-Z_0-9]+) (SET DATA )?TYPE\b`)
	reActNotNull   = regexp.MustCompile(`^ALTER (COLUMN )?("[^"]+"|[A-Z_0-9]+) SET NOT NULL\b`)
	reActSetDef    = regexp.MustCompile(`^ALTER (COLUMN )?("[^"]+"|[A-Z_0-9]+) SET DEFAULT\b`)
	reActAddCol    = regexp.MustCompile(`^ADD (COLUMN )?(IF NOT EXISTS )?("[^"]+"|[A-Z_0-9]+) `)
)

// notColumns are the words after ALTER TABLE … DROP that do not drop a
// column.
var notColumns = map[string]bool{"CONSTRAINT": true}

// addConstraintWords start ADD actions that add no column.
var addConstraintWords = map[string]bool{"CONSTRAINT": true, "PRIMARY": true, "UNIQUE": true, "CHECK": true, "FOREIGN": true, "EXCLUDE": true}

// CheckUp returns the contract-breaking steps of one migration's Up SQL.
func CheckUp(path, up string) []Finding {
	var out []Finding
	stmts := Statements(up)
	defaults := map[string]bool{} // columns given a DEFAULT in this migration
	for _, s := range stmts {
		if m := reAlterTable.FindStringSubmatch(strings.ToUpper(s)); m != nil {
			for _, act := range splitTopLevel(m[4]) {
				if a := reActSetDef.FindStringSubmatch(act); a != nil {
					defaults[m[3]+"."+a[2]] = true
				}
			}
		}
	}
	for _, s := range stmts {
		u := strings.ToUpper(s)
		add := func(rule string) { out = append(out, Finding{Path: path, Rule: rule, Statement: s}) }
		switch {
		case reDropTable.MatchString(u):
			add("drop-table")
			continue
		case reDropObject.MatchString(u):
			add("drop-object")
			continue
		case reTruncate.MatchString(u):
			add("truncate")
			continue
		case reRenameAny.MatchString(u):
			add("rename")
			continue
		}
		m := reAlterTable.FindStringSubmatch(u)
		if m == nil {
			continue
		}
		for _, act := range splitTopLevel(m[4]) {
			if a := reActDropCol.FindStringSubmatch(act); a != nil && !notColumns[a[3]] {
				add("drop-column")
			}
			if reActAlterType.MatchString(act) {
				add("alter-type")
			}
			if a := reActNotNull.FindStringSubmatch(act); a != nil && !defaults[m[3]+"."+a[2]] {
				add("set-not-null")
			}
			if a := reActAddCol.FindStringSubmatch(act); a != nil && !addConstraintWords[a[3]] {
				def := strings.TrimPrefix(act, a[0])
				if regexp.MustCompile(`\bNOT NULL\b`).MatchString(def) &&
					!regexp.MustCompile(`\b(DEFAULT|GENERATED)\b`).MatchString(def) {
					add("add-not-null-column")
				}
			}
		}
	}
	return out
}

// splitTopLevel splits the actions of an ALTER TABLE at commas outside
// parentheses and quotes.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote rune
	for i, c := range s {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// Allowed is one line of two-step-rollouts.txt.
type Allowed struct {
	Path, Rule, Reason string
	Line               int
}

// listEntry is a line of a list file (two-step-rollouts.txt,
// library-migrations.txt): its number, and its fields between "|".
type listEntry struct {
	line  int
	parts []string
}

// listEntries are the lines of text that are neither blank nor comments,
// split at "|" into at most n trimmed fields.
func listEntries(text string, n int) []listEntry {
	var out []listEntry
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "|", n)
		for j := range parts {
			parts[j] = strings.TrimSpace(parts[j])
		}
		out = append(out, listEntry{line: i + 1, parts: parts})
	}
	return out
}

// ParseAllowed reads the two-step rollout list.
func ParseAllowed(text string) ([]Allowed, error) {
	var out []Allowed
	for _, e := range listEntries(text, 3) {
		if len(e.parts) != 3 {
			return nil, fmt.Errorf("two-step-rollouts.txt:%d: want <migration file> | <rule> | <reason>", e.line)
		}
		a := Allowed{Path: e.parts[0], Rule: e.parts[1], Reason: e.parts[2], Line: e.line}
		if a.Path == "" || a.Rule == "" || len(a.Reason) < 10 {
			return nil, fmt.Errorf("two-step-rollouts.txt:%d: a file, a rule and a reason (a sentence) are required", e.line)
		}
		out = append(out, a)
	}
	return out, nil
}

// Report is the outcome of Lint.
type Report struct {
	// New are the migrations newer than the previous release.
	New []string
	// Problems are every error, one line each; none means the check passes.
	Problems []string
	// Listed are the findings covered by two-step-rollouts.txt.
	Listed []Finding
}

// Released is what the previous release holds: path → content of each
// migration file.
type Released map[string]string

// ReleasedMigrations reads, from git, the migration files of rev.
func ReleasedMigrations(repo, rev string) (Released, error) {
	out, err := git(repo, "ls-tree", "-r", "--name-only", rev, "--", "services", "libs")
	if err != nil {
		return nil, err
	}
	r := Released{}
	for _, p := range strings.Fields(out) {
		if !strings.HasSuffix(p, ".sql") {
			continue
		}
		content, err := git(repo, "show", rev+":"+p)
		if err != nil {
			return nil, err
		}
		r[p] = content
	}
	return r, nil
}

// Lint checks migrations against the previous release's and the two-step
// rollout list.
func Lint(migrations []Migration, released Released, allowed []Allowed) Report {
	var r Report
	used := make([]bool, len(allowed))
	for _, m := range migrations {
		up, down, hasUp, hasDown := Sections(m.Content)
		if !hasUp {
			r.Problems = append(r.Problems, m.Path+": no -- +goose Up section")
			continue
		}
		if !hasDown || len(Statements(down)) == 0 {
			r.Problems = append(r.Problems, m.Path+": no -- +goose Down section with a statement (production never runs it, development does)")
		}
		if old, ok := released[m.Path]; ok {
			oldUp, _, _, _ := Sections(old)
			if !slices.Equal(Statements(oldUp), Statements(up)) {
				r.Problems = append(r.Problems, m.Path+": released in the previous release and its Up section changed since: goose never runs an applied version again; restore it and add a new migration")
			}
			continue
		}
		r.New = append(r.New, m.Path)
		for _, f := range CheckUp(m.Path, up) {
			i := slices.IndexFunc(allowed, func(a Allowed) bool { return a.Path == f.Path && a.Rule == f.Rule })
			if i < 0 {
				r.Problems = append(r.Problems, f.String()+" — breaks the previous release while it runs beside this one; make it expand-only, or list it in devstack/migrationlint/two-step-rollouts.txt with the reason and its two steps")
				continue
			}
			used[i] = true
			r.Listed = append(r.Listed, f)
		}
	}
	for i, a := range allowed {
		if !used[i] {
			r.Problems = append(r.Problems, fmt.Sprintf("two-step-rollouts.txt:%d: %s | %s matches no step of a migration newer than the previous release: remove the line", a.Line, a.Path, a.Rule))
		}
	}
	return r
}

// LintRepo runs Lint over the repository's working tree against the
// previous release and the two-step rollout list.
func LintRepo(repo string) (Report, error) {
	rev, err := PreviousRelease()
	if err != nil {
		return Report{}, err
	}
	if err := RequireHistory(repo, rev); err != nil {
		return Report{}, err
	}
	released, err := ReleasedMigrations(repo, rev)
	if err != nil {
		return Report{}, err
	}
	migrations, err := Discover(repo)
	if err != nil {
		return Report{}, err
	}
	allowed, err := ParseAllowed(twoStepRollouts)
	if err != nil {
		return Report{}, err
	}
	r := Lint(migrations, released, allowed)
	r.Problems = append(r.Problems, Removed(migrations, released)...)
	return r, nil
}
