package pg_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var migrations = fstest.MapFS{
	"00001_counter.sql": {Data: []byte(`-- +goose Up
CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO counter VALUES (1, 0);
-- +goose Down
DROP TABLE counter;
`)},
	"00002_unique.sql": {Data: []byte(`-- +goose Up
CREATE TABLE names (name text CONSTRAINT names_name_key UNIQUE);
-- +goose Down
DROP TABLE names;
`)},
}

func TestMigrateIsIdempotent(t *testing.T) {
	pool := pgtest.New(t, migrations)
	ctx := context.Background()
	if err := pg.Migrate(ctx, pool, migrations); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var v int64
	if err := pool.QueryRow(ctx, `SELECT max(version_id) FROM goose_db_version`).Scan(&v); err != nil || v != 2 {
		t.Fatalf("version = %d, %v", v, err)
	}
}

func TestInTxRetriesSerializationFailures(t *testing.T) {
	pool := pgtest.New(t, migrations)
	ctx := context.Background()
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pg.InTx(ctx, pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
				var n int
				if err := tx.QueryRow(ctx, `SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `UPDATE counter SET n = $1 WHERE id = 1`, n+1)
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if !pg.Retryable(err) {
				t.Fatalf("unexpected error: %v", err)
			}
			failed++
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	// Every transaction that reported success is counted exactly once.
	if n != workers-failed {
		t.Fatalf("counter = %d, want %d (lost or doubled updates)", n, workers-failed)
	}
}

func TestIsUniqueViolation(t *testing.T) {
	pool := pgtest.New(t, migrations)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO names VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	_, err := pool.Exec(ctx, `INSERT INTO names VALUES ('a')`)
	if !pg.IsUniqueViolation(err, "names_name_key") || pg.IsUniqueViolation(err, "other") {
		t.Fatalf("err = %v", err)
	}
	if pg.IsUniqueViolation(errors.New("x"), "") {
		t.Fatal("plain error is not a unique violation")
	}
}
