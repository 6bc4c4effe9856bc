package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg"
)

// store reads and writes idempotency_keys.
type store struct {
	pool  *pgxpool.Pool
	ttl   time.Duration
	lease time.Duration
	now   func() time.Time
}

// request is one keyed request. createdAt, set when its row is claimed,
// tells the row apart from a later one under the same key.
type request struct {
	caller, key  string
	hash         []byte
	method, path string
	createdAt    time.Time
}

// prior is the row found under a key someone else holds.
type prior struct {
	hash     []byte
	response *response // nil while in flight
}

// claimAttempts bounds the retries when the row found under a key vanishes
// (released or purged) before it can be read.
const claimAttempts = 5

// claim inserts req's in-flight row, or takes over the row under the same
// key when it has expired, or when it is abandoned: still in flight after
// the lease with no effect committed (its process died, or lost its
// database, before the operation's transaction committed). It reports
// claimed when the row is now req's; otherwise prior describes the live row
// that holds the key.
func (s *store) claim(ctx context.Context, req *request) (claimed bool, p prior, err error) {
	for range claimAttempts {
		// Microseconds: what timestamptz keeps, so the value reads back equal.
		now := s.now().UTC().Truncate(time.Microsecond)
		tag, err := s.pool.Exec(ctx, `
INSERT INTO idempotency_keys (caller, key, request_hash, method, path, created_at, lease_until)
VALUES ($1, $2, $3, $4, $5, $6, $8)
ON CONFLICT (caller, key) DO UPDATE
   SET request_hash = EXCLUDED.request_hash, method = EXCLUDED.method, path = EXCLUDED.path,
       status = NULL, response_body = NULL, response_headers = NULL,
       created_at = EXCLUDED.created_at, completed_at = NULL, effect_at = NULL, lease_until = EXCLUDED.lease_until
 WHERE idempotency_keys.created_at <= $7
    OR (idempotency_keys.status IS NULL AND idempotency_keys.effect_at IS NULL AND idempotency_keys.lease_until <= $6)`,
			req.caller, req.key, req.hash, req.method, req.path, now, now.Add(-s.ttl), now.Add(s.lease))
		if err != nil {
			return false, p, err
		}
		if tag.RowsAffected() == 1 {
			req.createdAt = now
			return true, p, nil
		}
		var (
			status     *int
			body       []byte
			headers    map[string][]string
			createdAt  time.Time
			effectAt   *time.Time
			leaseUntil *time.Time
		)
		err = s.pool.QueryRow(ctx, `
SELECT request_hash, status, response_body, response_headers, created_at, effect_at, lease_until
  FROM idempotency_keys WHERE caller = $1 AND key = $2`, req.caller, req.key).
			Scan(&p.hash, &status, &body, &headers, &createdAt, &effectAt, &leaseUntil)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // released in between: try to claim it again
		}
		if err != nil {
			return false, p, err
		}
		if !createdAt.After(now.Add(-s.ttl)) || (status == nil && effectAt == nil && leaseUntil != nil && !leaseUntil.After(now)) {
			continue // expired or abandoned in between: try to take it over
		}
		if status != nil {
			p.response = &response{Status: *status, Header: headers, Body: body}
		}
		return false, p, nil
	}
	// The key keeps changing hands: it is busy, the client may retry.
	return false, prior{hash: req.hash}, nil
}

// markEffect runs in the transaction that carries the operation's effect,
// right before it commits (pg.WithBeforeCommit): it records on req's row
// that the effect is committed, so the row is never taken over as
// abandoned. When the row is no longer req's (taken over after the lease),
// it fails and the effect rolls back: only one request under a key ever
// commits an effect.
func (s *store) markEffect(ctx context.Context, tx pgx.Tx, req *request) error {
	tag, err := tx.Exec(ctx, `
UPDATE idempotency_keys SET effect_at = $4
 WHERE caller = $1 AND key = $2 AND created_at = $3 AND status IS NULL`,
		req.caller, req.key, req.createdAt, s.now().UTC())
	if err == nil && tag.RowsAffected() == 0 {
		err = errTakenOver
	}
	return err
}

// commitWith stores resp as req's answer in the operation's parked
// transaction and commits the two together.
func (s *store) commitWith(ctx context.Context, parked *pg.Deferred, req *request, resp response) error {
	ctx, cancel := detached(ctx)
	defer cancel()
	headers, err := json.Marshal(resp.Header)
	if err != nil {
		return err
	}
	tag, err := parked.Tx().Exec(ctx, `
UPDATE idempotency_keys
   SET status = $4, response_body = $5, response_headers = $6, completed_at = $7
 WHERE caller = $1 AND key = $2 AND created_at = $3 AND status IS NULL`,
		req.caller, req.key, req.createdAt, resp.Status, resp.Body, headers, s.now().UTC())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errTakenOver
	}
	return parked.Commit(ctx)
}

