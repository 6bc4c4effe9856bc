package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
)

// Recovered counts what Recover re-derived.
type Recovered struct {
	Portfolios, Updates, Snapshots, Corrections int
	// Skipped are profit_recorded events whose snapshot could not be put
	// back: its portfolio has no earlier snapshot (its baseline was lost
	// too, so its next NAV is a baseline again) or a later one.
	Skipped int
}

// Add adds o to r.
func (r *Recovered) Add(o Recovered) {
	r.Portfolios, r.Updates, r.Snapshots, r.Skipped = r.Portfolios+o.Portfolios, r.Updates+o.Updates, r.Snapshots+o.Snapshots, r.Skipped+o.Skipped
	r.Corrections += o.Corrections
}

// RecoveryPosition is the next offset of partition of the service's topic
// that recovery has not read; 0 when it never read it.
func (s *Store) RecoveryPosition(ctx context.Context, partition int) (int64, error) {
	var next int64
	err := s.Pool.QueryRow(ctx, `SELECT COALESCE(max(next_offset), 0) FROM recovery_positions WHERE topic_partition = $1`,
		partition).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("store: recovery position of partition %d: %w", partition, err)
	}
	return next, nil
}

// Recover re-derives, in one transaction, what the events of one partition
// of the service's own topic say and the database does not hold — what a
// restore of it lost — and stores next as the partition's position. It
// publishes nothing (the events are out already) and changes nothing the
// database holds newer:
//
//   - portfolio.created: the portfolio, with its id, if missing (its
//     description, not in the event, is empty);
//   - portfolio.updated: its name and owners, unless the row was changed
//     after the event;
//   - portfolio.profit_recorded: the snapshot, with its id and figures,
//     chained to the portfolio's latest earlier snapshot, if missing — so
//     the next NAV's profit starts from it and does not span a period
//     already paid. Units and NAV per unit are not in the event (null);
//   - portfolio.nav_corrected: the correction of a snapshot the database
//     holds and has not corrected so, with its id (its author, not in the
//     event, 0), and the snapshot's corrected values — so the next NAV's
//     profit starts from the corrected NAV, as the allocations do.
//
// Other replicas may be serving meanwhile: everything it inserts is keyed
// by ids the service handed out before, and the identity sequences are
// moved past them (recoverSequences).
func (s *Store) Recover(ctx context.Context, partition int, events []eventbus.Envelope, next int64) (Recovered, error) {
	var r Recovered
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		r = Recovered{}
		for _, e := range events {
			if err := recoverEvent(ctx, tx, e, &r); err != nil {
				return fmt.Errorf("event %s (%s): %w", e.ID, e.Type, err)
			}
		}
		if err := recoverSequences(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO recovery_positions (topic_partition, next_offset) VALUES ($1, $2)
			ON CONFLICT (topic_partition) DO UPDATE SET next_offset = GREATEST(recovery_positions.next_offset, EXCLUDED.next_offset)`,
			partition, next)
		return err
	})
	if err != nil {
		return Recovered{}, fmt.Errorf("store: recovering partition %d: %w", partition, err)
	}
	return r, nil
}

func recoverEvent(ctx context.Context, tx pgx.Tx, e eventbus.Envelope, r *Recovered) error {
	switch e.Type {
	case eventbus.TypePortfolioCreated, eventbus.TypePortfolioUpdated:
		var d eventbus.PortfolioData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		return recoverPortfolio(ctx, tx, e.Type == eventbus.TypePortfolioCreated, d, e.Time.UTC(), r)
	case eventbus.TypePortfolioProfitRecorded:
		var d eventbus.ProfitRecordedData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		return recoverSnapshot(ctx, tx, d, e.Time.UTC(), r)
	case eventbus.TypePortfolioNAVCorrected:
		var d eventbus.NAVCorrectedData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		return recoverCorrection(ctx, tx, d, e.Time.UTC(), r)
	}
	return nil
}

// recoverCorrection applies correction d to its snapshot unless the
// database holds the correction, lacks the snapshot, or holds a later one
// (which no correction of it could precede).
func recoverCorrection(ctx context.Context, tx pgx.Tx, d eventbus.NAVCorrectedData, at time.Time, r *Recovered) error {
	var units, perUnit, ret *string
	var nav, netFlow, profit string
	var prevAsOf *time.Time
	var latest, done bool
	err := tx.QueryRow(ctx, `SELECT s.nav::text, s.net_flow::text, s.units::text, s.nav_per_unit::text, s.profit::text, s.return_::text,
		    (SELECT as_of FROM nav_snapshots WHERE id = s.prev_snapshot_id),
		    NOT EXISTS (SELECT 1 FROM nav_snapshots l WHERE l.portfolio_id = s.portfolio_id AND l.as_of > s.as_of),
		    EXISTS (SELECT 1 FROM nav_corrections WHERE id = $2)
		FROM nav_snapshots s WHERE s.id = $1 FOR UPDATE`, d.SnapshotID, d.CorrectionID).
		Scan(&nav, &netFlow, &units, &perUnit, &profit, &ret, &prevAsOf, &latest, &done)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (done || !latest || prevAsOf == nil)) {
		if err == nil && !done {
			r.Skipped++
		}
		return nil
	}
	if err != nil {
		return err
	}
	v, err := portfolio.Valuate(&portfolio.Snapshot{AsOf: *prevAsOf, NAV: d.PrevNAV},
		portfolio.NAVInput{AsOf: d.AsOf, NAV: d.NAV.Decimal, NetFlow: d.NetFlow.Decimal})
	if err != nil {
		return err
	}
	var newRet *string
	if v.PeriodReturn != nil {
		s := money.NewAmount(*v.PeriodReturn).String()
		newRet = &s
	}
	if _, err := tx.Exec(ctx, `INSERT INTO nav_corrections (id, portfolio_id, snapshot_id, old_nav, old_net_flow, old_units,
			old_nav_per_unit, old_profit, old_return, new_nav, new_net_flow, new_units, new_profit, corrected_by, created_at)
		OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6::numeric, $7::numeric, $8::numeric, $9::numeric,
			$10::text::numeric, $11::text::numeric, NULL, $12::text::numeric, 0, $13)`,
		d.CorrectionID, d.PortfolioID, d.SnapshotID, nav, netFlow, units, perUnit, profit, ret,
		d.NAV.String(), d.NetFlow.String(), d.Profit.String(), at); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE nav_snapshots SET nav = $2::text::numeric, net_flow = $3::text::numeric, units = NULL,
			nav_per_unit = NULL, profit = $4::text::numeric, return_ = $5::text::numeric WHERE id = $1`,
		d.SnapshotID, d.NAV.String(), d.NetFlow.String(), d.Profit.String(), newRet)
	if err == nil {
		r.Corrections++
	}
	return err
}

