// Package pg connects to PostgreSQL with pgx, applies a service's embedded
// migrations with goose (with the libraries' migrations added under the
// service's names: migrations.go), and runs transactions with retries on
// serialization failures and deadlocks. store.go is what every service's
// store is built on: the pool and its transactions, list queries and the
// errors of one-row reads.
package pg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// DefaultMaxConns is the pool size when the URL sets no pool_max_conns.
// pgx's own default (the CPU count, at least 4) is too small for a service
// whose consumer partitions, outbox relay and HTTP requests each hold a
// connection at once: with 4, requests would wait for a connection held by
// transactions that wait for a row lock held by a transaction that waits for
// a connection.
const DefaultMaxConns = 16

// DefaultStatementTimeout bounds every statement on a pool from Connect
// unless the URL sets statement_timeout itself (a DSN parameter, e.g.
// "?statement_timeout=5s"): a statement stuck behind a lock or running away
// fails with SQLSTATE 57014 — which consumers retry as a fault of the
// database (Transient) — instead of holding its connection, and the request
// or event behind it, forever. Migrations run without it (Migrate).
const DefaultStatementTimeout = "30s"

// Connect opens a pool to url (a postgres:// URL or key=value DSN; pool
// settings such as pool_max_conns may be given in it) and checks it answers.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pg: parse DATABASE_URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	if _, set := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !set {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = DefaultStatementTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pg: connect: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		err = pool.Ping(pingCtx)
		if err == nil {
			return pool, nil
		}
		select {
		case <-pingCtx.Done():
			pool.Close()
			return nil, fmt.Errorf("pg: database did not answer: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Migrate applies every pending migration in migrations (goose SQL files at
// its root), under a session advisory lock so that concurrent starts migrate
// one at a time, and logs what it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool, migrations fs.FS) error {
	// Connections of their own, without the pool's statement timeout: a
	// migration may rightly take longer (an index on a large table).
	conn := pool.Config().ConnConfig.Copy()
	conn.RuntimeParams["statement_timeout"] = "0"
	db := stdlib.OpenDB(*conn)
	defer db.Close()
	// A session advisory lock: replicas starting at once migrate one after
	// the other.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("pg: migrations lock: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("pg: migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("pg: migrate: %w", err)
	}
	for _, r := range results {
		slog.InfoContext(ctx, "migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration.String())
	}
	return nil
}

// Retryable reports whether err is a serialization failure or deadlock, after
// which the whole transaction may be run again.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// IsUniqueViolation reports whether err is a unique violation, optionally of
// the named constraint.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}

type beforeCommitKey struct{}

// WithBeforeCommit returns a context under which every read-write InTx runs
// hook in its transaction once fn has succeeded, right before the commit; an
// error from hook rolls the transaction back. Request middleware uses it to
// record, atomically with the request's effect, that the effect happened
// (see package idempotency).
func WithBeforeCommit(ctx context.Context, hook func(context.Context, pgx.Tx) error) context.Context {
	return context.WithValue(ctx, beforeCommitKey{}, hook)
}

type deferKey struct{}

// Deferred holds the transaction of a read-write InTx run under
// WithDeferredCommit: fn has succeeded, and the transaction stays open for
// its owner to add to and then Commit (or Rollback).
type Deferred struct {
	mu sync.Mutex
	tx pgx.Tx
}

// WithDeferredCommit returns a context under which the first read-write
// InTx does not commit: once fn (and any WithBeforeCommit hook) succeeds,
// its transaction is parked in the returned Deferred, and InTx returns nil.
// A further read-write InTx under the same context runs fn inside the parked
// transaction (in a savepoint). Request middleware uses it to commit the
// request's effect together with its stored answer (package idempotency).
func WithDeferredCommit(ctx context.Context) (context.Context, *Deferred) {
	d := &Deferred{}
	return context.WithValue(ctx, deferKey{}, d), d
}

// Tx is the parked transaction, nil when no InTx parked one.
func (d *Deferred) Tx() pgx.Tx {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tx
}

// Commit commits the parked transaction, if any.
func (d *Deferred) Commit(ctx context.Context) error {
	d.mu.Lock()
	tx := d.tx
	d.tx = nil
	d.mu.Unlock()
	if tx == nil {
		return nil
	}
	return tx.Commit(ctx)
}

// Rollback rolls the parked transaction back, if any.
func (d *Deferred) Rollback(ctx context.Context) {
	d.mu.Lock()
	tx := d.tx
	d.tx = nil
	d.mu.Unlock()
	if tx != nil {
		_ = tx.Rollback(ctx)
	}
}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise; on a serialization failure or deadlock the whole
// transaction is retried a few times with a short back-off. A hook set with
// WithBeforeCommit runs in every read-write attempt, after fn; under
// WithDeferredCommit a read-write transaction is parked instead of
// committed.
func InTx(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	if hook, ok := ctx.Value(beforeCommitKey{}).(func(context.Context, pgx.Tx) error); ok && opts.AccessMode != pgx.ReadOnly {
		inner := fn
		fn = func(tx pgx.Tx) error {
			if err := inner(tx); err != nil {
				return err
			}
			return hook(ctx, tx)
		}
	}
	if d, ok := ctx.Value(deferKey{}).(*Deferred); ok && opts.AccessMode != pgx.ReadOnly {
		if parked := d.Tx(); parked != nil {
			return pgx.BeginFunc(ctx, parked, fn) // a savepoint of the parked transaction
		}
		return inParkedTx(ctx, pool, opts, fn, d)
	}
	return retry(ctx, func() error { return pgx.BeginTxFunc(ctx, pool, opts, fn) })
}

// retry runs attempt until it returns nil or an error that is not
// Retryable, at most five times, with a short back-off between attempts.
func retry(ctx context.Context, attempt func() error) error {
	const attempts = 5
	var err error
	for i := range attempts {
		if err = attempt(); !Retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(i+1) * 10 * time.Millisecond):
		}
	}
	return err
}

// inParkedTx is InTx under WithDeferredCommit: the same retries, but a
// successful transaction is parked in d rather than committed.
func inParkedTx(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(pgx.Tx) error, d *Deferred) error {
	return retry(ctx, func() error {
		tx, err := pool.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		if err = fn(tx); err == nil {
			d.mu.Lock()
			d.tx = tx
			d.mu.Unlock()
			return nil
		}
		_ = tx.Rollback(ctx)
		return err
	})
}
