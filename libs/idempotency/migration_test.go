package idempotency_test

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

func TestWithMigrationIsAFileSystem(t *testing.T) {
	if err := fstest.TestFS(migrations, "00001_things.sql", "00002_idempotency_keys.sql", "00003_idempotency_effect.sql"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"00002_idempotency_keys.sql": idempotency.MigrationSQL, "00003_idempotency_effect.sql": idempotency.MigrationEffectSQL} {
		b, err := fs.ReadFile(migrations, name)
		if err != nil || string(b) != want {
			t.Fatalf("%s: read %d bytes, %v", name, len(b), err)
		}
	}
}

func TestWithMigrationRefusesBadNames(t *testing.T) {
	base := fstest.MapFS{"00001_a.sql": {Data: []byte("-- +goose Up\n")}}
	for _, names := range [][]string{{"00001_a.sql", "00003_c.sql"}, {"x/00002_b.sql", "00003_c.sql"}, {"00002_b.txt", "00003_c.sql"},
		{"", "00003_c.sql"}, {".", "00003_c.sql"}, {"00002_b.sql"}, {"00002_b.sql", "00002_b.sql"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithMigration(%q) did not panic", names)
				}
			}()
			idempotency.WithMigration(base, names...)
		}()
	}
}

func TestMigrationGoesDownAndUp(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t, migrations)
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys`).Scan(&n); err != nil {
		t.Fatal(err)
	}
}
