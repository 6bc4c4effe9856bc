package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
)

// A row that can never be published — larger than the broker accepts, on a
// topic that does not exist or that the service may not write — would stop
// every later event of the service, since the relay publishes in id order
// and never skips a row on its own (the order per key depends on it). The
// relay therefore tells such a failure from one that passes (a broker that
// is down, a leader that moves), and reports the row that blocks it: the
// gauges fund_outbox_blocked and fund_outbox_blocked_row_id, and an ERROR
// log naming the row. The operator then fixes the cause or skips the row
// (Skip; `<binary> -outbox-skip=<id>`, docs/operations.md#fundoutboxblocked).

// failure is how a failed write is expected to end.
type failure int

const (
	// transient failures pass by themselves: the broker is down or
	// unreachable, a leader is moving, a request timed out.
	transient failure = iota
	// suspect failures are permanent if they last: a topic that does not
	// exist (yet: it may be being created) or a corrupt message (a network
	// fault, or the message itself). blockAfterAttempts consecutive
	// attempts failing on the same row make it block the relay.
	suspect
	// permanent failures repeat for as long as the row or the broker's
	// setting stays as it is: the message is too large, invalid, or the
	// topic may not be written.
	permanent
)

// blockAfterAttempts is how many consecutive attempts on one row must fail
// with a suspect error before the row counts as blocking: with the relay's
// back-off (from 100 ms, ×1.5 each time, up to MaxBackoff) that is 10 s or
// more, beyond the time a topic being created takes to appear.
const blockAfterAttempts = 10

// blockedLogInterval is how often a blocked relay repeats its ERROR log
// about the row that blocks it (it logs it at once when the row starts
// blocking).
const blockedLogInterval = time.Minute

// classify tells what err, from kafka-go's writer, is; a write of several
// messages (kafka.WriteErrors) is as bad as its worst message.
func classify(err error) failure {
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		worst := transient
		for _, e := range werrs {
			if e != nil {
				worst = max(worst, classify(e))
			}
		}
		return worst
	}
	// kafka.MessageTooLargeError (a message above the writer's BatchBytes)
	// unwraps to kafka.MessageSizeTooLarge.
	var kerr kafka.Error
	if !errors.As(err, &kerr) {
		return transient // network errors, timeouts, a closed writer
	}
	switch kerr {
	case kafka.MessageSizeTooLarge, kafka.RecordListTooLarge, kafka.InvalidRecord, kafka.InvalidTimestamp,
		kafka.UnsupportedForMessageFormat, kafka.InvalidTopic, kafka.PolicyViolation,
		kafka.TopicAuthorizationFailed, kafka.ClusterAuthorizationFailed:
		return permanent
	case kafka.UnknownTopicOrPartition, kafka.UnknownTopicID, kafka.InvalidMessage:
		return suspect
	}
	return transient
}

// stuckRow is the oldest pending row while its own writes keep failing
// with suspect or permanent errors.
type stuckRow struct {
	row      row
	err      error
	attempts int       // consecutive failed attempts on it
	blocked  bool      // reported as blocking (fund_outbox_blocked == 1)
	since    time.Time // when it started blocking
	logged   time.Time // the last ERROR log about it
}

// track updates the relay's view of a row that blocks it after attempt a,
// logs and sets the gauges; it reports whether a.err is the failure of the
// row that blocks the relay (then it is logged here, at most once a minute,
// rather than on every attempt).
func (r *Relay) track(ctx context.Context, a attempt) bool {
	if !a.ran {
		return false // another replica's turn, or the database failed: nothing learnt
	}
	// The stuck row is past once it is published or no longer the oldest
	// pending one (it was skipped).
	if s := r.stuck; s != nil && (a.head != s.row.id || a.headPublished) {
		if s.blocked {
			r.log.InfoContext(ctx, "outbox unblocked: the row that blocked the relay is no longer pending",
				"row_id", s.row.id, "event_id", s.row.eventID, "blocked_for", time.Since(s.since).Round(time.Second).String())
		}
		r.stuck = nil
		r.setBlocked(0)
	}
	if a.failed == nil || a.err == nil {
		return false
	}
	kind := classify(a.err)
	if kind == transient {
		return false // says nothing about the row: a row that blocks stays blocking
	}
	s := r.stuck
	if s == nil || s.row.id != a.failed.id {
		s = &stuckRow{row: *a.failed}
		r.stuck = s
	}
	s.attempts++
	s.err = a.err
	if !s.blocked && (kind == permanent || s.attempts >= blockAfterAttempts) {
		s.blocked = true
		s.since = time.Now()
		r.setBlocked(s.row.id)
	}
	if s.blocked && time.Since(s.logged) >= blockedLogInterval {
		s.logged = time.Now()
		r.log.ErrorContext(ctx, "outbox blocked: the broker refuses a row for good; later events wait until it is fixed or skipped",
			"row_id", s.row.id, "event_id", s.row.eventID, "type", s.row.typ, "topic", s.row.topic, "key", s.row.key,
			"size", messageSize(message(s.row)), "error", s.err.Error(), "attempts", s.attempts,
			"blocked_for", time.Since(s.since).Round(time.Second).String())
	}
	return s.blocked
}

// setBlocked sets the gauges: id is the blocking row, 0 for none.
func (r *Relay) setBlocked(id int64) {
	r.blockedRowID.Set(float64(id))
	if id == 0 {
		r.blockedGauge.Set(0)
	} else {
		r.blockedGauge.Set(1)
	}
}

// messageSize is the bytes of a message's key, value and headers: what
// counts against the broker's limit, bar the record framing.
func messageSize(m kafka.Message) int {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}