func recoverPortfolio(ctx context.Context, tx pgx.Tx, created bool, d eventbus.PortfolioData, at time.Time, r *Recovered) error {
	tag, err := tx.Exec(ctx, `INSERT INTO portfolios (id, name, description, user_id, team_id, currency, created_at, updated_at)
		OVERRIDING SYSTEM VALUE VALUES ($1, $2, '', $3, $4, $5, $6, $6)
		ON CONFLICT (id) DO NOTHING`, d.PortfolioID, d.Name, d.UserID, d.TeamID, eventbus.CurrencyOf(d.Currency), at)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		r.Portfolios++
		return nil
	}
	if created {
		return nil
	}
	tag, err = tx.Exec(ctx, `UPDATE portfolios SET name = $2, user_id = $3, team_id = $4, updated_at = $5
		WHERE id = $1 AND updated_at < $5 AND (name, user_id, team_id) IS DISTINCT FROM ($2, $3, $4)`,
		d.PortfolioID, d.Name, d.UserID, d.TeamID, at)
	if err == nil && tag.RowsAffected() == 1 {
		r.Updates++
	}
	return err
}

func recoverSnapshot(ctx context.Context, tx pgx.Tx, d eventbus.ProfitRecordedData, at time.Time, r *Recovered) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM nav_snapshots WHERE id = $1)`, d.SnapshotID).Scan(&exists); err != nil || exists {
		return err
	}
	// The portfolio's row lock serialises this with a NAV being recorded.
	var prevID *int64
	var prevAsOf *time.Time
	var later bool
	err := tx.QueryRow(ctx, `SELECT
		    (SELECT id FROM nav_snapshots WHERE portfolio_id = p.id AND as_of < $2 ORDER BY as_of DESC LIMIT 1),
		    (SELECT max(as_of) FROM nav_snapshots WHERE portfolio_id = p.id AND as_of < $2),
		    EXISTS (SELECT 1 FROM nav_snapshots WHERE portfolio_id = p.id AND as_of >= $2)
		FROM portfolios p WHERE p.id = $1 FOR UPDATE`, d.PortfolioID, d.AsOf).Scan(&prevID, &prevAsOf, &later)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (prevID == nil || later)) {
		r.Skipped++
		return nil
	}
	if err != nil {
		return err
	}
	v, err := portfolio.Valuate(&portfolio.Snapshot{AsOf: *prevAsOf, NAV: d.PrevNAV},
		portfolio.NAVInput{AsOf: d.AsOf, NAV: d.NAV.Decimal, NetFlow: d.NetFlow.Decimal})
	if err != nil {
		return err
	}
	var ret *string
	if v.PeriodReturn != nil {
		s := money.NewAmount(*v.PeriodReturn).String()
		ret = &s
	}
	// DO NOTHING: another replica starting at the same time may have put
	// it back since the check above.
	tag, err := tx.Exec(ctx, `INSERT INTO nav_snapshots (id, portfolio_id, as_of, nav, net_flow, profit, return_,
			prev_snapshot_id, user_id, team_id, created_at)
		OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4::text::numeric, $5::text::numeric, $6::text::numeric, $7::text::numeric,
			$8, $9, $10, $11)
		ON CONFLICT DO NOTHING`,
		d.SnapshotID, d.PortfolioID, d.AsOf, d.NAV.String(), d.NetFlow.String(), d.Profit.String(), ret,
		*prevID, d.UserID, d.TeamID, at)
	if err == nil && tag.RowsAffected() == 1 {
		r.Snapshots++
	}
	return err
}

// recoverSequences moves the identity sequences past the ids recovery
// inserted, so that no new portfolio or snapshot takes one of them.
func recoverSequences(ctx context.Context, tx pgx.Tx) error {
	for _, table := range []string{"portfolios", "nav_snapshots", "nav_corrections"} {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), max(id))
			FROM %[1]s HAVING max(id) > (SELECT last_value FROM %[2]s)`, table, table+"_id_seq")); err != nil {
			return fmt.Errorf("moving the %s sequence: %w", table, err)
		}
	}
	return nil
}
