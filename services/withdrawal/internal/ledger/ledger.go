// Package ledger is the withdrawal service's domain
// (docs/api.md#withdrawal-service): the double-entry ledger of balances,
// withdrawals and reallocations. Every movement is one transfer whose entries
// (postings) sum to zero. The package makes every money decision, as pure
// functions: the access rules, the legs of each transfer (HoldTransfer,
// ReleaseTransfer, PayoutTransfer, ReallocationTransfer, CreditTransfer),
// whether a debit may happen (Sufficient), the withdrawal state machine
// (Next), the entry hash of the tamper-evident chain (EntryHash, chained by
// Transfer.Entries) and the data of the events the service publishes. It
// also holds the Service interface and the consumer's service
// (ApplyCredits). It does no I/O: the store locks, reads, asks the domain
// and writes.
//
// # Accounts
//
// Owner accounts are "user:{id}", "team:{id}" and "platform"; the system
// accounts are "system:profit" (the source of allocated profit, so its
// balance is minus everything ever credited) and "system:payout" (the
// destination of completed withdrawals).
//
// # How a hold is represented
//
// A pending withdrawal's amount leaves the owner account's available
// balance and waits in the owner's hold account "held:{account}" (e.g.
// "held:user:7"), so every transfer sums to zero:
//
//	withdrawal_hold     account −amount, held:account +amount
//	withdrawal_release  held:account −amount, account +amount   (fail, cancel)
//	withdrawal_payout   held:account −amount, system:payout +amount (complete)
//
// The sum of an owner account's postings is therefore always its available
// balance, and the sum of its hold account's postings is its held amount.
// The account row also keeps the buckets of a balance in
// docs/api.md#withdrawal-service (credited, reallocated_in,
// reallocated_out, held, withdrawn) so a balance is one row read; GET
// …?at= recomputes the same buckets from the postings.
package ledger

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
)

// System accounts and the prefix of hold accounts.
const (
	AccountPlatform = "platform"
	AccountProfit   = "system:profit"
	AccountPayout   = "system:payout"
	HoldPrefix      = "held:"
)

// Entry kinds (docs/api.md#withdrawal-service).
const (
	KindProfitCredit      = "profit_credit"
	KindReallocation      = "reallocation"
	KindWithdrawalHold    = "withdrawal_hold"
	KindWithdrawalRelease = "withdrawal_release"
	KindWithdrawalPayout  = "withdrawal_payout"
)

// Reference types of entries and transfers.
const (
	RefAllocation   = "allocation"
	RefWithdrawal   = "withdrawal"
	RefReallocation = "reallocation"
)

// Withdrawal statuses.
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// ReasonCancelled is the reason of a withdrawal its owner cancelled.
const ReasonCancelled = "cancelled"

// Owner names an owner account: a user, a team or the platform (ID 0).
type Owner struct {
	Type string
	ID   int64
}

// Account is the ledger account name of the owner.
func (o Owner) Account() string {
	if o.Type == auth.OwnerPlatform {
		return AccountPlatform
	}
	return o.Type + ":" + strconv.FormatInt(o.ID, 10)
}

// Valid reports whether o names an owner account: a user or team with a
// positive id, or the platform with id 0.
func (o Owner) Valid() bool {
	switch o.Type {
	case auth.OwnerUser, auth.OwnerTeam:
		return o.ID > 0
	case auth.OwnerPlatform:
		return o.ID == 0
	}
	return false
}

// HoldAccount is the account where a pending withdrawal of account waits.
func HoldAccount(account string) string { return HoldPrefix + account }

// ParseAccount is the owner of an owner account name (false for system and
// hold accounts).
func ParseAccount(account string) (Owner, bool) {
	if account == AccountPlatform {
		return Owner{Type: auth.OwnerPlatform}, true
	}
	typ, id, ok := strings.Cut(account, ":")
	if !ok || (typ != auth.OwnerUser && typ != auth.OwnerTeam) {
		return Owner{}, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		return Owner{}, false
	}
	return Owner{Type: typ, ID: n}, true
}

// Caller is the authenticated principal of a request; its CanReadAccount
// is the rule "as balances read" (docs/api.md#withdrawal-service).
type Caller = auth.Caller

// Balance is an owner account's buckets (docs/api.md#withdrawal-service,
// balances). Available = Credited + ReallocatedIn − ReallocatedOut − Held
// − Withdrawn, never below zero.
type Balance struct {
	Owner          Owner
	Credited       decimal.Decimal
	ReallocatedIn  decimal.Decimal
	ReallocatedOut decimal.Decimal
	Held           decimal.Decimal
	Withdrawn      decimal.Decimal
	Available      decimal.Decimal
}

// Withdrawal is a request to pay out of an owner account.
type Withdrawal struct {
	ID          int64
	Owner       Owner
	Amount      decimal.Decimal
	Status      string
	Reason      *string
	RequestedBy int64
	CreatedAt   time.Time
	CompletedAt *time.Time
}

// Reallocation is a movement of funds between two owner accounts.
type Reallocation struct {
	ID        int64
	From, To  Owner
	Amount    decimal.Decimal
	Reason    string
	CreatedBy int64
	CreatedAt time.Time
}

// Entry is one immutable posting.
type Entry struct {
	ID         int64
	TransferID int64
	Account    string
	Amount     decimal.Decimal // + credit, − debit
	Kind       string
	RefType    string
	RefID      int64
	CreatedAt  time.Time
	PrevHash   []byte
	Hash       []byte
}

