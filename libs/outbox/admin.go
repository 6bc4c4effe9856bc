package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The operator's view of the outbox, for the commands every publishing
// service's binary has (libs/serve: -outbox-pending, -outbox-skip) and the
// runbook of a blocked relay (docs/operations.md#fundoutboxblocked).

// PendingRow is an unpublished outbox row.
type PendingRow struct {
	ID        int64             `json:"id"`
	EventID   string            `json:"event_id"`
	Type      string            `json:"type"`
	Topic     string            `json:"topic"`
	Key       string            `json:"key"`
	Size      int               `json:"size"` // bytes of its message's key, value and headers
	CreatedAt time.Time         `json:"created_at"`
	Headers   map[string]string `json:"headers"`
	Payload   json.RawMessage   `json:"payload"` // the envelope, as the relay would publish it
}

func pendingRow(x row) PendingRow {
	return PendingRow{
		ID: x.id, EventID: x.eventID, Type: x.typ, Topic: x.topic, Key: x.key,
		Size: messageSize(message(x)), CreatedAt: x.createdAt, Headers: x.trace, Payload: x.payload,
	}
}

// Pending returns how many rows are unpublished and the oldest limit of
// them, in the order the relay publishes them: while the relay is blocked,
// the first is the row that blocks it.
func Pending(ctx context.Context, pool *pgxpool.Pool, limit int) (total int64, rows []PendingRow, err error) {
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("outbox: count pending: %w", err)
	}
	q, err := pool.Query(ctx, selectRows+` WHERE published_at IS NULL ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return 0, nil, fmt.Errorf("outbox: select pending: %w", err)
	}
	xs, err := pgx.CollectRows(q, scanRow)
	if err != nil {
		return 0, nil, fmt.Errorf("outbox: select pending: %w", err)
	}
	rows = make([]PendingRow, len(xs))
	for i, x := range xs {
		rows[i] = pendingRow(x)
	}
	return total, rows, nil
}

// ErrNotPending is the error of Skip for a row that does not exist or was
// already published.
var ErrNotPending = errors.New("no unpublished outbox row has this id")

// Skip marks the unpublished row id as published without publishing it, so
// that the rows after it flow: its event never reaches its consumers. keep
// is given the row first (payload included, for the operator to keep and
// re-emit); if it fails, nothing changes. Skip waits for the relay's
// current attempt to end (it takes the relay's lock), so the row cannot be
// published meanwhile. The other rows keep their order: those of the
// row's key after it are published where it would have been.
func Skip(ctx context.Context, pool *pgxpool.Pool, id int64, keep func(PendingRow) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, relayLockKey); err != nil {
			return fmt.Errorf("outbox: wait for the relay's lock: %w", err)
		}
		q, err := tx.Query(ctx, selectRows+` WHERE id = $1 AND published_at IS NULL FOR UPDATE`, id)
		if err != nil {
			return fmt.Errorf("outbox: select row %d: %w", id, err)
		}
		x, err := pgx.CollectExactlyOneRow(q, scanRow)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("outbox: row %d: %w", id, ErrNotPending)
		}
		if err != nil {
			return fmt.Errorf("outbox: select row %d: %w", id, err)
		}
		if err := keep(pendingRow(x)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = $1`, id); err != nil {
			return fmt.Errorf("outbox: mark row %d: %w", id, err)
		}
		return nil
	})
}
