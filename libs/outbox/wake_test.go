package outbox_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/outbox"
)

// A committed insert wakes the relay: with a poll interval far longer than
// the test may take, events are published all the same, by the
// notification of their transaction (Add, Queue and AddAll notify).
func TestRelayIsWokenByTheInsert(t *testing.T) {
	pool, brokers, ctx := setup(t, eventbus.TopicPortfolio)
	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: brokers,
		PollInterval: 10 * time.Minute, BusyPollInterval: 10 * time.Minute}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	runRelay(t, relay)
	// The first event may be published by the relay's first poll; after
	// each batch the relay sleeps for the poll interval unless woken.
	for i := 1; i <= 2; i++ {
		add(t, ctx, pool, true, pending{eventbus.TopicPortfolio, "1", portfolioEvent(t, i)})
		if msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicPortfolio, i, 10*time.Second); len(msgs) != i {
			t.Fatalf("Add: %d messages, want %d: the relay was not woken", len(msgs), i)
		}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := outbox.AddAll(ctx, tx, outbox.Event{Topic: eventbus.TopicPortfolio, Key: "2", Envelope: portfolioEvent(t, 3)},
		outbox.Event{Topic: eventbus.TopicPortfolio, Key: "3", Envelope: portfolioEvent(t, 4)}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicPortfolio, 4, 10*time.Second); len(msgs) != 4 {
		t.Fatalf("AddAll: %d messages in all, want 4: the relay was not woken", len(msgs))
	}
}
