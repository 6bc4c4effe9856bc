package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
)

// MaxReasonLength is the most characters of a reason: a failed
// withdrawal's, a reallocation's (docs/api.md#text-fields).
const MaxReasonLength = 500

type service struct {
	store       Store
	checkpoints CheckpointSource // nil: no checkpoint key configured
}

// New returns the service.
func New(store Store) Service { return &service{store: store} }

// NewAnchored returns the service whose Verify also compares the database
// with the latest checkpoint that checkpoints reads.
func NewAnchored(store Store, checkpoints CheckpointSource) Service {
	return &service{store: store, checkpoints: checkpoints}
}

func readsAll(c Caller) bool { return c.Role == auth.RoleAdmin || c.Role == auth.RoleViewer }

// readableBy narrows a list to what c may read (auth.Caller.ListScope):
// every account for an admin or a viewer (nil), c's own for a user; any
// other role is ErrForbidden.
func readableBy(c Caller) (*Caller, error) {
	scope, ok := c.ListScope()
	if !ok {
		return nil, ErrForbidden
	}
	return scope, nil
}

// ownerTypeFilter checks an owner type filter: empty (any), user, team or
// platform.
func ownerTypeFilter(field, v string) error {
	switch v {
	case "", auth.OwnerUser, auth.OwnerTeam, auth.OwnerPlatform:
		return nil
	default:
		return httpx.Invalid(field, "must be user, team or platform")
	}
}

func validOwner(field string, o Owner) error {
	switch o.Type {
	case auth.OwnerUser, auth.OwnerTeam, auth.OwnerPlatform:
	default:
		return httpx.Invalid(field+"_type", "must be user, team or platform")
	}
	if !o.Valid() {
		if o.Type == auth.OwnerPlatform {
			return httpx.Invalid(field+"_id", "must be 0 or omitted for the platform")
		}
		return httpx.Invalid(field+"_id", "must be a positive integer")
	}
	return nil
}

// currencyField checks a currency: an ISO 4217 code (ValidCurrency), or
// empty when optional (a filter: any currency).
func currencyField(field, v string, optional bool) error {
	if (optional && v == "") || ValidCurrency(v) {
		return nil
	}
	return httpx.Invalid(field, "must be an ISO 4217 currency code: three upper-case letters")
}

func positive(field string, in interface{ IsPositive() bool }) error {
	if !in.IsPositive() {
		return &httpx.ValidationError{Code: "invalid_amount", Field: field, Reason: "must be greater than 0"}
	}
	return nil
}

func validRange(from, to *time.Time) error {
	if from != nil && to != nil && to.Before(*from) {
		return httpx.Invalid("to", "must not be before from")
	}
	return nil
}

func (s *service) ListBalances(ctx context.Context, c Caller, f BalanceFilter, p httpx.Pagination) ([]Balance, int64, error) {
	if err := ownerTypeFilter("owner_type", f.OwnerType); err != nil {
		return nil, 0, err
	}
	if err := currencyField("currency", f.Currency, true); err != nil {
		return nil, 0, err
	}
	var err error
	if f.ReadableBy, err = readableBy(c); err != nil {
		return nil, 0, err
	}
	return s.store.ListBalances(ctx, f, p)
}

// Balances: one per currency the owner has an account in; narrowed to
// currency, the owner's balance in it (zeros for an account never
// credited, as for any currency it has no account in).
func (s *service) Balances(ctx context.Context, c Caller, o Owner, currency string, at *time.Time) ([]Balance, error) {
	if !o.Valid() || !c.CanReadAccount(o.Type, o.ID) {
		return nil, ErrNotFound
	}
	if err := currencyField("currency", currency, true); err != nil {
		return nil, err
	}
	bs, err := s.store.Balances(ctx, o, currency, at)
	if err != nil {
		return nil, err
	}
	if currency != "" && len(bs) == 0 {
		bs = []Balance{{Owner: o, Currency: currency}}
	}
	return bs, nil
}

