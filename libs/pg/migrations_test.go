package pg_test

import (
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/fundplatform/platform/libs/pg"
)

// The added files sit beside the embedded ones, under the names given, and
// the result is a well-behaved file system (goose lists and reads it).
func TestEmbeddedMigrationsAddFiles(t *testing.T) {
	embedded := fstest.MapFS{"migrations/00001_a.sql": {Data: []byte("-- +goose Up\n")}}
	lib := pg.File{Name: "00002_lib.sql", SQL: "-- +goose Up\nSELECT 1;\n"}
	other := pg.File{Name: "00003_other.sql", SQL: "-- +goose Up\nSELECT 2;\n"}
	got := pg.WithMigrations(pg.EmbeddedMigrations(embedded, "migrations", lib), other)
	if err := fstest.TestFS(got, "00001_a.sql", "00002_lib.sql", "00003_other.sql"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []pg.File{lib, other} {
		if b, err := fs.ReadFile(got, f.Name); err != nil || string(b) != f.SQL {
			t.Errorf("%s: %q, %v", f.Name, b, err)
		}
	}
	if err := fstest.TestFS(pg.EmbeddedMigrations(embedded, "migrations"), "00001_a.sql"); err != nil {
		t.Fatal(err)
	}
}

func TestWithMigrationsRefusesBadNames(t *testing.T) {
	base := fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose Up\n")}}
	for _, names := range [][]string{{"00001_a.sql"}, {"x/00002_b.sql"}, {"00002_b.txt"}, {""}, {"."}, {"00002_b.sql", "00002_b.sql"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithMigrations(%q) did not panic", names)
				}
			}()
			files := make([]pg.File, len(names))
			for i, n := range names {
				files[i] = pg.File{Name: n, SQL: "-- +goose Up\n"}
			}
			pg.WithMigrations(base, files...)
		}()
	}
}
