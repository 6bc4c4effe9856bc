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
// # Currencies
//
// Every account is in one currency (docs/api.md#currencies): an owner has
// one account per currency it holds. The account names above are those of
// the base currency (eventbus.BaseCurrency, USD: every account from before
// currencies was one); in any other currency the name ends in
// ":{currency}" ("user:7:JPY", "platform:JPY", "held:user:7:JPY",
// "system:profit:JPY"): AccountIn names them, AccountCurrency reads the
// currency back. Every transfer's legs are in one currency
// (Transfer.Check: ErrCurrencyMismatch otherwise).
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
	"github.com/fundplatform/platform/libs/eventbus"
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

// Account is the owner's name in events and the withdrawal.events key: the
// name of its account in the base currency.
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

// HoldAccount is the account where a pending withdrawal of account waits
// (in account's currency).
func HoldAccount(account string) string { return HoldPrefix + account }

// AccountIn is the name of the account in currency of the base-currency
// account name: name itself in the base currency, name + ":" + currency in
// any other.
func AccountIn(name, currency string) string {
	if currency == eventbus.BaseCurrency {
		return name
	}
	return name + ":" + currency
}

// OwnerAccount is the name of o's account in currency.
func OwnerAccount(o Owner, currency string) string { return AccountIn(o.Account(), currency) }

// ProfitAccount and PayoutAccount are the system accounts in currency.
func ProfitAccount(currency string) string { return AccountIn(AccountProfit, currency) }

// PayoutAccount: see ProfitAccount.
func PayoutAccount(currency string) string { return AccountIn(AccountPayout, currency) }

// AccountCurrency splits an account name into its base-currency name and
// its currency: a trailing ":XYZ" (three upper-case letters) is the
// currency, none is the base currency.
func AccountCurrency(account string) (name, currency string) {
	if i := strings.LastIndexByte(account, ':'); i >= 0 && ValidCurrency(account[i+1:]) {
		return account[:i], account[i+1:]
	}
	return account, eventbus.BaseCurrency
}

// ValidCurrency reports whether c has the form of an ISO 4217 code: three
// upper-case letters.
func ValidCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// ParseAccount is the owner and currency of an owner account name (false
// for system and hold accounts, and for a name AccountIn does not give,
// such as "user:7:USD").
func ParseAccount(account string) (Owner, string, bool) {
	name, currency := AccountCurrency(account)
	o, ok := parseOwner(name)
	return o, currency, ok && AccountIn(name, currency) == account
}

func parseOwner(account string) (Owner, bool) {
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
// balances), in its currency. Available = Credited + ReallocatedIn −
// ReallocatedOut − Held − Withdrawn, never below zero.
type Balance struct {
	Owner          Owner
	Currency       string
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
	Currency    string
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
	Currency  string // of both accounts
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
	Currency   string          // the account's
	Amount     decimal.Decimal // + credit, − debit
	Kind       string
	RefType    string
	RefID      int64
	// AllocationKey is the identity of the allocation a profit_credit
	// entry credits ("" for other kinds, and credits of events without it).
	AllocationKey string
	CreatedAt     time.Time
	PrevHash      []byte
	Hash          []byte
}

// Verification is the outcome of recomputing every account's hash chain:
// of the whole ledger, and of each currency's accounts (Currencies, by
// currency).
type Verification struct {
	CurrencyVerification
	Currencies []CurrencyVerification
	// Checkpoint is the comparison with the latest signed checkpoint
	// (checkpoint.go); the ledger is OK only when it is too.
	Checkpoint CheckpointVerification
}

// CurrencyVerification is the verification of a set of accounts (those of
// one currency, or all): OK when every chain recomputes, every account's
// last hash is its last entry's and the postings sum to zero.
// FirstBadAccount is the account of FirstBadEntryID, or an account whose
// last hash is wrong.
type CurrencyVerification struct {
	Currency        string // "" for the whole ledger
	OK              bool
	Accounts        int64
	Entries         int64
	FirstBadEntryID *int64
	FirstBadAccount *string
}

// Credit is what one profit.allocated event credits.
type Credit struct {
	AllocationID int64
	// AllocationKey is the allocation's identity derived from its source
	// (a UUID): a profit the profit service recorded again (after its
	// database was restored) has a new AllocationID but the same key, and
	// is credited once. "" in events published before it existed.
	AllocationKey string
	Distributable decimal.Decimal
	ToUser        decimal.Decimal
	ToTeam        decimal.Decimal
	ToPlatform    decimal.Decimal
	UserID        int64
	TeamID        int64
	Currency      string // eventbus.CurrencyOf the event's
}

// Inputs.
type (
	// NewWithdrawal is the body of POST /withdrawals.
	NewWithdrawal struct {
		Owner    Owner
		Currency string
		Amount   decimal.Decimal
	}
	// NewReallocation is the body of POST /reallocations: both accounts
	// are in Currency.
	NewReallocation struct {
		From, To Owner
		Currency string
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
		Currency  string
		// ReadableBy, when set, keeps only the accounts this user may read.
		ReadableBy *Caller
	}
	// WithdrawalFilter narrows ListWithdrawals; From <= created_at < To.
	WithdrawalFilter struct {
		Status     string
		Currency   string
		FromType   string
		OwnerID    *int64
		From, To   *time.Time
		ReadableBy *Caller
	}
	// ReallocationFilter narrows ListReallocations; From <= created_at < To.
	ReallocationFilter struct {
		FromType, ToType string
		Currency         string
		From, To         *time.Time
	}
	// EntryFilter narrows ListEntries; From <= created_at < To.
	EntryFilter struct {
		Account  string
		Currency string
		From, To *time.Time
	}
)

// Errors of the domain; the transport maps each to a status and code.
var (
	ErrForbidden              = errors.New("not allowed")
	ErrNotFound               = errors.New("not found")
	ErrInsufficientBalance    = errors.New("amount exceeds the available balance")
	ErrInvalidStateTransition = errors.New("the withdrawal is not pending")
	// ErrCurrencyMismatch is a movement between accounts of different
	// currencies (Transfer.Check): the platform converts nothing.
	ErrCurrencyMismatch = errors.New("the accounts of a movement must be in one currency")
	// ErrInvalidCredit is a profit.allocated credit that breaks CheckCredit.
	ErrInvalidCredit = errors.New("invalid credit")
)

// Service is what the withdrawal service does for its API callers
// (docs/api.md#withdrawal-service).
type Service interface {
	ListBalances(ctx context.Context, c Caller, f BalanceFilter, p httpx.Pagination) ([]Balance, int64, error)
	// Balances are the owner's balances now, or as at *at: one per
	// currency it has an account in (or only currency, when not "").
	Balances(ctx context.Context, c Caller, o Owner, currency string, at *time.Time) ([]Balance, error)

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

	// ListParked and ApplyParked are the admin side of parked reversals
	// (reversal.go).
	ListParked(ctx context.Context, c Caller, f ParkedFilter, p httpx.Pagination) ([]ParkedReversal, int64, error)
	ApplyParked(ctx context.Context, c Caller, id int64) (ParkedReversal, error)
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
	// Balances reads an owner's balances, one per currency of its
	// accounts, by currency (only currency's, when not ""); with at, each
	// is recomputed from the postings up to at.
	Balances(ctx context.Context, o Owner, currency string, at *time.Time) ([]Balance, error)

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
	// EntryHeads reads the entries of ids (those that exist) as heads, by
	// id: their account, currency, id and hash.
	EntryHeads(ctx context.Context, ids []int64) (map[int64]Head, error)

	ParkedStore
}
