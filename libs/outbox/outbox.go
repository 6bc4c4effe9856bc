// Package outbox is the transactional outbox every publishing service
// uses: Add writes an event into the outbox table in the same database
// transaction as the change the event describes, so the event exists if
// and only if the change was committed; a Relay running in the service's
// process publishes pending rows to Kafka in id order and marks them
// published.
//
// Delivery is at-least-once: a relay that stops between publishing a batch
// and marking it publishes that batch again when it restarts, so consumers
// deduplicate on the envelope id (see libs/inbox).
//
// # Schema
//
// The owning service includes Migration among its own goose migrations,
// e.g. as migrations/00002_outbox.sql with exactly that content (a test in
// the service can compare the file with Migration). It creates:
//
//	outbox(id bigint identity primary key, event_id uuid unique, topic, key,
//	       type, payload json, headers jsonb, created_at, published_at null)
//
// with a partial index on the unpublished rows.
//
// # Order
//
// Events are published in the order of their rows' ids, and the relay
// takes a transaction-scoped advisory lock, so several replicas of a
// service never publish concurrently. Events of one key therefore reach
// their partition in the order their rows were inserted. Transactions that
// emit events for the same entity must be serialised by the service (e.g.
// by locking the entity's row before calling Add), as they would be for
// the change itself.
package outbox

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
)

// Migration is the goose migration (Up and Down) that creates the outbox
// table; include it in the owning service's migrations.
//
//go:embed outbox.sql
var Migration string

// Add writes env to the outbox in tx, to be published on topic under key
// once tx commits. The trace context of ctx is kept with the row and sent
// in the message's headers. The envelope must match its type's JSON
// Schema and its type must belong to topic: a producer bug fails here, in
// the producer's transaction, rather than in every consumer.
func Add(ctx context.Context, tx pgx.Tx, topic, key string, env eventbus.Envelope) error {
	if want := eventbus.TopicOf(env.Type); want != topic {
		return fmt.Errorf("outbox: event type %q is not published on topic %q", env.Type, topic)
	}
	payload, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("outbox: marshal envelope: %w", err)
	}
	if err := eventbus.Validate(env.Type, payload); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	headers, err := json.Marshal(eventbus.TraceHeaders(ctx))
	if err != nil {
		return fmt.Errorf("outbox: marshal headers: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO outbox (event_id, topic, key, type, payload, headers)
		VALUES ($1, $2, $3, $4, $5, $6)`, env.ID, topic, key, env.Type, string(payload), string(headers))
	if err != nil {
		return fmt.Errorf("outbox: insert event %s: %w", env.ID, err)
	}
	return nil
}
