// Package inbox is the idempotent consumer every service uses to apply
// events: each message's effects, the record that its event id was
// applied, and the partition's next offset are written in one database
// transaction, so an event redelivered by Kafka (at-least-once) has its
// effect exactly once.
//
// With Config.BatchSize above 1, the messages of a partition that are
// already at hand are applied together in one such transaction (every
// event id recorded by one statement, the offset moved past the last), so
// that rows every event touches are locked once per batch rather than
// once per event; a Config.BatchHandler may then apply the batch's events
// with a few set-based statements instead of a handler call per event. If
// any of them fails, the batch is rolled back and its messages applied one
// per transaction as above.
//
// The consumer's position lives in the service's own database, not in
// Kafka: when the group assigns it a partition, it starts reading at the
// offset stored in consumer_offsets (or the earliest offset the first
// time). A database restored from a backup thus rewinds its consumers with
// it, and they re-consume what the restore lost. Offsets are also
// committed to Kafka, but only so that lag can be watched with the usual
// tools.
//
// A message that cannot be decoded, or whose handler fails MaxAttempts
// times (or returns a Permanent error), is published to the topic's
// dead-letter topic (<topic>.dlq, which must exist) with the error in the
// x-error header, counted, and passed over; the consumer goes on.
//
// # Schema
//
// The owning service adds Migration to its own goose migrations under a
// name of its choosing with MigrationFile (e.g. "00003_inbox.sql", see
// migration.go). It creates:
//
//	processed_events(group_id, event_id uuid, topic, partition, "offset",
//	                 processed_at; primary key (group_id, event_id))
//	consumer_offsets(group_id, topic, partition, next_offset, updated_at;
//	                 primary key (group_id, topic, partition))
//
// Event ids are recorded per consumer group, so two groups of one service
// that read the same topic each apply every event.
package inbox

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
)

// Handler applies one event inside tx, the transaction that also records
// it as processed and moves the partition's offset past it. It must not
// commit or roll back tx. With Config.BatchSize above 1, tx may hold the
// handler's work on earlier events of the batch too (run in partition
// order): the handler must not assume one event per transaction. An
// error rolls everything back; the message is retried with back-off. An
// error of the database (pg.Transient: a lost connection, a statement or
// lock timeout, a full disk, a shutdown — wrapped with %w, or met while
// the database does not answer a ping) is retried without limit, since
// the event is not at fault; any other error dead-letters the message
// after MaxAttempts failures.
type Handler func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error

// BatchHandler applies the events of a batch at once inside tx, the
// transaction that also records them as processed and moves the
// partition's offset past the batch (see Config.BatchHandler). envs are
// the batch's events not applied before, in partition order. It must not
// commit or roll back tx. An error rolls the whole batch back; its
// messages are then applied one per transaction with the Handler.
type BatchHandler func(ctx context.Context, tx pgx.Tx, envs []eventbus.Envelope) error

// Permanent marks err as one that retrying cannot cure (e.g. a payload
// that breaks a business rule): the message goes to the dead-letter topic
// at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
