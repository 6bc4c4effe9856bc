package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// ReversalsIn is the store of reversals bound to tx, the inbox consumer's
// transaction (see ledger.ApplyReversal).
func (s *Store) ReversalsIn(tx pgx.Tx) ledger.ReversalStore { return txReversals{tx: tx} }

type txReversals struct{ tx pgx.Tx }

// Reverse implements ledger.ReversalStore: under the locks of its
// accounts, the reversal is posted when its owners' available balances
// cover it (ledger.Covered) and parked otherwise. A reversal already
// posted or parked is passed over: one of the same allocation id, or of
// the same allocation identity (a restored profit service reversing the
// allocation it recorded again, under a new id).
func (t txReversals) Reverse(ctx context.Context, r ledger.Reversal) error {
	tr, err := ledger.ReversalTransfer(r)
	if err != nil {
		return err
	}
	var done bool
	if err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM parked_reversals WHERE allocation_id = $1)
		OR EXISTS (SELECT 1 FROM transfers WHERE kind = $2 AND ref_type = $3 AND ref_id = $1)
		OR EXISTS (SELECT 1 FROM parked_reversals WHERE allocation_key = NULLIF($4, '')::uuid)
		OR EXISTS (SELECT 1 FROM transfers WHERE reverses_key = NULLIF($4, '')::uuid)`,
		r.AllocationID, ledger.KindProfitReversal, ledger.RefAllocation, r.AllocationKey).Scan(&done); err != nil || done {
		return err
	}
	accs, err := lockAccounts(ctx, t.tx, tr.Accounts()...)
	if err != nil {
		return err
	}
	if ledger.Covered(accs.available, tr) == nil {
		_, err := post(ctx, t.tx, accs, tr)
		return err
	}
	status := ledger.ReversalParked
	_, err = t.tx.Exec(ctx, `INSERT INTO parked_reversals (allocation_id, reversal_id, correction_id, currency, distributable,
			to_user, to_team, to_platform, user_id, team_id, status, allocation_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULLIF($12, '')::uuid)`,
		r.AllocationID, r.ReversalID, r.CorrectionID, r.Currency, r.Distributable.String(), r.ToUser.String(),
		r.ToTeam.String(), r.ToPlatform.String(), r.UserID, r.TeamID, status, r.AllocationKey)
	if err != nil {
		return fmt.Errorf("store: park the reversal of allocation %d: %w", r.AllocationID, err)
	}
	return nil
}

const parkedColumns = `id, allocation_id, reversal_id, correction_id, currency, distributable::text, to_user::text,
	to_team::text, to_platform::text, user_id, team_id, status, created_at, applied_at, applied_by,
	COALESCE(allocation_key::text, '')`

func scanParked(row pgx.Row) (ledger.ParkedReversal, error) {
	var p ledger.ParkedReversal
	var amounts [4]string
	err := row.Scan(&p.ID, &p.AllocationID, &p.ReversalID, &p.CorrectionID, &p.Currency, &amounts[0], &amounts[1],
		&amounts[2], &amounts[3], &p.UserID, &p.TeamID, &p.Status, &p.CreatedAt, &p.AppliedAt, &p.AppliedBy, &p.AllocationKey)
	if err = pg.ReadErr(err, ledger.ErrNotFound, "read parked reversal"); err != nil {
		return p, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	if p.AppliedAt != nil {
		at := p.AppliedAt.UTC()
		p.AppliedAt = &at
	}
	for i, dst := range []*decimal.Decimal{&p.Distributable, &p.ToUser, &p.ToTeam, &p.ToPlatform} {
		if *dst, err = parseDecimal(amounts[i]); err != nil {
			return p, fmt.Errorf("parked reversal %d: %w", p.ID, err)
		}
	}
	return p, nil
}

// ListParked implements ledger.Store: newest first.
func (s *Store) ListParked(ctx context.Context, f ledger.ParkedFilter, p httpx.Pagination) ([]ledger.ParkedReversal, int64, error) {
	var q pg.Filter
	if f.Status != "" {
		q.Where("status = " + q.Arg(f.Status))
	}
	if f.Currency != "" {
		q.Where("currency = " + q.Arg(f.Currency))
	}
	return pg.List(ctx, s.Pool, pg.Listing{What: "parked reversals", Columns: parkedColumns, From: "parked_reversals",
		Order: "id DESC"}, &q, p.Limit, p.Offset, scanParked)
}

// Parked implements ledger.Store (ErrNotFound).
func (s *Store) Parked(ctx context.Context, id int64) (ledger.ParkedReversal, error) {
	return scanParked(s.Pool.QueryRow(ctx, `SELECT `+parkedColumns+` FROM parked_reversals WHERE id = $1`, id))
}

// ApplyParked implements ledger.Store: under the parked row's lock and its
// accounts' locks, the reversal is posted if its owners' balances now
// cover it (ErrInsufficientBalance otherwise, nothing changed) and the row
// marked applied (ErrNotParked when it already is).
func (s *Store) ApplyParked(ctx context.Context, id, by int64) (ledger.ParkedReversal, error) {
	idempotency.Started(ctx)
	var out ledger.ParkedReversal
	err := s.tx(ctx, func(tx pgx.Tx) error {
		p, err := scanParked(tx.QueryRow(ctx, `SELECT `+parkedColumns+` FROM parked_reversals WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if p.Status != ledger.ReversalParked {
			return ledger.ErrNotParked
		}
		tr, err := ledger.ReversalTransfer(p.Reversal)
		if err != nil {
			return err
		}
		accs, err := lockAccounts(ctx, tx, tr.Accounts()...)
		if err != nil {
			return err
		}
		if err := ledger.Covered(accs.available, tr); err != nil {
			return err
		}
		if _, err := post(ctx, tx, accs, tr); err != nil {
			return err
		}
		out, err = scanParked(tx.QueryRow(ctx, `UPDATE parked_reversals SET status = $2, applied_at = now(), applied_by = $3
			WHERE id = $1 RETURNING `+parkedColumns, id, ledger.ReversalApplied, by))
		return err
	})
	if err != nil {
		return ledger.ParkedReversal{}, fmt.Errorf("store: apply parked reversal %d: %w", id, err)
	}
	return out, nil
}
