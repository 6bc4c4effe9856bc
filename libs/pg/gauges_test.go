package pg_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

// Gauges read the database at scrape, at most once per TTL, and leave out
// a gauge whose query fails.
func TestGaugesReadTheDatabase(t *testing.T) {
	pool := pgtest.New(t, migrations)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO names VALUES ('a'), ('b'), ('bb')`); err != nil {
		t.Fatal(err)
	}
	byLetter := pg.Gauge{Name: "test_names", Help: "Names by first letter.", Labels: []string{"letter"},
		SQL: `SELECT left(name, 1), count(*)::float8 FROM names GROUP BY 1`}
	broken := pg.Gauge{Name: "test_broken", Help: "A query that fails.", SQL: `SELECT count(*)::float8 FROM no_such_table`}
	want := func(a, b int) string {
		return "# HELP test_names Names by first letter.\n# TYPE test_names gauge\n" +
			"test_names{letter=\"a\"} " + string(rune('0'+a)) + "\ntest_names{letter=\"b\"} " + string(rune('0'+b)) + "\n"
	}

	fresh := pg.NewGauges(pool, slog.New(slog.DiscardHandler), 0, byLetter, broken)
	if err := testutil.CollectAndCompare(fresh, strings.NewReader(want(1, 2)), "test_names", "test_broken"); err != nil {
		t.Fatal(err)
	}
	cached := pg.NewGauges(pool, slog.New(slog.DiscardHandler), time.Hour, byLetter)
	if err := testutil.CollectAndCompare(cached, strings.NewReader(want(1, 2))); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO names VALUES ('b2')`); err != nil {
		t.Fatal(err)
	}
	// Within the TTL: the last reading; without one: the new rows.
	if err := testutil.CollectAndCompare(cached, strings.NewReader(want(1, 2))); err != nil {
		t.Fatalf("within the TTL: %v", err)
	}
	if err := testutil.CollectAndCompare(fresh, strings.NewReader(want(1, 3)), "test_names"); err != nil {
		t.Fatalf("TTL 0: %v", err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(fresh); err != nil {
		t.Fatalf("register: %v", err)
	}
}
