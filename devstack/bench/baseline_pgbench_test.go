package main

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/pg/pgtest"
)

// TestBaselineDatabaseHasTheWithdrawalSchema: the pgbench baseline's
// scratch database gets the withdrawal service's whole history — its own
// migrations and the libraries' it lists (outbox, inbox, Idempotency-Key
// store) — so every table the script writes exists, and its accounts are
// funded.
func TestBaselineDatabaseHasTheWithdrawalSchema(t *testing.T) {
	ctx := context.Background()
	_, adminURL := pgtest.NewWithURL(t, fstest.MapFS{"00001_none.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}})
	dbURL, err := prepareBaseline(ctx, "../..", adminURL, 3)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, table := range []string{"accounts", "entries", "transfers", "outbox", "processed_events", "idempotency_keys"} {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing: %v", table, err)
		}
	}
	var funded int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE available = 1000000`).Scan(&funded); err != nil || funded != 3 {
		t.Errorf("%d funded accounts, %v; want 3", funded, err)
	}
}