// RequestWithdrawal: a user withdraws from its own user account only (its
// teams' accounts it may read: 403; any other account: 404); an admin
// from any owner account.
func (s *service) RequestWithdrawal(ctx context.Context, c Caller, in NewWithdrawal) (Withdrawal, error) {
	if err := validOwner("from", in.Owner); err != nil {
		var ve *httpx.ValidationError
		if errors.As(err, &ve) && ve.Field == "from_id" {
			ve.Field = "owner_id"
		}
		return Withdrawal{}, err
	}
	if err := currencyField("currency", in.Currency, false); err != nil {
		return Withdrawal{}, err
	}
	if err := positive("amount", in.Amount); err != nil {
		return Withdrawal{}, err
	}
	switch c.Role {
	case auth.RoleAdmin:
	case auth.RoleUser:
		if in.Owner.Type != auth.OwnerUser || in.Owner.ID != c.UserID {
			if c.CanReadAccount(in.Owner.Type, in.Owner.ID) {
				return Withdrawal{}, ErrForbidden
			}
			return Withdrawal{}, ErrNotFound
		}
	default:
		return Withdrawal{}, ErrForbidden
	}
	return s.store.RequestWithdrawal(ctx, in, c.UserID)
}

// ownsWithdrawal: a user's withdrawals are those from its own user account.
func ownsWithdrawal(c Caller, w Withdrawal) bool {
	return w.Owner.Type == auth.OwnerUser && w.Owner.ID == c.UserID
}

func (s *service) ListWithdrawals(ctx context.Context, c Caller, f WithdrawalFilter, p httpx.Pagination) ([]Withdrawal, int64, error) {
	switch f.Status {
	case "", StatusPending, StatusCompleted, StatusFailed:
	default:
		return nil, 0, httpx.Invalid("status", "must be pending, completed or failed")
	}
	if err := ownerTypeFilter("from_type", f.FromType); err != nil {
		return nil, 0, err
	}
	if err := currencyField("currency", f.Currency, true); err != nil {
		return nil, 0, err
	}
	if err := validRange(f.From, f.To); err != nil {
		return nil, 0, err
	}
	var err error
	if f.ReadableBy, err = readableBy(c); err != nil {
		return nil, 0, err
	}
	return s.store.ListWithdrawals(ctx, f, p)
}

func (s *service) Withdrawal(ctx context.Context, c Caller, id int64) (Withdrawal, error) {
	w, err := s.store.Withdrawal(ctx, id)
	if err != nil {
		return Withdrawal{}, err
	}
	if !readsAll(c) && !ownsWithdrawal(c, w) {
		return Withdrawal{}, ErrNotFound
	}
	return w, nil
}

func (s *service) CompleteWithdrawal(ctx context.Context, c Caller, id int64) (Withdrawal, error) {
	if c.Role != auth.RoleAdmin {
		return Withdrawal{}, ErrForbidden
	}
	// Looked up before the operation starts: an unknown id is a refusal
	// that stores nothing under an Idempotency-Key.
	if _, err := s.store.Withdrawal(ctx, id); err != nil {
		return Withdrawal{}, err
	}
	return s.store.TransitionWithdrawal(ctx, Transition{WithdrawalID: id, To: StatusCompleted})
}

func (s *service) FailWithdrawal(ctx context.Context, c Caller, id int64, reason string) (Withdrawal, error) {
	if c.Role != auth.RoleAdmin {
		return Withdrawal{}, ErrForbidden
	}
	reason, err := httpx.Text("reason", reason, MaxReasonLength)
	if err != nil {
		return Withdrawal{}, err
	}
	if _, err := s.store.Withdrawal(ctx, id); err != nil {
		return Withdrawal{}, err
	}
	return s.store.TransitionWithdrawal(ctx, Transition{WithdrawalID: id, To: StatusFailed, Reason: &reason})
}

// CancelWithdrawal: the owner or an admin; another user does not see the
// withdrawal (404); a viewer may see it but not change it (403).
func (s *service) CancelWithdrawal(ctx context.Context, c Caller, id int64) (Withdrawal, error) {
	w, err := s.store.Withdrawal(ctx, id)
	if err != nil {
		return Withdrawal{}, err
	}
	switch {
	case c.Role == auth.RoleAdmin:
	case c.Role == auth.RoleUser && ownsWithdrawal(c, w):
	case c.Role == auth.RoleViewer:
		return Withdrawal{}, ErrForbidden
	default:
		return Withdrawal{}, ErrNotFound
	}
	reason := ReasonCancelled
	return s.store.TransitionWithdrawal(ctx, Transition{WithdrawalID: id, To: StatusFailed, Reason: &reason})
}

