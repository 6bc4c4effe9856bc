package pg_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

func TestFilterNumbersItsArguments(t *testing.T) {
	var q pg.Filter
	if q.Clause() != "" {
		t.Fatalf("no condition: %q", q.Clause())
	}
	q.Where("a = " + q.Arg(1))
	q.Where("b = ANY(" + q.Arg([]int{2}) + ")")
	if got := q.Clause() + q.Page(10, 20); got != " WHERE a = $1 AND b = ANY($2) LIMIT $3 OFFSET $4" || len(q.Args) != 4 {
		t.Fatalf("%q with %v", got, q.Args)
	}
}

// List counts what the filter selects and reads one page of it; its
// errors say which query failed and keep the database's error.
func TestList(t *testing.T) {
	pool := pgtest.New(t, migrations)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO names SELECT 'n' || g FROM generate_series(1, 9) g`); err != nil {
		t.Fatal(err)
	}
	scan := func(r pgx.Row) (string, error) {
		var s string
		return s, r.Scan(&s)
	}
	var q pg.Filter
	q.Where("name <> " + q.Arg("n5"))
	got, total, err := pg.List(ctx, pool, pg.Listing{What: "names", Columns: "name", From: "names", Order: "name DESC"}, &q, 3, 1, scan)
	if err != nil || total != 8 || !slices.Equal(got, []string{"n8", "n7", "n6"}) {
		t.Fatalf("List = %q, %d, %v", got, total, err)
	}
	_, _, err = pg.List(ctx, pool, pg.Listing{Prefix: "store: ", What: "things", Columns: "name", From: "no_such_table", Order: "name"}, &pg.Filter{}, 3, 0, scan)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" || !strings.HasPrefix(err.Error(), "store: count things: ") {
		t.Fatalf("List of a missing table: %v", err)
	}
}

func TestReadErr(t *testing.T) {
	notFound := errors.New("not found")
	failed := errors.New("connection reset")
	if err := pg.ReadErr(nil, notFound, "read x"); err != nil {
		t.Errorf("nil: %v", err)
	}
	if err := pg.ReadErr(pgx.ErrNoRows, notFound, "read x"); err != notFound {
		t.Errorf("no row: %v", err)
	}
	if err := pg.ReadErr(failed, notFound, "read x"); !errors.Is(err, failed) || err.Error() != "read x: connection reset" {
		t.Errorf("failure: %v", err)
	}
	if err := pg.ReadErr(failed, notFound, ""); err != failed {
		t.Errorf("failure, unwrapped: %v", err)
	}
}
