package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// correctionColumns are the NAV correction columns of an allocation
// (allocationColumns): the allocation it replaces, the correction that made
// it and the one that reversed it.
const correctionColumns = `a.corrects, a.correction_id,
	(SELECT r.correction_id FROM allocation_reversals r WHERE r.allocation_id = a.id)`

// standing keeps the allocations (alias a) that no correction reversed.
const standing = `NOT EXISTS (SELECT 1 FROM allocation_reversals r WHERE r.allocation_id = a.id)`

// ApplyNAVCorrection applies a portfolio.nav_corrected event in tx (the
// consumer's transaction), under the portfolio's row lock
// (docs/api.md#nav-corrections): the standing allocations from the
// snapshot's on are reversed, each with its profit.allocation_reversed,
// and their replacements (profit.Correct) are written with their events;
// the portfolio's carry-forward becomes the one after them. A correction
// already applied changes nothing.
func (s *Store) ApplyNAVCorrection(ctx context.Context, tx pgx.Tx, c profit.NAVCorrection) error {
	p, err := lockPortfolio(ctx, tx, c.PortfolioID)
	if err != nil {
		return fmt.Errorf("store: NAV correction %d: %w", c.CorrectionID, err)
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM allocations WHERE correction_id = $1 AND portfolio_id = $2)
		OR EXISTS (SELECT 1 FROM allocation_reversals WHERE correction_id = $1 AND portfolio_id = $2)`,
		c.CorrectionID, c.PortfolioID).Scan(&done); err != nil || done {
		return err
	}
	chain, awaiting, err := correctionChain(ctx, tx, c)
	if err != nil {
		return err
	}
	ratios, err := ratioVersions(ctx, tx, c.PortfolioID)
	if err != nil {
		return err
	}
	redo, l := profit.Correct(ledger(p, ratios, awaiting), chain, c)
	// Latest first: the carry-forward a consumer tracks ends at the one
	// the first reversed allocation started from (AllocationReversedData).
	for i := len(chain) - 1; i >= 0; i-- {
		if err := reverse(ctx, tx, chain[i], c); err != nil {
			return err
		}
	}
	for _, a := range redo {
		if err := writeReplacement(ctx, tx, a); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE portfolios SET loss_carryforward = $2, updated_at = now() WHERE portfolio_id = $1`,
		p.ID, l.LossCarryforward.String()); err != nil {
		return fmt.Errorf("store: updating portfolio %d: %w", p.ID, err)
	}
	return nil
}

// correctionChain reads the standing allocations a correction replaces
// (profit.Correct): the snapshot's own, if it has one, and every later
// one, in period_end then id order; and whether a standing allocation
// before them waits for a ratio.
func correctionChain(ctx context.Context, tx pgx.Tx, c profit.NAVCorrection) ([]profit.Allocation, bool, error) {
	rows, err := tx.Query(ctx, `
		WITH own AS (SELECT a.period_end, a.id FROM allocations a
			WHERE a.portfolio_id = $1 AND (a.snapshot_id = $2 OR a.snapshot_of = $2) AND `+standing+`)
		SELECT `+allocationColumns+` FROM allocations a
		WHERE a.portfolio_id = $1 AND `+standing+` AND CASE
			WHEN EXISTS (SELECT 1 FROM own) THEN (a.period_end, a.id) >= (SELECT o.period_end, o.id FROM own o)
			ELSE a.period_end > $3 END
		ORDER BY a.period_end, a.id`, c.PortfolioID, c.SnapshotID, c.PeriodEnd)
	if err != nil {
		return nil, false, fmt.Errorf("store: reading the allocations NAV correction %d replaces: %w", c.CorrectionID, err)
	}
	chain, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (profit.Allocation, error) { return scanAllocation(r) })
	if err != nil {
		return nil, false, fmt.Errorf("store: reading the allocations NAV correction %d replaces: %w", c.CorrectionID, err)
	}
	ids := make([]int64, len(chain))
	for i, a := range chain {
		ids[i] = a.ID
	}
	var awaiting bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM allocations a WHERE a.portfolio_id = $1 AND a.status = 'awaiting_ratio'
		AND `+standing+` AND NOT a.id = ANY($2))`, c.PortfolioID, ids).Scan(&awaiting)
	if err != nil {
		return nil, false, fmt.Errorf("store: reading the waiting profits: %w", err)
	}
	return chain, awaiting, nil
}

// reverse records the reversal of a and its profit.allocation_reversed.
func reverse(ctx context.Context, tx pgx.Tx, a profit.Allocation, c profit.NAVCorrection) error {
	r := profit.Reversal{CorrectionID: c.CorrectionID, Allocation: a}
	if err := tx.QueryRow(ctx, `INSERT INTO allocation_reversals (allocation_id, portfolio_id, correction_id, source_event_id)
		VALUES ($1, $2, $3, $4) RETURNING id`, a.ID, a.PortfolioID, c.CorrectionID, c.SourceEventID).Scan(&r.ID); err != nil {
		return fmt.Errorf("store: reversing allocation %d: %w", a.ID, err)
	}
	return addEvents(ctx, tx, profit.ReversedEvents(r))
}

// writeReplacement inserts a folded replacement (source correction) and
// adds its events (profit.AllocatedEvents) to the outbox.
func writeReplacement(ctx context.Context, tx pgx.Tx, a profit.Allocation) error {
	out, err := scanAllocation(tx.QueryRow(ctx, `
		WITH a AS (
			INSERT INTO allocations (portfolio_id, source, snapshot_of, corrects, correction_id, period_end, profit_amount,
				loss_carryforward_before, loss_carryforward_after, distributable, ratio_id, ratio_version,
				to_team_amount, to_platform_amount, to_user_amount, user_id, team_id, status, allocated_at, currency, allocation_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
				CASE WHEN $18 = 'awaiting_ratio' THEN NULL ELSE now() END, $19, NULLIF($20, '')::uuid)
			RETURNING *)
		SELECT `+allocationColumns+` FROM a`,
		a.PortfolioID, a.Source, a.SnapshotID, a.Corrects, a.CorrectionID, a.PeriodEnd, a.ProfitAmount.String(),
		a.LossCarryforwardBefore.String(), a.LossCarryforwardAfter.String(), a.Distributable.String(), a.RatioID, a.RatioVersion,
		a.ToTeam.String(), a.ToPlatform.String(), a.ToUser.String(), a.UserID, a.TeamID, a.Status, a.Currency, a.Key))
	if err != nil {
		return fmt.Errorf("store: writing the replacement of allocation %v: %w", a.Corrects, err)
	}
	return publishAllocated(ctx, tx, out)
}
