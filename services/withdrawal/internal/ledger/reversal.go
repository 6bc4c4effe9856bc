package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
)

// KindProfitReversal is the entry kind of a reversed credit
// (docs/api.md#nav-corrections).
const KindProfitReversal = "profit_reversal"

// Statuses of a parked reversal.
const (
	ReversalParked  = "parked"
	ReversalApplied = "applied"
)

// Reversal is what one profit.allocation_reversed event takes back: the
// credit of allocation AllocationID (Credit's amounts), because of NAV
// correction CorrectionID.
type Reversal struct {
	Credit
	ReversalID   int64
	CorrectionID int64
}

// ParkedReversal is a reversal the ledger could not post when it arrived
// because an owner's available balance did not cover its share (the profit
// was already withdrawn or moved): it waits for an admin
// (docs/api.md#nav-corrections).
type ParkedReversal struct {
	ID int64
	Reversal
	Status    string
	CreatedAt time.Time
	AppliedAt *time.Time
	AppliedBy *int64
}

// ParkedFilter narrows ListParked.
type ParkedFilter struct {
	Status   string
	Currency string
}

// ErrNotParked is an apply of a parked reversal already applied.
var ErrNotParked = errors.New("the reversal is not parked")

// ReversalTransfer is the profit_reversal transfer of r: the exact mirror
// of its allocation's CreditTransfer (each owner account debited the share
// it was credited, its credited bucket lowered by as much, and
// system:profit credited the distributable amount back).
func ReversalTransfer(r Reversal) (Transfer, error) {
	t, err := CreditTransfer(r.Credit)
	if err != nil {
		return Transfer{}, err
	}
	t.Kind = KindProfitReversal
	// The identity is the credit's; the reversal's transfer names it as the
	// one it reverses (each credit is reversed once, whatever allocation
	// id a restored profit service gave it).
	t.AllocationKey, t.ReversesKey = "", r.AllocationKey
	for i, l := range t.Legs {
		t.Legs[i] = Leg{Account: l.Account, Amount: l.Amount.Neg(), Credited: l.Credited.Neg()}
	}
	return t, nil
}

// Covered reports whether every owner account t debits has the available
// balance (available, by account) to cover it: ErrInsufficientBalance
// (Sufficient) otherwise. A reversal that is not covered is parked, never
// posted below zero.
func Covered(available map[string]decimal.Decimal, t Transfer) error {
	for _, l := range t.Legs {
		if _, _, owner := ParseAccount(l.Account); owner && l.Amount.IsNegative() {
			if err := Sufficient(available[l.Account], l.Amount.Neg()); err != nil {
				return fmt.Errorf("%s: %w", l.Account, err)
			}
		}
	}
	return nil
}

// ReversalStore posts or parks reversals in a transaction its caller
// holds (the inbox consumer's).
type ReversalStore interface {
	// Reverse posts r's ReversalTransfer when Covered, parks it
	// otherwise; a reversal already posted or parked changes nothing.
	Reverse(ctx context.Context, r Reversal) error
}

// ApplyReversal is the consumer's service for one profit.allocation_reversed
// event: a reversal of an allocation that credited nothing (distributable
// 0) has nothing to take back; any other must be a valid credit
// (CheckCredit, ErrInvalidCredit otherwise).
func ApplyReversal(ctx context.Context, st ReversalStore, r Reversal) error {
	if r.Distributable.IsZero() {
		return nil
	}
	if err := CheckCredit(r.Credit); err != nil {
		return err
	}
	return st.Reverse(ctx, r)
}

// ParkedStore is what the admin routes of parked reversals need.
type ParkedStore interface {
	ListParked(ctx context.Context, f ParkedFilter, p httpx.Pagination) ([]ParkedReversal, int64, error)
	Parked(ctx context.Context, id int64) (ParkedReversal, error)
	// ApplyParked posts a parked reversal now that it is Covered
	// (ErrInsufficientBalance otherwise, ErrNotParked when applied).
	ApplyParked(ctx context.Context, id, by int64) (ParkedReversal, error)
}

// ListParked lists parked reversals (admin, viewer).
func (s *service) ListParked(ctx context.Context, c Caller, f ParkedFilter, pg httpx.Pagination) ([]ParkedReversal, int64, error) {
	if !readsAll(c) {
		return nil, 0, ErrForbidden
	}
	if f.Status != "" && f.Status != ReversalParked && f.Status != ReversalApplied {
		return nil, 0, httpx.Invalid("status", "must be parked or applied")
	}
	if err := currencyField("currency", f.Currency, true); err != nil {
		return nil, 0, err
	}
	return s.store.ListParked(ctx, f, pg)
}

// ApplyParked applies parked reversal id (admin).
func (s *service) ApplyParked(ctx context.Context, c Caller, id int64) (ParkedReversal, error) {
	if c.Role != auth.RoleAdmin {
		return ParkedReversal{}, ErrForbidden
	}
	// An unknown id is refused before the operation starts (nothing
	// stored under an Idempotency-Key).
	if _, err := s.store.Parked(ctx, id); err != nil {
		return ParkedReversal{}, err
	}
	return s.store.ApplyParked(ctx, id, c.UserID)
}
