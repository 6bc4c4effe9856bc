package pg

import (
	"context"

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

// Querier is what a pool and a transaction both answer, for the reads a
// store runs on either.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}
