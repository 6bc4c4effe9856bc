// Package endpoint turns the withdrawal service into go-kit endpoints: one
// per route, each taking a request struct and returning an httpx.Response
// whose data is the JSON form of docs/api.md#withdrawal-service.
package endpoint

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/go-kit/kit/endpoint"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// Endpoints are the withdrawal service's endpoints.
type Endpoints struct {
	ListBalances, Balance                                endpoint.Endpoint
	CreateWithdrawal, ListWithdrawals, GetWithdrawal     endpoint.Endpoint
	CompleteWithdrawal, FailWithdrawal, CancelWithdrawal endpoint.Endpoint
	CreateReallocation, ListReallocations                endpoint.Endpoint
	ListEntries, Verify                                  endpoint.Endpoint
	ParkedEndpoints
}

// Requests.
type (
	// ListBalancesRequest is the query of GET /balances.
	ListBalancesRequest struct {
		Filter ledger.BalanceFilter
		Page   httpx.Pagination
	}
	// BalanceRequest names an owner, optionally one currency and an
	// instant.
	BalanceRequest struct {
		Owner    ledger.Owner
		Currency string
		At       *time.Time
	}
	// CreateWithdrawalRequest is the body of POST /withdrawals.
	CreateWithdrawalRequest = ledger.NewWithdrawal
	// ListWithdrawalsRequest is the query of GET /withdrawals.
	ListWithdrawalsRequest struct {
		Filter ledger.WithdrawalFilter
		Page   httpx.Pagination
	}
	// FailRequest is POST /withdrawals/{id}/fail.
	FailRequest struct {
		ID     int64
		Reason string
	}
	// CreateReallocationRequest is the body of POST /reallocations.
	CreateReallocationRequest = ledger.NewReallocation
	// ListReallocationsRequest is the query of GET /reallocations.
	ListReallocationsRequest struct {
		Filter ledger.ReallocationFilter
		Page   httpx.Pagination
	}
	// ListEntriesRequest is the query of GET /ledger/entries.
	ListEntriesRequest struct {
		Filter ledger.EntryFilter
		Page   httpx.Pagination
	}
	// IDRequest names one resource by id.
	IDRequest struct{ ID int64 }
)

// Balance is the JSON form of a balance: an owner's account in one
// currency (an item of GET /balances).
type Balance struct {
	OwnerType string `json:"owner_type"`
	OwnerID   int64  `json:"owner_id"`
	CurrencyBalance
}

// CurrencyBalance is the buckets of an account in its currency.
type CurrencyBalance struct {
	Currency       string       `json:"currency"`
	Credited       money.Amount `json:"credited"`
	ReallocatedIn  money.Amount `json:"reallocated_in"`
	ReallocatedOut money.Amount `json:"reallocated_out"`
	Held           money.Amount `json:"held"`
	Withdrawn      money.Amount `json:"withdrawn"`
	Available      money.Amount `json:"available"`
}

// BalanceJSON is the JSON form of b.
func BalanceJSON(b ledger.Balance) Balance {
	return Balance{OwnerType: b.Owner.Type, OwnerID: b.Owner.ID, CurrencyBalance: CurrencyBalanceJSON(b)}
}

// CurrencyBalanceJSON is the buckets of b.
func CurrencyBalanceJSON(b ledger.Balance) CurrencyBalance {
	return CurrencyBalance{Currency: b.Currency, Credited: money.NewAmount(b.Credited),
		ReallocatedIn: money.NewAmount(b.ReallocatedIn), ReallocatedOut: money.NewAmount(b.ReallocatedOut),
		Held: money.NewAmount(b.Held), Withdrawn: money.NewAmount(b.Withdrawn), Available: money.NewAmount(b.Available)}
}

// OwnerBalances is the JSON form of an owner's balances
// (GET /balances/{owner_type}/{owner_id}): one per currency, by currency.
type OwnerBalances struct {
	OwnerType string            `json:"owner_type"`
	OwnerID   int64             `json:"owner_id"`
	Balances  []CurrencyBalance `json:"balances"`
}

// ownerBalancesReply is the reply of GET /balances/{owner_type}/{owner_id}.
func ownerBalancesReply(o ledger.Owner, bs []ledger.Balance, err error) httpx.Response {
	if err != nil {
		return httpx.Fail(err)
	}
	out := OwnerBalances{OwnerType: o.Type, OwnerID: o.ID, Balances: make([]CurrencyBalance, 0, len(bs))}
	for _, b := range bs {
		out.Balances = append(out.Balances, CurrencyBalanceJSON(b))
	}
	return httpx.OK(out)
}

