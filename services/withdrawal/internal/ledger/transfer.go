package ledger

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
)

// Leg is one account's part of a transfer: the amount of its entry (zero:
// no entry, only a change of the account's buckets) and the changes to the
// buckets of the balance (docs/api.md#withdrawal-service).
type Leg struct {
	Account        string
	Amount         decimal.Decimal // + credit, − debit
	Credited       decimal.Decimal
	ReallocatedIn  decimal.Decimal
	ReallocatedOut decimal.Decimal
	Held           decimal.Decimal
	Withdrawn      decimal.Decimal
}

// Transfer is one movement of the ledger: its kind, what it refers to and
// its legs, whose amounts sum to zero.
type Transfer struct {
	Kind    string
	RefType string
	RefID   int64
	// AllocationKey is the credited allocation's identity (Credit): set on
	// profit_credit transfers of events that carry one.
	AllocationKey string
	// ReversesKey is the identity of the allocation whose credit a
	// profit_reversal takes back (Reversal), when its event names one.
	ReversesKey string
	Legs        []Leg
}

// Accounts are the accounts of t's legs, in leg order.
func (t Transfer) Accounts() []string {
	out := make([]string, len(t.Legs))
	for i, l := range t.Legs {
		out[i] = l.Account
	}
	return out
}

// Currency is the currency of t's legs: that of its first leg's account.
func (t Transfer) Currency() string {
	if len(t.Legs) == 0 {
		return ""
	}
	_, c := AccountCurrency(t.Legs[0].Account)
	return c
}

// Check refuses a transfer whose legs are in different currencies
// (ErrCurrencyMismatch: the last guard, whatever built the transfer) or do
// not sum to zero.
func (t Transfer) Check() error {
	sum := decimal.Zero
	for _, l := range t.Legs {
		if _, c := AccountCurrency(l.Account); c != t.Currency() {
			return fmt.Errorf("ledger: %s transfer for %s %d moves %s and %s: %w", t.Kind, t.RefType, t.RefID, t.Currency(), c, ErrCurrencyMismatch)
		}
		sum = sum.Add(l.Amount)
	}
	if !sum.IsZero() {
		return fmt.Errorf("ledger: %s transfer for %s %d sums to %s, not 0", t.Kind, t.RefType, t.RefID, sum)
	}
	return nil
}

// Entries are t's entries when it is posted as transfer id at time at: one
// per leg with a non-zero amount, in leg order, each chained onto its
// account's last hash in heads (nil or absent: the account's first entry),
// which Entries advances to the entry's hash. The hash is Entry.ExpectedHash
// (EntryHash): the only place an entry's hash is computed.
func (t Transfer) Entries(id int64, at time.Time, heads map[string][]byte) []Entry {
	out := make([]Entry, 0, len(t.Legs))
	for _, l := range t.Legs {
		if l.Amount.IsZero() {
			continue
		}
		_, currency := AccountCurrency(l.Account)
		e := Entry{
			TransferID: id, Account: l.Account, Currency: currency, Amount: l.Amount, Kind: t.Kind,
			RefType: t.RefType, RefID: t.RefID, CreatedAt: at, PrevHash: heads[l.Account],
		}
		e.Hash = e.ExpectedHash(e.PrevHash)
		heads[l.Account] = e.Hash
		out = append(out, e)
	}
	return out
}

// Sufficient is the rule of every debit of an owner account: the amount
// must not exceed its available balance (ErrInsufficientBalance).
func Sufficient(available, amount decimal.Decimal) error {
	if amount.GreaterThan(available) {
		return ErrInsufficientBalance
	}
	return nil
}

// HoldTransfer is the withdrawal_hold transfer of withdrawal id: amount
// leaves the available balance of the owner's account in currency (its
// held bucket grows) and waits in its hold account.
func HoldTransfer(id int64, o Owner, currency string, amount decimal.Decimal) Transfer {
	account := OwnerAccount(o, currency)
	return Transfer{Kind: KindWithdrawalHold, RefType: RefWithdrawal, RefID: id, Legs: []Leg{
		{Account: account, Amount: amount.Neg(), Held: amount},
		{Account: HoldAccount(account), Amount: amount},
	}}
}

