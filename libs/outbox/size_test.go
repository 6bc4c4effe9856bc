package outbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

// TestAnEventTooLargeToPublishIsRefusedInTheTransaction: an event whose
// message would exceed MaxEventBytes — here a reason of 200 000 "<", which
// the JSON encoder escapes to six bytes each — is refused by Add, Queue and
// AddAll before anything is stored, as a 413 event_too_large for the API;
// the transaction then stores nothing, and the outbox stays publishable.
func TestAnEventTooLargeToPublishIsRefusedInTheTransaction(t *testing.T) {
	pool := pgtest.New(t, migrations)
	ctx := context.Background()
	env, err := eventbus.NewEnvelope("withdrawal", eventbus.TypeFundsReallocated, "reallocation/1", map[string]any{
		"reallocation_id": 1, "from_account": "platform", "to_account": "user:7", "amount": "1.00000000",
		"reason": strings.Repeat("<", 200_000)})
	if err != nil {
		t.Fatal(err)
	}
	adds := map[string]func(pgx.Tx) error{
		"Add": func(tx pgx.Tx) error { return outbox.Add(ctx, tx, eventbus.TopicWithdrawal, "platform", env) },
		"Queue": func(pgx.Tx) error {
			return outbox.Queue(ctx, &pgx.Batch{}, eventbus.TopicWithdrawal, "platform", env)
		},
		"AddAll": func(tx pgx.Tx) error {
			return outbox.AddAll(ctx, tx, outbox.Event{Topic: eventbus.TopicWithdrawal, Key: "platform", Envelope: env})
		},
	}
	for name, add := range adds {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = add(tx)
		_ = tx.Rollback(ctx)
		if !errors.Is(err, outbox.ErrEventTooLarge) {
			t.Fatalf("%s: %v, want ErrEventTooLarge", name, err)
		}
		if he, ok := httpx.As(err); !ok || he.Status != 413 || he.Code != "event_too_large" {
			t.Fatalf("%s: the API answers %+v, want 413 event_too_large", name, he)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d outbox rows, %v; want none", n, err)
	}
}