func (s *service) Reallocate(ctx context.Context, c Caller, in NewReallocation) (Reallocation, error) {
	if c.Role != auth.RoleAdmin {
		return Reallocation{}, ErrForbidden
	}
	if err := validOwner("from", in.From); err != nil {
		return Reallocation{}, err
	}
	if err := validOwner("to", in.To); err != nil {
		return Reallocation{}, err
	}
	if in.From == in.To {
		return Reallocation{}, httpx.Invalid("to_id", "the destination must differ from the source")
	}
	if err := currencyField("currency", in.Currency, false); err != nil {
		return Reallocation{}, err
	}
	if err := positive("amount", in.Amount); err != nil {
		return Reallocation{}, err
	}
	reason, err := httpx.Text("reason", in.Reason, MaxReasonLength)
	if err != nil {
		return Reallocation{}, err
	}
	in.Reason = reason
	return s.store.Reallocate(ctx, in, c.UserID)
}

func (s *service) ListReallocations(ctx context.Context, c Caller, f ReallocationFilter, p httpx.Pagination) ([]Reallocation, int64, error) {
	if !readsAll(c) {
		return nil, 0, ErrForbidden
	}
	for field, v := range map[string]string{"from_type": f.FromType, "to_type": f.ToType} {
		if err := ownerTypeFilter(field, v); err != nil {
			return nil, 0, err
		}
	}
	if err := currencyField("currency", f.Currency, true); err != nil {
		return nil, 0, err
	}
	if err := validRange(f.From, f.To); err != nil {
		return nil, 0, err
	}
	return s.store.ListReallocations(ctx, f, p)
}

func (s *service) ListEntries(ctx context.Context, c Caller, f EntryFilter, p httpx.Pagination) ([]Entry, int64, error) {
	if !readsAll(c) {
		return nil, 0, ErrForbidden
	}
	if err := currencyField("currency", f.Currency, true); err != nil {
		return nil, 0, err
	}
	if err := validRange(f.From, f.To); err != nil {
		return nil, 0, err
	}
	return s.store.ListEntries(ctx, f, p)
}

func (s *service) Verify(ctx context.Context, c Caller) (Verification, error) {
	if !readsAll(c) {
		return Verification{}, ErrForbidden
	}
	// The checkpoint is read first, so that the database's snapshot is at
	// least as new as it.
	var cp *Checkpoint
	var cv CheckpointVerification
	if s.checkpoints == nil {
		cv = CheckpointVerification{Status: CheckpointDisabled, OK: true}
	} else if latest, err := s.checkpoints.Latest(ctx); latest == nil {
		cv = checkpointFailure(err)
	} else {
		cp = latest
	}
	v, err := s.store.Verify(ctx)
	if err != nil {
		return Verification{}, err
	}
	if cp != nil {
		ids := make([]int64, 0, len(cp.Heads))
		for _, h := range cp.Heads {
			ids = append(ids, h.LastEntryID)
		}
		stored, err := s.store.EntryHeads(ctx, ids)
		if err != nil {
			return Verification{}, err
		}
		cv = CompareHeads(*cp, stored)
	}
	v.Checkpoint = cv
	v.OK = v.OK && cv.OK
	return v, nil
}

// ApplyCredits is the service of the inbox consumer, as Service is of the
// API: the credits of profit.allocated events (docs/api.md#withdrawal-service,
// events consumed) are checked (CheckCredit: any invalid one refuses them
// all, ErrInvalidCredit) and applied, in order, through st, the store bound
// to the consumer's transaction.
func ApplyCredits(ctx context.Context, st CreditStore, cs []Credit) error {
	for _, c := range cs {
		if err := CheckCredit(c); err != nil {
			return err
		}
	}
	if len(cs) == 0 {
		return nil
	}
	return st.Credits(ctx, cs)
}
