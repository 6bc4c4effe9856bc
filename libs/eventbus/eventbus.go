// Package eventbus is what every service shares to put events on Kafka and
// read them back (docs/api.md#events): the topics and event types, the JSON
// envelope, the Kafka headers that carry the trace context, the JSON
// Schema of every event type, and a kafka-go writer set up for
// at-least-once delivery.
package eventbus

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Topics. Each topic's key keeps the events of one entity in order: the
// portfolio id on the portfolio and profit topics, the ledger account
// ("user:7", "team:3", "platform") on the withdrawal topic, "ledger" on
// the checkpoint topic. TopicCheckpoints carries the withdrawal ledger's
// signed checkpoints of its chain heads (ledger.checkpoint), kept apart
// from withdrawal.events so that no consumer of the ledger's events ever
// sees them (docs/decisions.md).
const (
	TopicPortfolio   = "portfolio.events"
	TopicProfit      = "profit.events"
	TopicWithdrawal  = "withdrawal.events"
	TopicCheckpoints = "ledger.checkpoints"
)

// Topics lists the event topics.
var Topics = []string{TopicPortfolio, TopicProfit, TopicWithdrawal, TopicCheckpoints}

// DLQTopic is the dead-letter topic of topic: messages that could not be
// processed after bounded retries go there, with the error in a header.
func DLQTopic(topic string) string { return topic + ".dlq" }

// Event types.
const (
	TypePortfolioCreated         = "portfolio.created"
	TypePortfolioUpdated         = "portfolio.updated"
	TypePortfolioProfitRecorded  = "portfolio.profit_recorded"
	TypePortfolioNAVCorrected    = "portfolio.nav_corrected"
	TypeProfitAllocationReversed = "profit.allocation_reversed"
	TypeProfitRatioChanged       = "profit.ratio_changed"
	TypeProfitAllocated          = "profit.allocated"
	TypeProfitOutcomeRecorded    = "profit.outcome_recorded"
	TypeWithdrawalRequested      = "withdrawal.requested"
	TypeWithdrawalCompleted      = "withdrawal.completed"
	TypeWithdrawalFailed         = "withdrawal.failed"
	TypeFundsReallocated         = "funds.reallocated"
	TypeLedgerCheckpoint         = "ledger.checkpoint"
)

// Types lists every event type; each has a JSON Schema (see Validate).
var Types = []string{
	TypePortfolioCreated, TypePortfolioUpdated, TypePortfolioProfitRecorded, TypePortfolioNAVCorrected,
	TypeProfitRatioChanged, TypeProfitAllocated, TypeProfitOutcomeRecorded, TypeProfitAllocationReversed,
	TypeWithdrawalRequested, TypeWithdrawalCompleted, TypeWithdrawalFailed,
	TypeFundsReallocated, TypeLedgerCheckpoint,
}

// TopicOf is the topic that events of type eventType are published on, or
// "" for an unknown type.
func TopicOf(eventType string) string {
	switch eventType {
	case TypePortfolioCreated, TypePortfolioUpdated, TypePortfolioProfitRecorded, TypePortfolioNAVCorrected:
		return TopicPortfolio
	case TypeProfitRatioChanged, TypeProfitAllocated, TypeProfitOutcomeRecorded, TypeProfitAllocationReversed:
		return TopicProfit
	case TypeWithdrawalRequested, TypeWithdrawalCompleted, TypeWithdrawalFailed, TypeFundsReallocated:
		return TopicWithdrawal
	case TypeLedgerCheckpoint:
		return TopicCheckpoints
	}
	return ""
}

// Version is the envelope version every event carries.
const Version = 1

// Envelope is the value of every event message:
//
//	{"id": "<uuid>", "type": "<type>", "version": 1, "source": "<service>",
//	 "time": "<RFC 3339, UTC>", "subject": "portfolio/42", "data": {...}}
//
// ID is unique per event and is what consumers deduplicate on.
type Envelope struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Version int             `json:"version"`
	Source  string          `json:"source"`
	Time    time.Time       `json:"time"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// NewEnvelope wraps data (marshalled to JSON) in an envelope with a new
// random id, version 1 and the current time in UTC (microsecond precision,
// as PostgreSQL keeps it).
func NewEnvelope(source, eventType, subject string, data any) (Envelope, error) {
	if source == "" || eventType == "" || subject == "" {
		return Envelope{}, errors.New("eventbus: envelope needs a source, a type and a subject")
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Envelope{}, fmt.Errorf("eventbus: marshal %s data: %w", eventType, err)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return Envelope{}, fmt.Errorf("eventbus: %s data must be a JSON object", eventType)
	}
	return Envelope{
		ID:      uuid.NewString(),
		Type:    eventType,
		Version: Version,
		Source:  source,
		Time:    time.Now().UTC().Truncate(time.Microsecond),
		Subject: subject,
		Data:    raw,
	}, nil
}

// MarshalJSON writes the envelope with its time in UTC.
func (e Envelope) MarshalJSON() ([]byte, error) {
	type plain Envelope
	p := plain(e)
	p.Time = p.Time.UTC()
	return json.Marshal(p)
}

// Decode parses a message value into an envelope and checks the fields
// every consumer relies on: a UUID id, a type, version 1 and a data object.
// It does not check the data against the type's schema (see Validate).
func Decode(value []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(value, &e); err != nil {
		return Envelope{}, fmt.Errorf("eventbus: decode envelope: %w", err)
	}
	if _, err := uuid.Parse(e.ID); err != nil {
		return Envelope{}, fmt.Errorf("eventbus: envelope id %q is not a UUID", e.ID)
	}
	switch {
	case e.Type == "":
		return Envelope{}, errors.New("eventbus: envelope has no type")
	case e.Version != Version:
		return Envelope{}, fmt.Errorf("eventbus: envelope version %d is not supported", e.Version)
	case len(e.Data) == 0 || e.Data[0] != '{':
		return Envelope{}, errors.New("eventbus: envelope data is not a JSON object")
	case e.Time.UTC().Year() < 1 || e.Time.UTC().Year() > 9999:
		// RFC 3339 cannot write it in UTC: the envelope could not be
		// encoded again.
		return Envelope{}, fmt.Errorf("eventbus: envelope time %s is outside the years 0001-9999 in UTC", e.Time)
	}
	return e, nil
}
