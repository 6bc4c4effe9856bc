package pg

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is what every service's store (services/*/internal/store) is built
// on: it embeds Store for its pool and Tx.
type Store struct{ Pool *pgxpool.Pool }

// Tx runs fn in a read-write transaction with InTx: retried on a
// serialization failure or deadlock, and under the request's
// WithBeforeCommit or WithDeferredCommit (package idempotency).
func (s Store) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return InTx(ctx, s.Pool, pgx.TxOptions{}, fn)
}

// ReadErr is the error of a store's read of one row, err: notFound (the
// domain's sentinel) when there was no row, else err wrapped as "<what>:
// …" (err itself when what is empty), and nil for nil.
func ReadErr(err, notFound error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return notFound
	case what == "":
		return err
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// Querier is what a pool and a transaction both answer, for the reads a
// store runs on either.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Filter builds the WHERE clause of a store's list query: conditions joined
// with AND, their values as numbered arguments ($1, $2, … in the order Arg
// is called). The page's LIMIT and OFFSET (Page) come last, so the count
// query runs with Args before Page adds them.
type Filter struct {
	Args  []any
	conds []string
}

// Arg adds v as the next argument and returns its placeholder.
func (f *Filter) Arg(v any) string {
	f.Args = append(f.Args, v)
	return "$" + strconv.Itoa(len(f.Args))
}

// Where adds a condition.
func (f *Filter) Where(cond string) { f.conds = append(f.conds, cond) }

// Owned adds cond, a condition on who owns a row with two %s verbs: the
// placeholders of userID and of teams (an array; empty when nil). It is the
// narrowing of a user's list to what it owns (auth.Caller.ListScope).
func (f *Filter) Owned(cond string, userID int64, teams []int64) {
	if teams == nil {
		teams = []int64{}
	}
	f.Where(fmt.Sprintf(cond, f.Arg(userID), f.Arg(teams)))
}

// Clause is " WHERE " and the conditions, or "" when there are none.
func (f *Filter) Clause() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// Page adds limit and offset as arguments and returns " LIMIT $n OFFSET $m".
func (f *Filter) Page(limit, offset any) string {
	return " LIMIT " + f.Arg(limit) + " OFFSET " + f.Arg(offset)
}

// Listing is what a store's list query reads: Columns from From (a FROM
// clause, with its alias if any), in Order. Its errors say which query
// failed, "<Prefix>count <What>: …" or "<Prefix>list <What>: …", wrapping
// the database's error (Prefix is "store: " in the services whose store
// errors start so).
type Listing struct {
	Prefix, What         string
	Columns, From, Order string
}

// List runs l: how many rows f selects, and the page of them (limit,
// offset), each read by scan.
func List[T any](ctx context.Context, db Querier, l Listing, f *Filter, limit, offset int, scan func(pgx.Row) (T, error)) ([]T, int64, error) {
	cond := f.Clause()
	var total int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM `+l.From+cond, f.Args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("%scount %s: %w", l.Prefix, l.What, err)
	}
	// The page's placeholders first: Page appends to Args.
	q := `SELECT ` + l.Columns + ` FROM ` + l.From + cond + ` ORDER BY ` + l.Order + f.Page(limit, offset)
	rows, err := db.Query(ctx, q, f.Args...)
	if err != nil {
		return nil, 0, fmt.Errorf("%slist %s: %w", l.Prefix, l.What, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("%slist %s: %w", l.Prefix, l.What, err)
	}
	return out, total, nil
}
