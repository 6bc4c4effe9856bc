// Package events is the withdrawal service's side of Kafka: the handler the
// inbox consumer runs for each event of profit.events, which decodes the
// event and hands its credit to the service layer (ledger.ApplyCredits),
// as the HTTP transport hands requests to ledger.Service. (What the service
// publishes goes through the outbox, written by the store in the
// transaction of the change.)
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

// GroupID is the service's consumer group.
const GroupID = "withdrawal"

// Topics are the topics the service consumes.
var Topics = []string{eventbus.TopicProfit}

// ConsumerConfig is the configuration of the service's consumer of
// Topics, as cmd/withdrawal runs it: the messages of a partition at hand
// (up to inbox.ServiceBatchSize) are applied in one transaction by BatchHandler, so
// that platform and system:profit, which every credit touches, are locked
// once per batch and the batch's credits written with a few set-based
// statements (see store.Credits); Handler applies them one by one when a
// batch fails.
func ConsumerConfig(brokers []string, st *store.Store, log *slog.Logger) inbox.Config {
	return inbox.ServiceConfig(brokers, inbox.Service{
		GroupID:      GroupID,
		Topics:       Topics,
		Handler:      Handler(st),
		BatchHandler: BatchHandler(st),
	}, log)
}

// Handler applies one event of profit.events in tx, the inbox's
// transaction (which also records the event id and the offset, and may
// hold the other events of the consumer's batch):
// profit.allocated credits the ledger through ledger.ApplyCredits, once per
// allocation, and profit.allocation_reversed takes a credit back
// (ledger.ApplyReversal). Other types are passed over. An event that does not match
// its JSON Schema, or whose credit breaks ledger.CheckCredit, can never be
// applied: it is a permanent error (dead-lettered at once).
func Handler(st *store.Store) inbox.Handler {
	return func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
		if env.Type == eventbus.TypeProfitAllocationReversed {
			return reverse(ctx, st, tx, env)
		}
		c, ok, err := credit(env)
		if err != nil || !ok {
			return err
		}
		return apply(ctx, st, tx, []ledger.Credit{c})
	}
}

// BatchHandler applies a batch of profit.events in tx as Handler applies
// each, in order, with one ledger.ApplyCredits for all of their credits. An
// event Handler would refuse fails the whole batch (the inbox then applies
// its events one by one, and Handler dead-letters that one).
func BatchHandler(st *store.Store) inbox.BatchHandler {
	return func(ctx context.Context, tx pgx.Tx, envs []eventbus.Envelope) error {
		credits := make([]ledger.Credit, 0, len(envs))
		for _, env := range envs {
			if env.Type == eventbus.TypeProfitAllocationReversed {
				// The credits before it first: a reversal follows its credit.
				if err := apply(ctx, st, tx, credits); err != nil {
					return err
				}
				credits = credits[:0]
				if err := reverse(ctx, st, tx, env); err != nil {
					return fmt.Errorf("event %s: %w", env.ID, err)
				}
				continue
			}
			c, ok, err := credit(env)
			if err != nil {
				return fmt.Errorf("event %s: %w", env.ID, err)
			}
			if ok {
				credits = append(credits, c)
			}
		}
		return apply(ctx, st, tx, credits)
	}
}

// apply runs ledger.ApplyCredits in tx; a credit it refuses as invalid is
// a permanent error.
func apply(ctx context.Context, st *store.Store, tx pgx.Tx, cs []ledger.Credit) error {
	err := ledger.ApplyCredits(ctx, st.CreditsIn(tx), cs)
	if errors.Is(err, ledger.ErrInvalidCredit) {
		return inbox.Permanent(fmt.Errorf("events: %w", err))
	}
	return err
}

// credit is the ledger credit of a profit.allocated event; ok is false for
// the other types, which credit nothing.
func credit(env eventbus.Envelope) (c ledger.Credit, ok bool, err error) {
	if env.Type != eventbus.TypeProfitAllocated {
		return c, false, nil
	}
	var d eventbus.AllocatedData
	if err := inbox.DecodeChecked(env, &d); err != nil {
		return c, false, err
	}
	return ledger.Credit{
		AllocationID: d.AllocationID, AllocationKey: d.Key(), Distributable: d.Distributable.Decimal,
		ToUser: d.ToUserAmount.Decimal, ToTeam: d.ToTeamAmount.Decimal, ToPlatform: d.ToPlatformAmount.Decimal,
		UserID: d.UserID, TeamID: d.TeamID, Currency: eventbus.CurrencyOf(d.Currency),
	}, true, nil
}

// reverse applies one profit.allocation_reversed in tx
// (ledger.ApplyReversal: posted, or parked when the owners' balances do not
// cover it); a reversal that is not a valid credit is a permanent error.
func reverse(ctx context.Context, st *store.Store, tx pgx.Tx, env eventbus.Envelope) error {
	var d eventbus.AllocationReversedData
	if err := inbox.DecodeChecked(env, &d); err != nil {
		return err
	}
	r := ledger.Reversal{ReversalID: d.ReversalID, CorrectionID: d.CorrectionID, Credit: ledger.Credit{
		AllocationID: d.AllocationID, AllocationKey: d.AllocationKey, Distributable: d.Distributable.Decimal,
		ToUser: d.ToUserAmount.Decimal, ToTeam: d.ToTeamAmount.Decimal, ToPlatform: d.ToPlatformAmount.Decimal,
		UserID: d.UserID, TeamID: d.TeamID, Currency: eventbus.CurrencyOf(d.Currency),
	}}
	err := ledger.ApplyReversal(ctx, st.ReversalsIn(tx), r)
	if errors.Is(err, ledger.ErrInvalidCredit) {
		return inbox.Permanent(fmt.Errorf("events: %w", err))
	}
	return err
}
