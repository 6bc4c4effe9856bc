// Package events is the profit service's side of Kafka: the handler the
// inbox consumer runs for each event of portfolio.events. (What the
// service publishes goes through the outbox, written by the store in the
// transaction of the change.)
package events

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/services/profit/internal/profit"
	"github.com/fundplatform/platform/services/profit/internal/store"
)

// GroupID is the service's consumer group.
const GroupID = "profit"

// Topics are the topics the service consumes.
var Topics = []string{eventbus.TopicPortfolio}

// Handler applies one event of portfolio.events in tx, the inbox's
// transaction (which also records the event id and the offset), through
// the service's event side (profit.Consumer) on the store bound to tx:
// portfolio.created adds the portfolio to the read model unless it is
// there already (looked up in the portfolio service by a request), and
// portfolio.updated records its owners; portfolio.profit_recorded
// is recorded and allocated (profit.Consumer.RecordNAVProfit, ending in
// store.RecordProfit, the code path of manual profits too), and
// portfolio.nav_corrected reverses and replaces the allocations it
// changes (store.ApplyNAVCorrection). Other types
// are not this service's concern and are passed over. An event that does
// not match its JSON Schema can never be applied: it is a permanent error
// (dead-lettered at once).
func Handler(st *store.Store) inbox.Handler {
	svc := profit.NewConsumer()
	return func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
		switch env.Type {
		case eventbus.TypePortfolioCreated, eventbus.TypePortfolioUpdated:
			var d eventbus.PortfolioData
			if err := inbox.DecodeChecked(env, &d); err != nil {
				return err
			}
			o := profit.Owners{PortfolioID: d.PortfolioID, UserID: d.UserID, TeamID: d.TeamID, Currency: eventbus.CurrencyOf(d.Currency)}
			if env.Type == eventbus.TypePortfolioCreated {
				return svc.AddPortfolio(ctx, st.InTx(tx), o)
			}
			return svc.ApplyOwners(ctx, st.InTx(tx), o)
		case eventbus.TypePortfolioProfitRecorded:
			in, err := navProfit(env)
			if err != nil {
				return err
			}
			_, err = svc.RecordNAVProfit(ctx, st.InTx(tx), in)
			return err
		case eventbus.TypePortfolioNAVCorrected:
			var d eventbus.NAVCorrectedData
			if err := inbox.DecodeChecked(env, &d); err != nil {
				return err
			}
			return svc.ApplyNAVCorrection(ctx, st.InTx(tx), profit.NAVCorrection{CorrectionID: d.CorrectionID,
				PortfolioID: d.PortfolioID, SnapshotID: d.SnapshotID, SourceEventID: env.ID, PeriodEnd: d.PeriodEnd.UTC(),
				OldProfit: d.OldProfit.Decimal, Profit: d.Profit.Decimal, UserID: d.UserID, TeamID: d.TeamID,
				Currency: eventbus.CurrencyOf(d.Currency)})
		}
		return nil
	}
}

// BatchHandler applies a partition's run of events in tx as Handler
// applies each, in order: consecutive portfolio.profit_recorded events go
// to profit.Consumer.RecordNAVProfits together (store.RecordNAVProfits:
// three round trips for the run), the other types one at a time between
// them. An event Handler would refuse fails the run (the inbox then
// applies its events one by one, and Handler dead-letters that one).
func BatchHandler(st *store.Store) inbox.BatchHandler {
	one := Handler(st)
	svc := profit.NewConsumer()
	return func(ctx context.Context, tx pgx.Tx, envs []eventbus.Envelope) error {
		var run []profit.NewProfit
		flush := func() error {
			err := svc.RecordNAVProfits(ctx, st.InTx(tx), run)
			run = run[:0]
			return err
		}
		for _, env := range envs {
			if env.Type != eventbus.TypePortfolioProfitRecorded {
				if err := flush(); err != nil {
					return err
				}
				if err := one(ctx, tx, env); err != nil {
					return fmt.Errorf("event %s: %w", env.ID, err)
				}
				continue
			}
			in, err := navProfit(env)
			if err != nil {
				return fmt.Errorf("event %s: %w", env.ID, err)
			}
			run = append(run, in)
		}
		return flush()
	}
}

// navProfit is the profit a portfolio.profit_recorded event records.
func navProfit(env eventbus.Envelope) (profit.NewProfit, error) {
	var d eventbus.ProfitRecordedData
	if err := inbox.DecodeChecked(env, &d); err != nil {
		return profit.NewProfit{}, err
	}
	snapshot := d.SnapshotID
	return profit.NewProfit{
		PortfolioID:   d.PortfolioID,
		Source:        profit.SourceNAV,
		SnapshotID:    &snapshot,
		SourceEventID: env.ID,
		PeriodEnd:     d.PeriodEnd.UTC(),
		Amount:        d.Profit.Decimal,
		UserID:        d.UserID,
		TeamID:        d.TeamID,
		Currency:      d.Currency,
	}, nil
}
