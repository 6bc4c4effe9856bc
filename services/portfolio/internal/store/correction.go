package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
)

// CorrectNAV implements portfolio.Store. The portfolio's row lock orders
// the correction with the NAV recordings: the snapshot read as the latest
// stays the latest until the correction commits.
func (s *Store) CorrectNAV(ctx context.Context, portfolioID, snapshotID int64, fn func(portfolio.Snapshot, *portfolio.Snapshot) (portfolio.Correction, error), emit func(portfolio.Correction) []portfolio.Event) (portfolio.Correction, error) {
	idempotency.Started(ctx)
	var out portfolio.Correction
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		p, old, prev, err := lockForCorrection(ctx, tx, portfolioID, snapshotID)
		if err != nil {
			return err
		}
		c, err := fn(old, prev)
		if err != nil {
			return err // the service's decision (portfolio's errors)
		}
		n := c.New
		if err := tx.QueryRow(ctx, `
			INSERT INTO nav_corrections (portfolio_id, snapshot_id, old_nav, old_net_flow, old_units, old_nav_per_unit,
				old_profit, old_return, new_nav, new_net_flow, new_units, new_profit, corrected_by, created_at)
			VALUES ($1, $2, $3::text::numeric, $4::text::numeric, $5::text::numeric, $6::text::numeric, $7::text::numeric,
				$8::text::numeric, $9::text::numeric, $10::text::numeric, $11::text::numeric, $12::text::numeric, $13, $14)
			RETURNING id`,
			portfolioID, snapshotID, old.NAV.Decimal.String(), old.NetFlow.Decimal.String(), decimalOrNil(old.Units),
			decimalOrNil(old.NAVPerUnit), old.Profit.Decimal.String(), decimalOrNil(old.PeriodReturn),
			n.NAV.Decimal.String(), n.NetFlow.Decimal.String(), decimalOrNil(n.Units), n.Profit.Decimal.String(),
			c.CreatedBy, c.CreatedAt).Scan(&c.ID); err != nil {
			return fmt.Errorf("insert correction: %w", err)
		}
		c.New, err = scanSnapshot(tx.QueryRow(ctx, `
			UPDATE nav_snapshots SET nav = $2::text::numeric, net_flow = $3::text::numeric, units = $4::text::numeric,
				nav_per_unit = $5::text::numeric, profit = $6::text::numeric, return_ = $7::text::numeric
			WHERE id = $1 RETURNING `+snapshotColumns,
			snapshotID, n.NAV.Decimal.String(), n.NetFlow.Decimal.String(), decimalOrNil(n.Units),
			decimalOrNil(n.NAVPerUnit), n.Profit.Decimal.String(), decimalOrNil(n.PeriodReturn)))
		if err != nil {
			return fmt.Errorf("correct snapshot: %w", err)
		}
		c.Old.Currency, c.New.Currency = p.Currency, p.Currency
		out = c
		return addEvents(ctx, tx, emit(c))
	})
	if err != nil {
		return portfolio.Correction{}, fmt.Errorf("correct snapshot %d of portfolio %d: %w", snapshotID, portfolioID, err)
	}
	return out, nil
}

// lockForCorrection locks the portfolio and reads, under the lock, the
// snapshot to correct (ErrSnapshotNotFound unless it is the portfolio's),
// whether a later one exists (ErrNAVNotLatest) and the one it follows.
func lockForCorrection(ctx context.Context, tx pgx.Tx, portfolioID, snapshotID int64) (portfolio.Portfolio, portfolio.Snapshot, *portfolio.Snapshot, error) {
	p, err := scanPortfolio(tx.QueryRow(ctx, `SELECT `+portfolioColumns+` FROM portfolios WHERE id = $1 FOR UPDATE`, portfolioID))
	if err != nil {
		return p, portfolio.Snapshot{}, nil, err
	}
	old, err := scanSnapshot(tx.QueryRow(ctx, `SELECT `+snapshotColumns+` FROM nav_snapshots WHERE id = $1 AND portfolio_id = $2`,
		snapshotID, portfolioID))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, old, nil, portfolio.ErrSnapshotNotFound
	}
	if err != nil {
		return p, old, nil, err
	}
	old.Currency = p.Currency
	var later bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM nav_snapshots WHERE portfolio_id = $1 AND as_of > $2)`,
		portfolioID, old.AsOf).Scan(&later); err != nil {
		return p, old, nil, fmt.Errorf("read later snapshots: %w", err)
	}
	if later {
		return p, old, nil, portfolio.ErrNAVNotLatest
	}
	if old.PrevSnapshotID == nil {
		return p, old, nil, nil
	}
	prev, err := scanSnapshot(tx.QueryRow(ctx, `SELECT `+snapshotColumns+` FROM nav_snapshots WHERE id = $1`, *old.PrevSnapshotID))
	if err != nil {
		return p, old, nil, err
	}
	return p, old, &prev, nil
}
