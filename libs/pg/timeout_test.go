package pg_test

import (
	"context"
	"net/url"
	"testing"
	"testing/fstest"

	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

// TestPoolsHaveAStatementTimeoutMigrationsDoNot: a pool from Connect bounds
// every statement (DefaultStatementTimeout) unless its URL says otherwise,
// and migrations run without the bound.
func TestPoolsHaveAStatementTimeoutMigrationsDoNot(t *testing.T) {
	ctx := context.Background()
	unbounded := fstest.MapFS{"00001_unbounded.sql": {Data: []byte(`-- +goose Up
-- +goose StatementBegin
DO $$ BEGIN
    IF current_setting('statement_timeout') <> '0' THEN
        RAISE EXCEPTION 'a migration runs under statement_timeout %', current_setting('statement_timeout');
    END IF;
END $$;
-- +goose StatementEnd
-- +goose Down
SELECT 1;
`)}}
	pool, dbURL := pgtest.NewWithURL(t, unbounded) // fails if the migration runs bounded
	var got string
	if err := pool.QueryRow(ctx, `SHOW statement_timeout`).Scan(&got); err != nil || got != pg.DefaultStatementTimeout {
		t.Fatalf("statement_timeout = %q, %v; want %s", got, err, pg.DefaultStatementTimeout)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("statement_timeout", "5s")
	u.RawQuery = q.Encode()
	own, err := pg.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if err := own.QueryRow(ctx, `SHOW statement_timeout`).Scan(&got); err != nil || got != "5s" {
		t.Fatalf("with the URL's own setting: statement_timeout = %q, %v; want 5s", got, err)
	}
}
