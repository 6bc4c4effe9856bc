package pgtest

import (
	"context"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// UpDownUp applies migrations to a fresh database, rolls every step back
// (development and tests step back with the Down sections), and applies
// them again; it returns the pool and how many steps the first Up applied.
func UpDownUp(t testing.TB, migrations fs.FS) (*pgxpool.Pool, int) {
	t.Helper()
	ctx := context.Background()
	pool := New(t, nil)
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations)
	if err != nil {
		t.Fatal(err)
	}
	up, err := p.Up(ctx)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	return pool, len(up)
}

// RequireTables fails t unless every table exists in pool's database.
func RequireTables(t testing.TB, pool *pgxpool.Pool, tables ...string) {
	t.Helper()
	for _, table := range tables {
		var ok bool
		if err := pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing after migrations: %v", table, err)
		}
	}
}

// RequireFiles fails t unless migrations holds every file of want (name →
// content) with exactly that content: a library's migration joins a
// service's history under the name the service chose (pg.WithMigrations).
func RequireFiles(t testing.TB, migrations fs.FS, want map[string]string) {
	t.Helper()
	for name, content := range want {
		got, err := fs.ReadFile(migrations, name)
		if err != nil || string(got) != content {
			t.Errorf("migration %s: read %d bytes, not its library's SQL (%d bytes): %v", name, len(got), len(content), err)
		}
	}
}
