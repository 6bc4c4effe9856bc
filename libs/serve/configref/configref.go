// Package configref checks the configuration reference of
// docs/operations.md against the code: each service's test hands it the
// service's own config loader, and Check compares one table of the guide
// with what that loader reads from the environment.
//
// A table is the Markdown table right after a line `<!-- config: NAME -->`,
// with the columns variable | default | production | meaning. Check asserts
// that
//
//   - the table lists exactly the variables of the config struct's `env`
//     tags (embedded structs included);
//   - each default is what the loader yields with none of them set
//     (`—` for an empty value), so defaults set in code count too;
//   - the variables whose production cell starts with "required" are
//     exactly those production needs: with APP_ENV=production and only
//     those set the configuration is accepted, and without any one of them
//     it is refused.
package configref

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DocPath is the guide, relative to the repository root (the directory
// holding go.work).
const DocPath = "docs/operations.md"

// Row is one line of a configuration table.
type Row struct {
	Name, Default, Production, Meaning string
}

// Required reports whether the row says production requires the variable.
func (r Row) Required() bool { return strings.HasPrefix(strings.ToLower(r.Production), "required") }

// Samples are values that pass validation, used for the variables a
// table marks as required in production. Callers add their own.
var Samples = map[string]string{
	"DATABASE_URL":  "postgres://fund@127.0.0.1:5432/fund?sslmode=disable",
	"KAFKA_BROKERS": "127.0.0.1:9092",
}

// Doc reads the guide from the repository root above the working directory.
func Doc(t testing.TB) []byte {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.work not found above the working directory")
		}
		dir = parent
	}
	b, err := os.ReadFile(filepath.Join(dir, DocPath))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Table returns the rows of the table named name in doc.
func Table(doc []byte, name string) ([]Row, error) {
	marker := []byte("<!-- config: " + name + " -->")
	i := bytes.Index(doc, marker)
	if i < 0 {
		return nil, fmt.Errorf("%s has no line %s", DocPath, marker)
	}
	var rows []Row
	lines := strings.Split(string(doc[i+len(marker):]), "\n")
	started := false
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if started || (line != "" && !strings.HasPrefix(line, "<!--")) {
				break
			}
			continue
		}
		started = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			return nil, fmt.Errorf("table %s: %q has %d cells, want 4 (variable | default | production | meaning)", name, line, len(cells))
		}
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if cells[0] == "variable" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows = append(rows, Row{Name: unquote(cells[0]), Default: unquote(cells[1]), Production: cells[2], Meaning: cells[3]})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("table %s has no rows", name)
	}
	return rows, nil
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return s[1 : len(s)-1]
	}
	return s
}

// field is one `env`-tagged field of a config struct.
type field struct {
	name  string
	index []int
}

// Fields lists the `env` tags of the struct cfg (or *cfg), embedded
// structs included, in declaration order.
func Fields(cfg any) []string {
	var names []string
	for _, f := range fields(reflect.TypeOf(cfg), nil) {
		names = append(names, f.name)
	}
	return names
}

func fields(t reflect.Type, prefix []int) []field {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		index := append(slices.Clone(prefix), i)
		if tag, ok := sf.Tag.Lookup("env"); ok {
			out = append(out, field{name: strings.Split(tag, ",")[0], index: index})
			continue
		}
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			out = append(out, fields(sf.Type, index)...)
		}
	}
	return out
}

// sameDefault reports whether the documented default doc equals v.
func sameDefault(doc string, v reflect.Value) (bool, string) {
	if doc == "—" || doc == "-" || doc == "" {
		return v.IsZero(), "empty"
	}
	switch x := v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(doc)
		return err == nil && d == x, x.String()
	case []string:
		return doc == strings.Join(x, ","), strings.Join(x, ",")
	case string:
		return doc == x, x
	case int:
		return doc == strconv.Itoa(x), strconv.Itoa(x)
	case bool:
		return doc == strconv.FormatBool(x), strconv.FormatBool(x)
	}
	return false, fmt.Sprint(v.Interface())
}

// Check compares the table named table of the guide with the
// configuration load reads from the process environment (load returns the
// config struct, by value, and its validation error). samples adds to
// Samples. Check changes the environment through t.Setenv, so the test
// must not be parallel.
func Check(t testing.TB, table string, load func() (any, error), samples map[string]string) {
	t.Helper()
	CheckDoc(t, Doc(t), table, load, samples)
}

// CheckDoc is Check against the guide's text doc.
func CheckDoc(t testing.TB, doc []byte, table string, load func() (any, error), samples map[string]string) {
	t.Helper()
	rows, err := Table(doc, table)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := load()
	fs := fields(reflect.TypeOf(cfg), nil)
	inCode := map[string]field{}
	for _, f := range fs {
		inCode[f.name] = f
	}
	inDoc := map[string]Row{}
	for _, r := range rows {
		if _, dup := inDoc[r.Name]; dup {
			t.Errorf("table %s lists %s twice", table, r.Name)
		}
		inDoc[r.Name] = r
		if _, ok := inCode[r.Name]; !ok {
			t.Errorf("table %s documents %s, which the configuration does not read", table, r.Name)
		}
	}
	for _, f := range fs {
		if _, ok := inDoc[f.name]; !ok {
			t.Errorf("table %s does not document %s", table, f.name)
		}
	}

	// Defaults: nothing set.
	clear := func() {
		for _, f := range fs {
			t.Setenv(f.name, "")
			_ = os.Unsetenv(f.name)
		}
	}
	clear()
	cfg, _ = load()
	v := reflect.ValueOf(cfg)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	for _, r := range rows {
		f, ok := inCode[r.Name]
		if !ok {
			continue
		}
		if same, got := sameDefault(r.Default, v.FieldByIndex(f.index)); !same {
			t.Errorf("table %s: %s default is documented as %q, the code's is %q", table, r.Name, r.Default, got)
		}
	}

	// Production: exactly the rows marked required are needed.
	value := func(name string) string {
		if s, ok := samples[name]; ok {
			return s
		}
		if s, ok := Samples[name]; ok {
			return s
		}
		t.Fatalf("table %s marks %s as required in production: configref needs a sample value for it", table, name)
		return ""
	}
	set := func(except string) {
		clear()
		t.Setenv("APP_ENV", "production")
		for _, r := range rows {
			if r.Required() && r.Name != except {
				t.Setenv(r.Name, value(r.Name))
			}
		}
	}
	set("")
	if _, err := load(); err != nil {
		t.Errorf("table %s: production with only the variables marked required set is refused: %v", table, err)
	}
	for _, r := range rows {
		if !r.Required() || r.Name == "APP_ENV" {
			continue
		}
		set(r.Name)
		if _, err := load(); err == nil {
			t.Errorf("table %s marks %s as required in production, but the configuration is accepted without it", table, r.Name)
		}
	}
}
