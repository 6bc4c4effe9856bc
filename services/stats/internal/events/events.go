// Package events is the stats service's side of Kafka: the handler the
// inbox consumer runs for every event of the three topics
// (docs/api.md#events, docs/api.md#stats-service). Each event's
// effect on the read models is written in the inbox's transaction, with
// its event id and offset, so a redelivered event counts once.
package events

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/services/stats/internal/stats"
)

// GroupID is the service's consumer group.
const GroupID = "stats"

// Topics are the topics the service consumes: all three.
var Topics = []string{eventbus.TopicPortfolio, eventbus.TopicProfit, eventbus.TopicWithdrawal}

// Store is what the handlers need of the store: the read side the
// service is built on (stats.Store) and the write side bound to the
// inbox's transaction. *store.Store is one.
type Store interface {
	stats.Store
	Run(tx pgx.Tx) stats.RunStore
}

// Handler applies one event in tx, the inbox's transaction, as a run of
// one (BatchHandler).
func Handler(st Store) inbox.Handler {
	batch := BatchHandler(st)
	return func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
		return batch(ctx, tx, []eventbus.Envelope{env})
	}
}

// BatchHandler applies a partition's run of events in tx through the
// service, as the routes read through it (stats.Service's Apply): what
// each adds to the read models is summed and written once per row. Every
// known event moves last_event_at (the X-Data-Freshness of the routes,
// docs/api.md#stats-service); unknown types are passed over. An event that
// does not match its JSON Schema can never be applied: it is a permanent
// error (the inbox then applies the run one by one and dead-letters that
// event at once).
func BatchHandler(st Store) inbox.BatchHandler {
	svc := stats.New(st)
	return func(ctx context.Context, tx pgx.Tx, envs []eventbus.Envelope) error {
		events := make([]stats.Event, 0, len(envs))
		for _, env := range envs {
			e, ok, err := toEvent(env)
			if err != nil {
				return fmt.Errorf("event %s: %w", env.ID, err)
			}
			if ok {
				events = append(events, e)
			}
		}
		return svc.Apply(ctx, st.Run(tx), events)
	}
}

// toEvent validates and decodes an event; ok is false for a type the
// service does not know.
func toEvent(env eventbus.Envelope) (e stats.Event, ok bool, err error) {
	if eventbus.TopicOf(env.Type) == "" {
		return e, false, nil
	}
	if err := validate(env); err != nil {
		return e, false, err
	}
	e.Time = env.Time
	switch env.Type {
	case eventbus.TypePortfolioCreated, eventbus.TypePortfolioUpdated:
		var d eventbus.PortfolioData
		err = inbox.DecodeData(env, &d)
		e.Portfolio = &stats.Owners{PortfolioID: d.PortfolioID, UserID: d.UserID, TeamID: d.TeamID, Currency: d.Currency}
	case eventbus.TypePortfolioProfitRecorded:
		var d eventbus.ProfitRecordedData
		err = inbox.DecodeData(env, &d)
		e.ProfitRecorded = &stats.ProfitRecorded{PortfolioID: d.PortfolioID, SnapshotID: d.SnapshotID,
			UserID: d.UserID, TeamID: d.TeamID, PeriodEnd: d.PeriodEnd.UTC(), Profit: d.Profit.Decimal, Currency: d.Currency}
	case eventbus.TypeProfitAllocated:
		var d eventbus.AllocatedData
		err = inbox.DecodeData(env, &d)
		e.Allocation = &stats.Allocation{
			AllocationID: d.AllocationID, AllocationKey: d.Key(), PortfolioID: d.PortfolioID, UserID: d.UserID, TeamID: d.TeamID,
			Manual: d.Source == "manual" || d.Source == "correction", PeriodEnd: d.PeriodEnd.UTC(),
			Profit: d.ProfitAmount.Decimal, Distributable: d.Distributable.Decimal,
			ToTeam: d.ToTeamAmount.Decimal, ToPlatform: d.ToPlatformAmount.Decimal, ToUser: d.ToUserAmount.Decimal,
			Currency: d.Currency,
		}
	case eventbus.TypeProfitOutcomeRecorded:
		var d eventbus.OutcomeRecordedData
		err = inbox.DecodeData(env, &d)
		e.Outcome = &stats.Outcome{AllocationID: d.AllocationID, AllocationKey: d.AllocationKey, PortfolioID: d.PortfolioID, UserID: d.UserID, TeamID: d.TeamID,
			PeriodEnd: d.PeriodEnd.UTC(), Profit: d.ProfitAmount.Decimal, Currency: d.Currency}
	case eventbus.TypeProfitAllocationReversed:
		var d eventbus.AllocationReversedData
		err = inbox.DecodeData(env, &d)
		e.Reversal = &stats.Reversal{Allocation: stats.Allocation{
			AllocationID: d.AllocationID, PortfolioID: d.PortfolioID, UserID: d.UserID, TeamID: d.TeamID,
			Manual: d.Source != "nav", PeriodEnd: d.PeriodEnd.UTC(),
			Profit: d.ProfitAmount.Decimal, Distributable: d.Distributable.Decimal,
			ToTeam: d.ToTeamAmount.Decimal, ToPlatform: d.ToPlatformAmount.Decimal, ToUser: d.ToUserAmount.Decimal,
			Currency: d.Currency,
		}, Awaiting: d.Status == "awaiting_ratio", CarryBefore: d.CarryBefore.Decimal}
	case eventbus.TypeProfitRatioChanged:
		e.RatioChanged = true
	case eventbus.TypeWithdrawalRequested, eventbus.TypeWithdrawalCompleted, eventbus.TypeWithdrawalFailed:
		var d eventbus.WithdrawalData
		err = inbox.DecodeData(env, &d)
		status := map[string]string{
			eventbus.TypeWithdrawalRequested: stats.StatusPending,
			eventbus.TypeWithdrawalCompleted: stats.StatusCompleted,
			eventbus.TypeWithdrawalFailed:    stats.StatusFailed,
		}[env.Type]
		e.Withdrawal = &stats.Withdrawal{ID: d.WithdrawalID, FromType: d.FromType, OwnerID: d.OwnerID,
			Amount: d.Amount.Decimal, Status: status, Currency: d.Currency}
	case eventbus.TypeFundsReallocated:
		var d eventbus.ReallocatedData
		err = inbox.DecodeData(env, &d)
		e.Reallocation = &stats.Reallocation{ID: d.ReallocationID, Amount: d.Amount.Decimal, Currency: d.Currency}
	}
	return e, err == nil, err
}

// validate checks the event against its type's schema.
func validate(env eventbus.Envelope) error {
	value, err := json.Marshal(env)
	if err != nil {
		return inbox.Permanent(err)
	}
	if err := eventbus.Validate(env.Type, value); err != nil {
		return inbox.Permanent(err)
	}
	return nil
}
