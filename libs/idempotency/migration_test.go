package idempotency_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

func TestWithMigrationIsAFileSystem(t *testing.T) {
	if err := fstest.TestFS(migrations, "00001_things.sql", "00002_idempotency_keys.sql", "00003_idempotency_effect.sql"); err != nil {
		t.Fatal(err)
	}
	pgtest.RequireFiles(t, migrations, map[string]string{"00002_idempotency_keys.sql": idempotency.MigrationSQL, "00003_idempotency_effect.sql": idempotency.MigrationEffectSQL})
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
	pool, _ := pgtest.UpDownUp(t, migrations)
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys`).Scan(&n); err != nil {
		t.Fatal(err)
	}
}