// ReleaseTransfer is the withdrawal_release transfer of a failed (or
// cancelled) withdrawal: its amount goes back from the hold account to the
// owner account, whose held bucket shrinks.
func ReleaseTransfer(w Withdrawal) Transfer {
	account, a := OwnerAccount(w.Owner, w.Currency), w.Amount
	return Transfer{Kind: KindWithdrawalRelease, RefType: RefWithdrawal, RefID: w.ID, Legs: []Leg{
		{Account: account, Amount: a, Held: a.Neg()},
		{Account: HoldAccount(account), Amount: a.Neg()},
	}}
}

// PayoutTransfer is the withdrawal_payout transfer of a completed
// withdrawal: its amount goes from the hold account to system:payout, and
// the owner account's held bucket moves to withdrawn (no entry of its own).
func PayoutTransfer(w Withdrawal) Transfer {
	account, a := OwnerAccount(w.Owner, w.Currency), w.Amount
	return Transfer{Kind: KindWithdrawalPayout, RefType: RefWithdrawal, RefID: w.ID, Legs: []Leg{
		{Account: account, Held: a.Neg(), Withdrawn: a},
		{Account: HoldAccount(account), Amount: a.Neg()},
		{Account: PayoutAccount(w.Currency), Amount: a},
	}}
}

// ReallocationTransfer is the reallocation transfer of reallocation id:
// amount goes from one owner's account in currency to another's
// (reallocated_out of the source, reallocated_in of the destination).
func ReallocationTransfer(id int64, from, to Owner, currency string, amount decimal.Decimal) Transfer {
	return Transfer{Kind: KindReallocation, RefType: RefReallocation, RefID: id, Legs: []Leg{
		{Account: OwnerAccount(from, currency), Amount: amount.Neg(), ReallocatedOut: amount},
		{Account: OwnerAccount(to, currency), Amount: amount, ReallocatedIn: amount},
	}}
}

// CheckCredit is the rule of a profit.allocated event's credit
// (docs/api.md#withdrawal-service, events consumed): positive user and
// team ids, non-negative shares that sum to a positive distributable
// amount, and a currency. A credit that breaks it is ErrInvalidCredit: no retry cures it.
func CheckCredit(c Credit) error {
	if !c.ToUser.Add(c.ToTeam).Add(c.ToPlatform).Equal(c.Distributable) || !c.Distributable.IsPositive() ||
		c.ToUser.IsNegative() || c.ToTeam.IsNegative() || c.ToPlatform.IsNegative() {
		return fmt.Errorf("allocation %d: shares do not sum to a positive distributable amount: %w", c.AllocationID, ErrInvalidCredit)
	}
	if c.UserID <= 0 || c.TeamID <= 0 {
		return fmt.Errorf("allocation %d: user and team ids must be positive: %w", c.AllocationID, ErrInvalidCredit)
	}
	if !ValidCurrency(c.Currency) {
		return fmt.Errorf("allocation %d: currency %q is not three upper-case letters: %w", c.AllocationID, c.Currency, ErrInvalidCredit)
	}
	if c.AllocationKey != "" {
		if _, err := uuid.Parse(c.AllocationKey); err != nil {
			return fmt.Errorf("allocation %d: allocation_key %q is not a UUID: %w", c.AllocationID, c.AllocationKey, ErrInvalidCredit)
		}
	}
	return nil
}

// CreditTransfer is the profit_credit transfer of one profit.allocated
// event (docs/api.md#events), in its currency: system:profit is debited
// the distributable amount and the user, team and platform accounts
// credited their positive shares, in that order. A credit that breaks
// CheckCredit is refused.
func CreditTransfer(c Credit) (Transfer, error) {
	if err := CheckCredit(c); err != nil {
		return Transfer{}, err
	}
	legs := []Leg{{Account: ProfitAccount(c.Currency), Amount: c.Distributable.Neg()}}
	for _, share := range []struct {
		account string
		amount  decimal.Decimal
	}{
		{OwnerAccount(Owner{Type: auth.OwnerUser, ID: c.UserID}, c.Currency), c.ToUser},
		{OwnerAccount(Owner{Type: auth.OwnerTeam, ID: c.TeamID}, c.Currency), c.ToTeam},
		{AccountIn(AccountPlatform, c.Currency), c.ToPlatform},
	} {
		if share.amount.IsPositive() {
			legs = append(legs, Leg{Account: share.account, Amount: share.amount, Credited: share.amount})
		}
	}
	return Transfer{Kind: KindProfitCredit, RefType: RefAllocation, RefID: c.AllocationID, AllocationKey: c.AllocationKey, Legs: legs}, nil
}