// Verification is the outcome of recomputing every account's hash chain.
type Verification struct {
	OK              bool
	Accounts        int64
	Entries         int64
	FirstBadEntryID *int64
}

// Credit is what one profit.allocated event credits.
type Credit struct {
	AllocationID  int64
	Distributable decimal.Decimal
	ToUser        decimal.Decimal
	ToTeam        decimal.Decimal
	ToPlatform    decimal.Decimal
	UserID        int64
	TeamID        int64
}

// Inputs.
type (
	// NewWithdrawal is the body of POST /withdrawals.
	NewWithdrawal struct {
		Owner  Owner
		Amount decimal.Decimal
	}
	// NewReallocation is the body of POST /reallocations.
	NewReallocation struct {
		From, To Owner
		Amount   decimal.Decimal
		Reason   string
	}
	// Transition is a change of a pending withdrawal's status.
	Transition struct {
		WithdrawalID int64
		To           string  // StatusCompleted or StatusFailed
		Reason       *string // for StatusFailed
	}
)

// Filters.
type (
	// BalanceFilter narrows ListBalances.
	BalanceFilter struct {
		OwnerType string
		// ReadableBy, when set, keeps only the accounts this user may read.
		ReadableBy *Caller
	}
	// WithdrawalFilter narrows ListWithdrawals; From <= created_at < To.
	WithdrawalFilter struct {
		Status     string
		FromType   string
		OwnerID    *int64
		From, To   *time.Time
		ReadableBy *Caller
	}
	// ReallocationFilter narrows ListReallocations; From <= created_at < To.
	ReallocationFilter struct {
		FromType, ToType string
		From, To         *time.Time
	}
	// EntryFilter narrows ListEntries; From <= created_at < To.
	EntryFilter struct {
		Account  string
		From, To *time.Time
	}
)

// Errors of the domain; the transport maps each to a status and code.
var (
	ErrForbidden              = errors.New("not allowed")
	ErrNotFound               = errors.New("not found")
	ErrInsufficientBalance    = errors.New("amount exceeds the available balance")
	ErrInvalidStateTransition = errors.New("the withdrawal is not pending")
	// ErrInvalidCredit is a profit.allocated credit that breaks CheckCredit.
	ErrInvalidCredit = errors.New("invalid credit")
)

// Service is what the withdrawal service does for its API callers
// (docs/api.md#withdrawal-service).
type Service interface {
	ListBalances(ctx context.Context, c Caller, f BalanceFilter, p httpx.Pagination) ([]Balance, int64, error)
	// Balance is the owner's balance now, or as at *at.
	Balance(ctx context.Context, c Caller, o Owner, at *time.Time) (Balance, error)

	RequestWithdrawal(ctx context.Context, c Caller, in NewWithdrawal) (Withdrawal, error)
	ListWithdrawals(ctx context.Context, c Caller, f WithdrawalFilter, p httpx.Pagination) ([]Withdrawal, int64, error)
	Withdrawal(ctx context.Context, c Caller, id int64) (Withdrawal, error)
	CompleteWithdrawal(ctx context.Context, c Caller, id int64) (Withdrawal, error)
	FailWithdrawal(ctx context.Context, c Caller, id int64, reason string) (Withdrawal, error)
	CancelWithdrawal(ctx context.Context, c Caller, id int64) (Withdrawal, error)

	Reallocate(ctx context.Context, c Caller, in NewReallocation) (Reallocation, error)
	ListReallocations(ctx context.Context, c Caller, f ReallocationFilter, p httpx.Pagination) ([]Reallocation, int64, error)

	ListEntries(ctx context.Context, c Caller, f EntryFilter, p httpx.Pagination) ([]Entry, int64, error)
	Verify(ctx context.Context, c Caller) (Verification, error)
}

// CreditStore applies credits, in order, in a transaction its caller
// holds (the inbox consumer's, which also records the events as
// processed): each allocation's CreditTransfer, once per allocation.
type CreditStore interface {
	Credits(ctx context.Context, cs []Credit) error
}

// Store is the persistence the service needs; the pgx adapter implements
// it. Each write is one transaction that locks the account rows it moves
// (in sorted order), posts one balanced transfer and writes its event to
// the outbox.
type Store interface {
	ListBalances(ctx context.Context, f BalanceFilter, p httpx.Pagination) ([]Balance, int64, error)
	// Balance reads an owner's balance (zeros for an account never
	// credited); with at, it is recomputed from the postings up to at.
	Balance(ctx context.Context, o Owner, at *time.Time) (Balance, error)

	// RequestWithdrawal holds the amount (ErrInsufficientBalance).
	RequestWithdrawal(ctx context.Context, in NewWithdrawal, requestedBy int64) (Withdrawal, error)
	ListWithdrawals(ctx context.Context, f WithdrawalFilter, p httpx.Pagination) ([]Withdrawal, int64, error)
	Withdrawal(ctx context.Context, id int64) (Withdrawal, error)
	// TransitionWithdrawal moves a pending withdrawal to completed or
	// failed (ErrInvalidStateTransition otherwise).
	TransitionWithdrawal(ctx context.Context, t Transition) (Withdrawal, error)

	Reallocate(ctx context.Context, in NewReallocation, createdBy int64) (Reallocation, error)
	ListReallocations(ctx context.Context, f ReallocationFilter, p httpx.Pagination) ([]Reallocation, int64, error)

	ListEntries(ctx context.Context, f EntryFilter, p httpx.Pagination) ([]Entry, int64, error)
	Verify(ctx context.Context) (Verification, error)
}