// Withdrawal is the JSON form of a withdrawal.
type Withdrawal struct {
	ID          int64        `json:"id"`
	FromType    string       `json:"from_type"`
	OwnerID     int64        `json:"owner_id"`
	Currency    string       `json:"currency"`
	Amount      money.Amount `json:"amount"`
	Status      string       `json:"status"`
	Reason      *string      `json:"reason"`
	RequestedBy int64        `json:"requested_by"`
	CreatedAt   time.Time    `json:"created_at"`
	CompletedAt *time.Time   `json:"completed_at"`
}

// WithdrawalJSON is the JSON form of w.
func WithdrawalJSON(w ledger.Withdrawal) Withdrawal {
	return Withdrawal{ID: w.ID, FromType: w.Owner.Type, OwnerID: w.Owner.ID, Currency: w.Currency, Amount: money.NewAmount(w.Amount),
		Status: w.Status, Reason: w.Reason, RequestedBy: w.RequestedBy, CreatedAt: w.CreatedAt.UTC(), CompletedAt: w.CompletedAt}
}

// Reallocation is the JSON form of a reallocation.
type Reallocation struct {
	ID        int64        `json:"id"`
	FromType  string       `json:"from_type"`
	FromID    int64        `json:"from_id"`
	ToType    string       `json:"to_type"`
	ToID      int64        `json:"to_id"`
	Currency  string       `json:"currency"`
	Amount    money.Amount `json:"amount"`
	Reason    string       `json:"reason"`
	CreatedBy int64        `json:"created_by"`
	CreatedAt time.Time    `json:"created_at"`
}