var errTakenOver = errors.New("idempotency: the key was taken over by a repeat after its lease; this request's effect is rolled back")

// storeAttempts and storeBackoff bound how long storing an outcome is
// retried (a database restarting, a connection cut): the handler's answer
// waits for it, so the outcome is not lost on a short outage.
const (
	storeAttempts = 8
	storeBackoff  = 50 * time.Millisecond
)

func (s *store) retry(ctx context.Context, what string, op func(context.Context) error) {
	ctx, cancel := detached(ctx)
	defer cancel()
	var err error
	backoff := storeBackoff
	for range storeAttempts {
		if err = op(ctx); err == nil || errors.Is(err, errTakenOver) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	if err != nil {
		slog.ErrorContext(ctx, "idempotency: "+what+"; the key stays in flight until its lease or TTL ends",
			"error", err.Error(), "request_id", httpx.RequestID(ctx))
	}
}

// complete stores req's outcome. A server error whose operation committed
// no effect (effect_at, set by markEffect, is absent) stores nothing: the key is
// released so that a repeat runs the operation, which never happened. If
// storing fails for good, the row stays in flight: with its effect
// committed until it expires, so a repeat can never run the operation a
// second time; without, until its lease ends.
func (s *store) complete(ctx context.Context, req *request, resp response) {
	headers, err := json.Marshal(resp.Header)
	if err != nil {
		slog.ErrorContext(ctx, "idempotency: encode response headers", "error", err.Error())
		return
	}
	s.retry(ctx, "store response", func(ctx context.Context) error {
		query := `
UPDATE idempotency_keys
   SET status = $4, response_body = $5, response_headers = $6, completed_at = $7
 WHERE caller = $1 AND key = $2 AND created_at = $3 AND status IS NULL`
		if resp.Status >= 500 {
			query += ` AND effect_at IS NOT NULL`
		}
		tag, err := s.pool.Exec(ctx, query, req.caller, req.key, req.createdAt, resp.Status, resp.Body, headers, s.now().UTC())
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		if resp.Status >= 500 {
			// No effect committed: nothing to remember.
			return s.delete(ctx, req)
		}
		return errTakenOver
	})
}

// release deletes req's row: the operation never started, so nothing is
// stored and the key may be used again.
func (s *store) release(ctx context.Context, req *request) {
	s.retry(ctx, "release key", func(ctx context.Context) error { return s.delete(ctx, req) })
}

// delete removes req's in-flight row unless an effect was committed under
// it.
func (s *store) delete(ctx context.Context, req *request) error {
	_, err := s.pool.Exec(ctx, `
DELETE FROM idempotency_keys
 WHERE caller = $1 AND key = $2 AND created_at = $3 AND status IS NULL AND effect_at IS NULL`,
		req.caller, req.key, req.createdAt)
	return err
}

// detached keeps ctx's values but not its cancellation: the outcome of a
// request whose client went away must still be recorded.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// purgeBatch is how many rows Purge deletes per statement, to keep each
// statement short.
const purgeBatch = 1000

// Purge deletes the keys created before olderThan (usually time.Now() minus
// the TTL) and returns how many it deleted. Expired keys are already treated
// as unused, so Purge only reclaims space; services run it periodically.
func Purge(ctx context.Context, pool *pgxpool.Pool, olderThan time.Time) (int64, error) {
	var total int64
	for {
		tag, err := pool.Exec(ctx, `
DELETE FROM idempotency_keys
 WHERE (caller, key) IN (SELECT caller, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`,
			olderThan, purgeBatch)
		if err != nil {
			return total, fmt.Errorf("idempotency: purge: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeBatch {
			return total, nil
		}
	}
}

// PurgeLoop deletes expired keys once an hour until ctx ends; run it as one
// of the service's background workers. Expired keys are already ignored:
// this only reclaims their space.
func PurgeLoop(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			n, err := Purge(ctx, pool, time.Now().Add(-DefaultTTL))
			if err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "purging expired idempotency keys failed", "error", err.Error())
			} else if n > 0 {
				log.InfoContext(ctx, "purged expired idempotency keys", "count", n)
			}
		}
	}
}
