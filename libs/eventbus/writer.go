package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Writer publishes event messages with kafka-go, set up for at-least-once
// delivery: every write waits for all in-sync replicas, a message's key
// picks its partition (so one entity's events stay in order), and topics
// must exist (no auto-creation: a misspelt topic is an error).
//
// kafka-go has no idempotent producer: a retried write may duplicate a
// message, which consumers absorb by deduplicating on the envelope id.
type Writer struct {
	w *kafka.Writer
}

// NewWriter returns a writer to topic on the brokers ("host:port"). With
// topic "", every message must name its own topic (kafka.Message.Topic).
func NewWriter(brokers []string, topic string) *Writer {
	return &Writer{w: KafkaWriter(brokers, topic)}
}

// KafkaWriter is the kafka-go writer of NewWriter: every write waits for
// all in-sync replicas, a message's key picks its partition, topics are
// never auto-created, and a failed write is tried a few times quickly.
// Writers that batch differently (the outbox relay) start from it.
func KafkaWriter(brokers []string, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		// kafka-go's default of 1 s would make every synchronous write of
		// a small batch wait that long.
		BatchTimeout: 5 * time.Millisecond,
		// A few quick attempts here; callers such as the outbox relay retry
		// whole batches with their own back-off.
		MaxAttempts:            3,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        500 * time.Millisecond,
		WriteTimeout:           10 * time.Second,
		ReadTimeout:            10 * time.Second,
		AllowAutoTopicCreation: false,
	}
}

// Topic is the writer's topic ("" when each message names its own).
func (w *Writer) Topic() string { return w.w.Topic }

// WriteMessages writes msgs and returns once all are acknowledged or the
// write failed (some may have been written then; see kafka.WriteErrors).
func (w *Writer) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	if err := w.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("eventbus: write %d message(s): %w", len(msgs), err)
	}
	return nil
}

// Publish writes one event under key, with the trace context of ctx in its
// headers. Services publish through the outbox instead, so that an event
// is written if and only if its change is committed; Publish is for
// messages that have no such change (e.g. dead letters).
func (w *Writer) Publish(ctx context.Context, key string, env Envelope) error {
	msg, err := NewMessage(ctx, key, env)
	if err != nil {
		return err
	}
	return w.WriteMessages(ctx, msg)
}

// Stats are kafka-go's counters since the previous call.
func (w *Writer) Stats() kafka.WriterStats { return w.w.Stats() }

// Close flushes pending writes and closes the connections.
func (w *Writer) Close() error { return w.w.Close() }

// NewMessage is the Kafka message of env: the envelope as JSON, key, and
// the headers of Headers(ctx, env.Type). Its topic is left for the caller.
func NewMessage(ctx context.Context, key string, env Envelope) (kafka.Message, error) {
	value, err := json.Marshal(env)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("eventbus: marshal envelope: %w", err)
	}
	return kafka.Message{Key: []byte(key), Value: value, Headers: Headers(ctx, env.Type)}, nil
}
