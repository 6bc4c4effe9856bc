package pgcluster

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A restarted cluster keeps its data and its settings, cuts the
// connections it had, and accepts new ones as a new server process.
func TestRestartKeepsData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	before := c.PID()
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if c.PID() == before || c.PID() == 0 {
		t.Errorf("pid %d after restart, was %d", c.PID(), before)
	}
	if _, err := conn.Exec(ctx, `SELECT 1`); err == nil {
		t.Error("a connection to the old server still works after the restart")
	}
	conn2, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	var v int
	if err := conn2.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart: %d, %v", v, err)
	}
	var setting string
	if err := conn2.QueryRow(ctx, `SHOW track_commit_timestamp`).Scan(&setting); err != nil || setting != "on" {
		t.Fatalf("track_commit_timestamp after restart: %q, %v", setting, err)
	}
}
