package outbox

import "github.com/segmentio/kafka-go"

// SetAfterPublish installs a hook that runs after a batch is written to
// Kafka and before it is marked published; an error from it aborts the
// batch as a crash at that point would.
func SetAfterPublish(r *Relay, fn func() error) {
	r.afterPublish = func([]kafka.Message) error { return fn() }
}

// SetOnAcknowledged installs a hook that runs as soon as the write of a
// batch to Kafka has returned successfully, with the batch's messages.
func SetOnAcknowledged(r *Relay, fn func([]kafka.Message)) {
	r.afterPublish = func(msgs []kafka.Message) error { fn(msgs); return nil }
}

// BlockAfterAttempts is blockAfterAttempts.
const BlockAfterAttempts = blockAfterAttempts

// Classify names the class of a write error: transient, suspect or
// permanent.
func Classify(err error) string {
	return [...]string{transient: "transient", suspect: "suspect", permanent: "permanent"}[classify(err)]
}
