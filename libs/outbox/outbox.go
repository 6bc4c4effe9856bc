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
// The owning service adds Migration to its own goose migrations under a
// name of its choosing with MigrationFile (e.g. "00002_outbox.sql", see
// migration.go). It creates:
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
//
// # A row that cannot be published
//
// The relay never skips a row by itself. A row the broker refuses for good
// (too large, on a topic that does not exist or may not be written) blocks
// the rows after it; the relay reports it (fund_outbox_blocked,
// fund_outbox_blocked_row_id and an ERROR log naming it, see blocked.go)
// and keeps retrying it. Pending lists the waiting rows and Skip marks one
// published without publishing it (the service binaries' -outbox-pending
// and -outbox-skip, libs/serve); docs/operations.md#fundoutboxblocked is
// the runbook.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
)

// Add writes env to the outbox in tx, to be published on topic under key
// once tx commits. The trace context of ctx is kept with the row and sent
// in the message's headers. The envelope must match its type's JSON
// Schema and its type must belong to topic: a producer bug fails here, in
// the producer's transaction, rather than in every consumer.
func Add(ctx context.Context, tx pgx.Tx, topic, key string, env eventbus.Envelope) error {
	payload, headers, err := prepare(ctx, Event{Topic: topic, Key: key, Envelope: env})
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, insertOne, env.ID, topic, key, env.Type, payload, headers)
	if err != nil {
		return fmt.Errorf("outbox: insert event %s: %w", env.ID, err)
	}
	return nil
}

// insertOne inserts one event and notifies the relays (see Channel) in the
// same statement, so Add and Queue stay one round trip.
const insertOne = `WITH ins AS (
	INSERT INTO outbox (event_id, topic, key, type, payload, headers) VALUES ($1, $2, $3, $4, $5, $6) RETURNING 1)
	SELECT pg_notify('` + Channel + `', '') FROM ins`

// Channel is the PostgreSQL notification channel an insert into the outbox
// notifies (NOTIFY is delivered when the transaction commits, once per
// transaction however many events it adds): the relays listen on it to
// publish at once rather than at their next poll.
const Channel = "outbox_insert"

// Queue is Add for a transaction that sends its statements in a batch: the
// same checks, and the insert queued in b, to go in the batch's round trip
// (b must be sent in the transaction the event belongs to).
func Queue(ctx context.Context, b *pgx.Batch, topic, key string, env eventbus.Envelope) error {
	payload, headers, err := prepare(ctx, Event{Topic: topic, Key: key, Envelope: env})
	if err != nil {
		return err
	}
	b.Queue(insertOne, env.ID, topic, key, env.Type, payload, headers)
	return nil
}

// Event is one event for AddAll: its envelope, to be published on Topic
// under Key.
type Event struct {
	Topic, Key string
	Envelope   eventbus.Envelope
	// Context, when set, is the context whose trace context the row keeps
	// instead of AddAll's: for a transaction that writes the events of
	// several traces (a batch of consumed events, see inbox.EventContext),
	// so that each continues its own.
	Context context.Context
}

// AddAll writes several events to the outbox in tx, as Add writes each
// (the same checks, the trace context of ctx), with one statement for all
// of them: for a transaction that emits several events, one round trip
// instead of one per event. They are published in the order given.
func AddAll(ctx context.Context, tx pgx.Tx, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	var ids, topics, keys, types, payloads, headers []string
	for _, e := range events {
		payload, header, err := prepare(ctx, e)
		if err != nil {
			return err
		}
		ids, topics, keys = append(ids, e.Envelope.ID), append(topics, e.Topic), append(keys, e.Key)
		types, payloads, headers = append(types, e.Envelope.Type), append(payloads, payload), append(headers, header)
	}
	_, err := tx.Exec(ctx, `WITH ins AS (INSERT INTO outbox (event_id, topic, key, type, payload, headers)
		SELECT e.event_id::uuid, e.topic, e.key, e.type, e.payload::json, e.headers::jsonb
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
			WITH ORDINALITY AS e(event_id, topic, key, type, payload, headers, n)
		ORDER BY e.n RETURNING 1)
		SELECT pg_notify('`+Channel+`', '') WHERE EXISTS (SELECT FROM ins)`, ids, topics, keys, types, payloads, headers)
	if err != nil {
		return fmt.Errorf("outbox: insert %d events: %w", len(events), err)
	}
	return nil
}

// prepare checks e as Add does and returns its payload (the envelope as
// JSON) and its headers (the trace context of e.Context, else of ctx, as
// JSON).
func prepare(ctx context.Context, e Event) (payload, headers string, err error) {
	if want := eventbus.TopicOf(e.Envelope.Type); want != e.Topic {
		return "", "", fmt.Errorf("outbox: event type %q is not published on topic %q", e.Envelope.Type, e.Topic)
	}
	p, err := json.Marshal(e.Envelope)
	if err != nil {
		return "", "", fmt.Errorf("outbox: marshal envelope: %w", err)
	}
	if e.Context != nil {
		ctx = e.Context
	}
	h, err := json.Marshal(eventbus.TraceHeaders(ctx))
	if err != nil {
		return "", "", fmt.Errorf("outbox: marshal headers: %w", err)
	}
	// Before the schema: a too large event is the request's fault (413),
	// a schema violation the producer's (500).
	if size := len(e.Key) + len(p) + len(h) + messageOverhead; size > MaxEventBytes {
		return "", "", &TooLargeError{Type: e.Envelope.Type, Size: size}
	}
	if err := eventbus.Validate(e.Envelope.Type, p); err != nil {
		return "", "", fmt.Errorf("outbox: %w", err)
	}
	return string(p), string(h), nil
}

// MaxEventBytes is the largest message the outbox accepts: its key, value
// and headers. It stays below what the broker and the relay's writer accept
// (Kafka's default message.max.bytes, 1 048 588 bytes per record batch, and
// kafka-go's BatchBytes, 1 MiB), so that an event that was stored can
// always be published; a larger one would stop its relay for good. The
// text limits of the API (docs/api.md#text-fields) keep every valid event
// far below it.
const MaxEventBytes = 1_000_000

// messageOverhead bounds what the relay adds to a message besides its key,
// value and trace headers (the event-type and id headers, record framing).
const messageOverhead = 512

// ErrEventTooLarge is the error of an event above MaxEventBytes
// (errors.Is on a *TooLargeError).
var ErrEventTooLarge = errors.New("the event is too large to publish")

// TooLargeError refuses an event above MaxEventBytes. It is a client error:
// StatusCode and ErrorCode say how the API answers (413 event_too_large),
// and nothing of the request is stored since the producer's transaction
// fails with it.
type TooLargeError struct {
	Type string
	Size int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the %s event of this request would be %d bytes, more than the %d an event may have", e.Type, e.Size, MaxEventBytes)
}

// Is makes errors.Is(err, ErrEventTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrEventTooLarge }

// StatusCode is the HTTP status of the refusal: 413.
func (e *TooLargeError) StatusCode() int { return 413 }

// ErrorCode is the API's stable code of the refusal.
func (e *TooLargeError) ErrorCode() string { return "event_too_large" }