// ReallocationJSON is the JSON form of r.
func ReallocationJSON(r ledger.Reallocation) Reallocation {
	return Reallocation{ID: r.ID, FromType: r.From.Type, FromID: r.From.ID, ToType: r.To.Type, ToID: r.To.ID, Currency: r.Currency,
		Amount: money.NewAmount(r.Amount), Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
}

// Entry is the JSON form of a ledger entry; amount is signed.
type Entry struct {
	ID         int64  `json:"id"`
	TransferID int64  `json:"transfer_id"`
	Account    string `json:"account"`
	Currency   string `json:"currency"`
	Amount     string `json:"amount"`
	Kind       string `json:"kind"`
	RefType    string `json:"ref_type"`
	RefID      int64  `json:"ref_id"`
	// AllocationKey is the identity of the allocation a profit_credit
	// entry credits, when its event carried one.
	AllocationKey *string   `json:"allocation_key"`
	CreatedAt     time.Time `json:"created_at"`
	Hash          string    `json:"hash"`
}

// EntryJSON is the JSON form of e.
func EntryJSON(e ledger.Entry) Entry {
	return Entry{ID: e.ID, TransferID: e.TransferID, Account: e.Account, Currency: e.Currency, Amount: money.Format(e.Amount), Kind: e.Kind,
		RefType: e.RefType, RefID: e.RefID, AllocationKey: nonEmpty(e.AllocationKey), CreatedAt: e.CreatedAt.UTC(), Hash: hex.EncodeToString(e.Hash)}
}

// Verification is the JSON form of a verification: the whole ledger's,
// and each currency's.
type Verification struct {
	OK               bool                   `json:"ok"`
	Accounts         int64                  `json:"accounts"`
	Entries          int64                  `json:"entries"`
	FirstBadEntryID  *int64                 `json:"first_bad_entry_id"`
	FirstBadAccount  *string                `json:"first_bad_account"`
	FirstBadCurrency *string                `json:"first_bad_currency"`
	Currencies       []CurrencyVerification `json:"currencies"`
	Checkpoint       CheckpointVerification `json:"checkpoint"`
}

// CheckpointVerification is the JSON form of the comparison with the
// latest signed checkpoint.
type CheckpointVerification struct {
	Status                string     `json:"status"`
	OK                    bool       `json:"ok"`
	KeyID                 *string    `json:"key_id"`
	TakenAt               *time.Time `json:"taken_at"`
	MaxEntryID            *int64     `json:"max_entry_id"`
	FirstDivergentAccount *string    `json:"first_divergent_account"`
}

// checkpointJSON is the JSON form of c.
func checkpointJSON(c ledger.CheckpointVerification) CheckpointVerification {
	out := CheckpointVerification{Status: c.Status, OK: c.OK, TakenAt: c.TakenAt, FirstDivergentAccount: c.FirstDivergentAccount}
	if c.TakenAt != nil {
		out.KeyID, out.MaxEntryID = &c.KeyID, &c.MaxEntryID
	}
	return out
}

// CurrencyVerification is the JSON form of one currency's verification.
type CurrencyVerification struct {
	Currency        string  `json:"currency"`
	OK              bool    `json:"ok"`
	Accounts        int64   `json:"accounts"`
	Entries         int64   `json:"entries"`
	FirstBadEntryID *int64  `json:"first_bad_entry_id"`
	FirstBadAccount *string `json:"first_bad_account"`
}

// VerificationJSON is the JSON form of v.
func VerificationJSON(v ledger.Verification) Verification {
	out := Verification{OK: v.OK, Accounts: v.Accounts, Entries: v.Entries, FirstBadEntryID: v.FirstBadEntryID,
		FirstBadAccount: v.FirstBadAccount, Currencies: make([]CurrencyVerification, 0, len(v.Currencies)),
		Checkpoint: checkpointJSON(v.Checkpoint)}
	if v.FirstBadAccount != nil {
		_, c := ledger.AccountCurrency(*v.FirstBadAccount)
		out.FirstBadCurrency = &c
	}
	for _, c := range v.Currencies {
		out.Currencies = append(out.Currencies, CurrencyVerification{Currency: c.Currency, OK: c.OK, Accounts: c.Accounts,
			Entries: c.Entries, FirstBadEntryID: c.FirstBadEntryID, FirstBadAccount: c.FirstBadAccount})
	}
	return out
}

var (
	balanceReply      = httpx.ReplyAs(BalanceJSON)
	withdrawalReply   = httpx.ReplyAs(WithdrawalJSON)
	reallocationReply = httpx.ReplyAs(ReallocationJSON)
	entryReply        = httpx.ReplyAs(EntryJSON)
	verificationReply = httpx.ReplyAs(VerificationJSON)
)

// New builds the endpoints.
func New(s ledger.Service) Endpoints {
	return Endpoints{
		ListBalances: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req ListBalancesRequest) httpx.Response {
			return balanceReply.List(s.ListBalances(ctx, c, req.Filter, req.Page))
		}),
		Balance: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req BalanceRequest) httpx.Response {
			bs, err := s.Balances(ctx, c, req.Owner, req.Currency, req.At)
			return ownerBalancesReply(req.Owner, bs, err)
		}),
		CreateWithdrawal: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req CreateWithdrawalRequest) httpx.Response {
			return withdrawalReply.Created(s.RequestWithdrawal(ctx, c, req))
		}),
		ListWithdrawals: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req ListWithdrawalsRequest) httpx.Response {
			return withdrawalReply.List(s.ListWithdrawals(ctx, c, req.Filter, req.Page))
		}),
		GetWithdrawal: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req IDRequest) httpx.Response {
			return withdrawalReply.OK(s.Withdrawal(ctx, c, req.ID))
		}),
		CompleteWithdrawal: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req IDRequest) httpx.Response {
			return withdrawalReply.OK(s.CompleteWithdrawal(ctx, c, req.ID))
		}),
		FailWithdrawal: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req FailRequest) httpx.Response {
			return withdrawalReply.OK(s.FailWithdrawal(ctx, c, req.ID, req.Reason))
		}),
		CancelWithdrawal: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req IDRequest) httpx.Response {
			return withdrawalReply.OK(s.CancelWithdrawal(ctx, c, req.ID))
		}),
		CreateReallocation: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req CreateReallocationRequest) httpx.Response {
			return reallocationReply.Created(s.Reallocate(ctx, c, req))
		}),
		ListReallocations: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req ListReallocationsRequest) httpx.Response {
			return reallocationReply.List(s.ListReallocations(ctx, c, req.Filter, req.Page))
		}),
		ListEntries: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, req ListEntriesRequest) httpx.Response {
			return entryReply.List(s.ListEntries(ctx, c, req.Filter, req.Page))
		}),
		Verify: libauth.WithCaller(func(ctx context.Context, c ledger.Caller, _ any) httpx.Response {
			return verificationReply.OK(s.Verify(ctx, c))
		}),
		ParkedEndpoints: newParked(s),
	}
}

// nonEmpty is s, or nil when it is empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
