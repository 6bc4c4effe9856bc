// Package store is the withdrawal service's PostgreSQL adapter: it
// implements ledger.Store with pgx, applies profit credits for the inbox
// consumer, writes the service's events to the transactional outbox, and
// embeds the service's migrations.
//
// # How a movement is written
//
// Every movement is one transaction: lock the account rows it touches
// (SELECT … FOR UPDATE, in sorted account order, so two movements over
// overlapping accounts never deadlock), check the rule (available >=
// amount) against the locked rows, insert one transfer and its entries
// (their sum is asserted to be zero here and again by the entries_balanced
// constraint trigger at commit), chain each entry's hash onto its account's
// last_hash, update the buckets, and add the event to the outbox. The
// accounts_available_check constraint refuses an overdraft even if the Go
// check were wrong.
//
// # The platform account
//
// Every profit credit also debits "system:profit" and credits "platform",
// so credits serialise on their row locks. The inbox therefore applies a
// poll's batch of messages (up to inbox.Config.BatchSize) per transaction:
// the locks are taken once per batch, not once per event. Each credit is
// still its own transfer, posted in event order; Credit locks its accounts
// again in the shared transaction (a no-op for rows already locked) and so
// reads each account's last_hash after the previous credit's update, which
// chains the entries of one account correctly within the batch. A credit
// that fails rolls the batch back, and the inbox applies its messages one
// per transaction instead.
package store

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// IdempotencyMigrations are the file names under which the Idempotency-Key
// store's migrations (libs/idempotency: the table, then its effect_at mark)
// join the service's migrations.
var IdempotencyMigrations = []string{"00004_idempotency_keys.sql", "00005_idempotency_effect.sql"}

// Migrations are the service's schema migrations: its own tables, the
// outbox (00002, a copy of outbox.Migration), the inbox (00003, a copy of
// inbox.Migration) and the Idempotency-Key store.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	return idempotency.WithMigration(sub, IdempotencyMigrations...)
}

// EventSource is the envelope source of the events this service publishes.
const EventSource = "withdrawal"

// Store implements ledger.Store.
type Store struct{ pool *pgxpool.Pool }

var _ ledger.Store = (*Store)(nil)

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// tx runs fn in a transaction; an overdraft refused by the database is
// ErrInsufficientBalance.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	err := pg.InTx(ctx, s.pool, pgx.TxOptions{}, fn)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.ConstraintName == "accounts_available_check" {
		return ledger.ErrInsufficientBalance
	}
	return err
}

func parseDecimal(s string) (decimal.Decimal, error) { return money.ParseNumeric(s) }

// --- posting ---------------------------------------------------------------

// leg is one account's part of a transfer: the entry's amount (zero: no
// entry, only a bucket change) and the changes to its buckets.
type leg struct {
	account                                      string
	amount                                       decimal.Decimal
	credited, reallocIn, reallocOut, held, withd decimal.Decimal
}

// locked is an account row read under its lock.
type locked struct {
	available decimal.Decimal
	lastHash  []byte
}

// accountOwner is the owner_type and owner_id of an account row.
func accountOwner(account string) (string, int64, error) {
	if o, ok := ledger.ParseAccount(account); ok {
		return o.Type, o.ID, nil
	}
	if rest, ok := strings.CutPrefix(account, ledger.HoldPrefix); ok {
		if o, ok := ledger.ParseAccount(rest); ok {
			return "hold", o.ID, nil
		}
	}
	if account == ledger.AccountProfit || account == ledger.AccountPayout {
		return "system", 0, nil
	}
	return "", 0, fmt.Errorf("store: %q is not a ledger account", account)
}

// lockAccounts creates the accounts that do not exist yet and locks all of
// them, in sorted order, for the rest of tx (one round trip).
func lockAccounts(ctx context.Context, tx pgx.Tx, accounts ...string) (map[string]*locked, error) {
	names := slices.Clone(accounts)
	slices.Sort(names)
	names = slices.Compact(names)
	types := make([]string, len(names))
	ids := make([]int64, len(names))
	for i, a := range names {
		var err error
		if types[i], ids[i], err = accountOwner(a); err != nil {
			return nil, err
		}
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO accounts (account, owner_type, owner_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT (account) DO NOTHING`, names, types, ids)
	b.Queue(`SELECT account, available::text, last_hash FROM accounts
		WHERE account = ANY($1) ORDER BY account FOR UPDATE`, names)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	out := make(map[string]*locked, len(names))
	for rows.Next() {
		var a, avail string
		var l locked
		if err := rows.Scan(&a, &avail, &l.lastHash); err != nil {
			rows.Close()
			return nil, err
		}
		if l.available, err = parseDecimal(avail); err != nil {
			rows.Close()
			return nil, err
		}
		out[a] = &l
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	if len(out) != len(names) {
		return nil, errors.New("store: an account row is missing after insert")
	}
	return out, nil
}

// post writes one transfer of kind for ref: its entries, hash-chained onto
// each account's last hash, and the bucket changes. The accounts must be
// locked (lockAccounts). Events, when given, go to the outbox in the same
// round trip as the entries. It returns the transfer's time.
func post(ctx context.Context, tx pgx.Tx, accs map[string]*locked, kind, refType string, refID int64, legs []leg, events ...outbox.Event) (time.Time, error) {
	sum := decimal.Zero
	for _, l := range legs {
		sum = sum.Add(l.amount)
		if accs[l.account] == nil {
			return time.Time{}, fmt.Errorf("store: account %s is not locked", l.account)
		}
	}
	if !sum.IsZero() {
		return time.Time{}, fmt.Errorf("store: %s transfer for %s %d sums to %s, not 0", kind, refType, refID, sum)
	}
	// Taken under the locks, so each account's entries are in time order.
	now := time.Now().UTC().Truncate(time.Microsecond)
	var transferID int64
	if err := tx.QueryRow(ctx, `INSERT INTO transfers (kind, ref_type, ref_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		kind, refType, refID, now).Scan(&transferID); err != nil {
		return time.Time{}, err
	}
	// The entries and the account updates do not depend on each other's
	// results: one round trip for all of them.
	b := &pgx.Batch{}
	for _, l := range legs {
		acc := accs[l.account]
		if !l.amount.IsZero() {
			h := ledger.EntryHash(acc.lastHash, l.account, l.amount, kind, refType, refID, transferID, now)
			b.Queue(`INSERT INTO entries (transfer_id, account, amount, kind, ref_type, ref_id, created_at, prev_hash, hash)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				transferID, l.account, l.amount.StringFixed(8), kind, refType, refID, now, acc.lastHash, h)
			acc.lastHash = h
		}
		b.Queue(`UPDATE accounts SET credited = credited + $2, reallocated_in = reallocated_in + $3,
			reallocated_out = reallocated_out + $4, held = held + $5, withdrawn = withdrawn + $6,
			balance = balance + $7, last_hash = $8 WHERE account = $1`,
			l.account, l.credited.String(), l.reallocIn.String(), l.reallocOut.String(), l.held.String(), l.withd.String(),
			l.amount.String(), acc.lastHash)
	}
	for _, e := range events {
		if err := outbox.Queue(ctx, b, e.Topic, e.Key, e.Envelope); err != nil {
			return time.Time{}, err
		}
	}
	br := tx.SendBatch(ctx, b)
	for range b.Len() {
		if _, err := br.Exec(); err != nil {
			return time.Time{}, errors.Join(err, br.Close())
		}
	}
	if err := br.Close(); err != nil {
		return time.Time{}, err
	}
	return now, nil
}

// --- credits -----------------------------------------------------------------

// Credit applies one profit.allocated event in tx (the inbox's
// transaction, which may hold earlier credits of the same batch):
// system:profit is debited the distributable amount and the
// user, team and platform accounts credited their shares, as one transfer
// referring to the allocation. An allocation already credited is passed
// over (the unique (ref_type, ref_id, kind, account) key is the last
// guard).
func (s *Store) Credit(ctx context.Context, tx pgx.Tx, c ledger.Credit) error {
	return s.Credits(ctx, tx, []ledger.Credit{c})
}

// checkCredit refuses a credit whose shares do not sum to a positive
// distributable amount.
func checkCredit(c ledger.Credit) error {
	if !c.ToUser.Add(c.ToTeam).Add(c.ToPlatform).Equal(c.Distributable) || !c.Distributable.IsPositive() ||
		c.ToUser.IsNegative() || c.ToTeam.IsNegative() || c.ToPlatform.IsNegative() {
		return fmt.Errorf("store: allocation %d: shares do not sum to a positive distributable amount", c.AllocationID)
	}
	return nil
}

// creditLegs are the legs of c's transfer.
func creditLegs(c ledger.Credit) []leg {
	user := ledger.Owner{Type: ledger.OwnerUser, ID: c.UserID}.Account()
	team := ledger.Owner{Type: ledger.OwnerTeam, ID: c.TeamID}.Account()
	legs := []leg{{account: ledger.AccountProfit, amount: c.Distributable.Neg()}}
	for _, share := range []struct {
		account string
		amount  decimal.Decimal
	}{{user, c.ToUser}, {team, c.ToTeam}, {ledger.AccountPlatform, c.ToPlatform}} {
		if share.amount.IsPositive() {
			legs = append(legs, leg{account: share.account, amount: share.amount, credited: share.amount})
		}
	}
	return legs
}

// Credits applies the credits of several profit.allocated events in tx,
// in order, with the effects of Credit on each (one transfer per
// allocation, an allocation credited before, or earlier in cs, passed
// over), but with a few set-based statements for all of them: the
// accounts of every credit are created and locked at once (sorted, as
// lockAccounts does), the transfers inserted by one statement, each
// entry's hash chained in Go onto its account's previous entry (the last
// entry of an earlier credit of the batch, or the locked row's last_hash),
// the entries inserted by one statement in that order, and each account's
// buckets and last_hash updated once. Any invalid credit fails the whole
// call.
func (s *Store) Credits(ctx context.Context, tx pgx.Tx, cs []ledger.Credit) error {
	if len(cs) == 0 {
		return nil
	}
	allocations := make([]int64, len(cs))
	for i, c := range cs {
		if err := checkCredit(c); err != nil {
			return err
		}
		allocations[i] = c.AllocationID
	}
	// One index lookup per allocation (the lateral LIMIT 1 keeps the
	// planner from scanning every credit entry for ref_id = ANY(...)).
	rows, err := tx.Query(ctx, `SELECT a.id FROM unnest($3::bigint[]) AS a(id)
		CROSS JOIN LATERAL (SELECT 1 FROM entries e WHERE e.ref_type = $1 AND e.ref_id = a.id AND e.kind = $2 LIMIT 1) AS hit`,
		ledger.RefAllocation, ledger.KindProfitCredit, allocations)
	if err != nil {
		return err
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	skip := make(map[int64]bool, len(cs))
	for _, id := range done {
		skip[id] = true
	}
	type credit struct {
		c    ledger.Credit
		legs []leg
		at   time.Time
	}
	todo := make([]credit, 0, len(cs))
	var names []string
	for _, c := range cs {
		if skip[c.AllocationID] {
			continue
		}
		skip[c.AllocationID] = true
		legs := creditLegs(c)
		sum := decimal.Zero
		for _, l := range legs {
			sum = sum.Add(l.amount)
			names = append(names, l.account)
		}
		if !sum.IsZero() {
			return fmt.Errorf("store: credit for allocation %d sums to %s, not 0", c.AllocationID, sum)
		}
		todo = append(todo, credit{c: c, legs: legs})
	}
	if len(todo) == 0 {
		return nil
	}
	accs, err := lockAccounts(ctx, tx, names...)
	if err != nil {
		return err
	}

	// Taken under the locks, so each account's entries are in time order.
	refs := make([]int64, len(todo))
	times := make([]time.Time, len(todo))
	for i := range todo {
		todo[i].at = time.Now().UTC().Truncate(time.Microsecond)
		refs[i], times[i] = todo[i].c.AllocationID, todo[i].at
	}
	rows, err = tx.Query(ctx, `INSERT INTO transfers (kind, ref_type, ref_id, created_at)
		SELECT $1, $2, t.ref, t.at FROM unnest($3::bigint[], $4::timestamptz[]) WITH ORDINALITY AS t(ref, at, n)
		ORDER BY t.n RETURNING id, ref_id`, ledger.KindProfitCredit, ledger.RefAllocation, refs, times)
	if err != nil {
		return err
	}
	transferOf := make(map[int64]int64, len(todo))
	var id, ref int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &ref}, func() error { transferOf[ref] = id; return nil }); err != nil {
		return err
	}

	n := 0
	for _, t := range todo {
		n += len(t.legs)
	}
	var (
		eTransfer, eRef   = make([]int64, 0, n), make([]int64, 0, n)
		eAccount, eAmount = make([]string, 0, n), make([]string, 0, n)
		eAt               = make([]time.Time, 0, n)
		ePrev, eHash      = make([][]byte, 0, n), make([][]byte, 0, n)
		credited          = map[string]decimal.Decimal{}
		balance           = map[string]decimal.Decimal{}
		order             []string
	)
	for _, t := range todo {
		tid, ok := transferOf[t.c.AllocationID]
		if !ok {
			return fmt.Errorf("store: no transfer inserted for allocation %d", t.c.AllocationID)
		}
		for _, l := range t.legs {
			acc := accs[l.account]
			h := ledger.EntryHash(acc.lastHash, l.account, l.amount, ledger.KindProfitCredit, ledger.RefAllocation, t.c.AllocationID, tid, t.at)
			eTransfer, eRef, eAt = append(eTransfer, tid), append(eRef, t.c.AllocationID), append(eAt, t.at)
			eAccount, eAmount = append(eAccount, l.account), append(eAmount, l.amount.StringFixed(8))
			ePrev, eHash = append(ePrev, acc.lastHash), append(eHash, h)
			acc.lastHash = h
			if _, ok := balance[l.account]; !ok {
				order = append(order, l.account)
			}
			credited[l.account] = credited[l.account].Add(l.credited)
			balance[l.account] = balance[l.account].Add(l.amount)
		}
	}
	uCredited, uBalance, uHash := make([]string, len(order)), make([]string, len(order)), make([][]byte, len(order))
	for i, a := range order {
		uCredited[i], uBalance[i], uHash[i] = credited[a].String(), balance[a].String(), accs[a].lastHash
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO entries (transfer_id, account, amount, kind, ref_type, ref_id, created_at, prev_hash, hash)
		SELECT e.transfer_id, e.account, e.amount::numeric, $1, $2, e.ref_id, e.created_at, e.prev_hash, e.hash
		FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::timestamptz[], $8::bytea[], $9::bytea[])
			WITH ORDINALITY AS e(transfer_id, account, amount, ref_id, created_at, prev_hash, hash, n)
		ORDER BY e.n`, ledger.KindProfitCredit, ledger.RefAllocation, eTransfer, eAccount, eAmount, eRef, eAt, ePrev, eHash)
	b.Queue(`UPDATE accounts a SET credited = a.credited + u.add_credited::numeric, balance = a.balance + u.add_balance::numeric,
			last_hash = u.new_hash
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS u(account, add_credited, add_balance, new_hash)
		WHERE a.account = u.account`, order, uCredited, uBalance, uHash)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return err
	}
	if _, err := br.Exec(); err != nil {
		return err
	}
	return br.Close()
}

// --- balances ----------------------------------------------------------------

const balanceColumns = `owner_type, owner_id, credited::text, reallocated_in::text, reallocated_out::text,
	held::text, withdrawn::text, available::text`

func scanBalance(row pgx.Row) (ledger.Balance, error) {
	var b ledger.Balance
	var amounts [6]string
	if err := row.Scan(&b.Owner.Type, &b.Owner.ID, &amounts[0], &amounts[1], &amounts[2], &amounts[3], &amounts[4], &amounts[5]); err != nil {
		return b, err
	}
	var err error
	for i, dst := range []*decimal.Decimal{&b.Credited, &b.ReallocatedIn, &b.ReallocatedOut, &b.Held, &b.Withdrawn, &b.Available} {
		if *dst, err = parseDecimal(amounts[i]); err != nil {
			return b, err
		}
	}
	return b, nil
}

// ListBalances implements ledger.Store: the owner accounts, newest first.
func (s *Store) ListBalances(ctx context.Context, f ledger.BalanceFilter, p ledger.Page) ([]ledger.Balance, int64, error) {
	where := []string{`owner_type IN ('user', 'team', 'platform')`}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.OwnerType != "" {
		where = append(where, "owner_type = "+arg(f.OwnerType))
	}
	if c := f.ReadableBy; c != nil {
		teams := c.Teams
		if teams == nil {
			teams = []int64{}
		}
		where = append(where, fmt.Sprintf(`((owner_type = 'user' AND owner_id = %s) OR (owner_type = 'team' AND owner_id = ANY(%s)))`,
			arg(c.UserID), arg(teams)))
	}
	cond := " WHERE " + strings.Join(where, " AND ")
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM accounts`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit, offset := arg(p.Limit), arg(p.Offset)
	rows, err := s.pool.Query(ctx, `SELECT `+balanceColumns+` FROM accounts`+cond+
		` ORDER BY created_at DESC, account LIMIT `+limit+` OFFSET `+offset, args...)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ledger.Balance, error) { return scanBalance(r) })
	return out, total, err
}

// Balance implements ledger.Store. Now, it is the account row (zeros when
// there is none); at an instant, the buckets are recomputed from the
// postings of the account and of its hold account created up to then.
func (s *Store) Balance(ctx context.Context, o ledger.Owner, at *time.Time) (ledger.Balance, error) {
	account := o.Account()
	if at == nil {
		b, err := scanBalance(s.pool.QueryRow(ctx, `SELECT `+balanceColumns+` FROM accounts WHERE account = $1`, account))
		if errors.Is(err, pgx.ErrNoRows) {
			return ledger.Balance{Owner: o}, nil
		}
		b.Owner = o
		return b, err
	}
	var amounts [5]string
	err := s.pool.QueryRow(ctx, `SELECT
		COALESCE(sum(amount) FILTER (WHERE account = $1 AND kind = 'profit_credit'), 0)::text,
		COALESCE(sum(amount) FILTER (WHERE account = $1 AND kind = 'reallocation' AND amount > 0), 0)::text,
		COALESCE(-sum(amount) FILTER (WHERE account = $1 AND kind = 'reallocation' AND amount < 0), 0)::text,
		COALESCE(sum(amount) FILTER (WHERE account = $2), 0)::text,
		COALESCE(-sum(amount) FILTER (WHERE account = $2 AND kind = 'withdrawal_payout'), 0)::text
		FROM entries WHERE account IN ($1, $2) AND created_at <= $3`,
		account, ledger.HoldAccount(account), *at).Scan(&amounts[0], &amounts[1], &amounts[2], &amounts[3], &amounts[4])
	if err != nil {
		return ledger.Balance{}, err
	}
	b := ledger.Balance{Owner: o}
	for i, dst := range []*decimal.Decimal{&b.Credited, &b.ReallocatedIn, &b.ReallocatedOut, &b.Held, &b.Withdrawn} {
		if *dst, err = parseDecimal(amounts[i]); err != nil {
			return b, err
		}
	}
	b.Available = b.Credited.Add(b.ReallocatedIn).Sub(b.ReallocatedOut).Sub(b.Held).Sub(b.Withdrawn)
	return b, nil
}

// --- withdrawals -------------------------------------------------------------

const withdrawalColumns = `id, from_type, owner_id, amount::text, status, reason, requested_by, created_at, completed_at`

func scanWithdrawal(row pgx.Row) (ledger.Withdrawal, error) {
	var w ledger.Withdrawal
	var amount string
	err := row.Scan(&w.ID, &w.Owner.Type, &w.Owner.ID, &amount, &w.Status, &w.Reason, &w.RequestedBy, &w.CreatedAt, &w.CompletedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, ledger.ErrNotFound
	}
	if err != nil {
		return w, err
	}
	w.CreatedAt = w.CreatedAt.UTC()
	if w.CompletedAt != nil {
		t := w.CompletedAt.UTC()
		w.CompletedAt = &t
	}
	w.Amount, err = parseDecimal(amount)
	return w, err
}

// RequestWithdrawal implements ledger.Store: the operation of an
// Idempotency-Key starts here, with the transaction. Under the locks of the
// account and its hold account, the amount must not exceed available; the
// withdrawal_hold transfer moves it to the hold account.
func (s *Store) RequestWithdrawal(ctx context.Context, in ledger.NewWithdrawal, requestedBy int64) (ledger.Withdrawal, error) {
	idempotency.Started(ctx)
	account := in.Owner.Account()
	hold := ledger.HoldAccount(account)
	var out ledger.Withdrawal
	err := s.tx(ctx, func(tx pgx.Tx) error {
		accs, err := lockAccounts(ctx, tx, account, hold)
		if err != nil {
			return err
		}
		if in.Amount.GreaterThan(accs[account].available) {
			return ledger.ErrInsufficientBalance
		}
		w, err := scanWithdrawal(tx.QueryRow(ctx, `INSERT INTO withdrawals (from_type, owner_id, account, amount, status, requested_by)
			VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING `+withdrawalColumns,
			in.Owner.Type, in.Owner.ID, account, in.Amount.String(), requestedBy))
		if err != nil {
			return err
		}
		event, err := withdrawalEvent(eventbus.TypeWithdrawalRequested, w)
		if err != nil {
			return err
		}
		if _, err := post(ctx, tx, accs, ledger.KindWithdrawalHold, ledger.RefWithdrawal, w.ID, []leg{
			{account: account, amount: in.Amount.Neg(), held: in.Amount},
			{account: hold, amount: in.Amount},
		}, event); err != nil {
			return err
		}
		out = w
		return nil
	})
	return out, err
}

// TransitionWithdrawal implements ledger.Store: under the withdrawal's row
// lock (then its accounts' locks) a pending withdrawal is completed
// (withdrawal_payout: hold account → system:payout; held → withdrawn) or
// failed (withdrawal_release: hold account → account); any other state is
// ErrInvalidStateTransition.
func (s *Store) TransitionWithdrawal(ctx context.Context, t ledger.Transition) (ledger.Withdrawal, error) {
	idempotency.Started(ctx)
	var out ledger.Withdrawal
	err := s.tx(ctx, func(tx pgx.Tx) error {
		w, err := scanWithdrawal(tx.QueryRow(ctx, `SELECT `+withdrawalColumns+` FROM withdrawals WHERE id = $1 FOR UPDATE`, t.WithdrawalID))
		if err != nil {
			return err
		}
		if w.Status != ledger.StatusPending {
			return ledger.ErrInvalidStateTransition
		}
		account := w.Owner.Account()
		hold := ledger.HoldAccount(account)
		a := w.Amount
		var kind, eventType string
		var legs []leg
		var accs map[string]*locked
		switch t.To {
		case ledger.StatusCompleted:
			kind, eventType = ledger.KindWithdrawalPayout, eventbus.TypeWithdrawalCompleted
			legs = []leg{
				{account: account, held: a.Neg(), withd: a},
				{account: hold, amount: a.Neg()},
				{account: ledger.AccountPayout, amount: a},
			}
			accs, err = lockAccounts(ctx, tx, account, hold, ledger.AccountPayout)
		case ledger.StatusFailed:
			kind, eventType = ledger.KindWithdrawalRelease, eventbus.TypeWithdrawalFailed
			legs = []leg{
				{account: account, amount: a, held: a.Neg()},
				{account: hold, amount: a.Neg()},
			}
			accs, err = lockAccounts(ctx, tx, account, hold)
		default:
			return ledger.ErrInvalidStateTransition
		}
		if err != nil {
			return err
		}
		at, err := post(ctx, tx, accs, kind, ledger.RefWithdrawal, w.ID, legs)
		if err != nil {
			return err
		}
		var completedAt *time.Time
		if t.To == ledger.StatusCompleted {
			completedAt = &at
		}
		w, err = scanWithdrawal(tx.QueryRow(ctx, `UPDATE withdrawals SET status = $2, reason = $3, completed_at = $4
			WHERE id = $1 RETURNING `+withdrawalColumns, w.ID, t.To, t.Reason, completedAt))
		if err != nil {
			return err
		}
		out = w
		return publishWithdrawal(ctx, tx, eventType, w)
	})
	return out, err
}

// ListWithdrawals implements ledger.Store: newest first.
func (s *Store) ListWithdrawals(ctx context.Context, f ledger.WithdrawalFilter, p ledger.Page) ([]ledger.Withdrawal, int64, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.FromType != "" {
		where = append(where, "from_type = "+arg(f.FromType))
	}
	if f.OwnerID != nil {
		where = append(where, "owner_id = "+arg(*f.OwnerID))
	}
	if f.From != nil {
		where = append(where, "created_at >= "+arg(*f.From))
	}
	if f.To != nil {
		where = append(where, "created_at < "+arg(*f.To))
	}
	if c := f.ReadableBy; c != nil {
		where = append(where, "from_type = 'user' AND owner_id = "+arg(c.UserID))
	}
	return list(ctx, s.pool, "withdrawals", withdrawalColumns, where, args, "created_at DESC, id DESC", p, scanWithdrawal)
}

// Withdrawal implements ledger.Store.
func (s *Store) Withdrawal(ctx context.Context, id int64) (ledger.Withdrawal, error) {
	return scanWithdrawal(s.pool.QueryRow(ctx, `SELECT `+withdrawalColumns+` FROM withdrawals WHERE id = $1`, id))
}

// --- reallocations -----------------------------------------------------------

const reallocationColumns = `id, from_account, to_account, amount::text, reason, created_by, created_at`

func scanReallocation(row pgx.Row) (ledger.Reallocation, error) {
	var r ledger.Reallocation
	var from, to, amount string
	err := row.Scan(&r.ID, &from, &to, &amount, &r.Reason, &r.CreatedBy, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ledger.ErrNotFound
	}
	if err != nil {
		return r, err
	}
	var ok1, ok2 bool
	r.From, ok1 = ledger.ParseAccount(from)
	r.To, ok2 = ledger.ParseAccount(to)
	if !ok1 || !ok2 {
		return r, fmt.Errorf("store: reallocation %d names a non-owner account", r.ID)
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.Amount, err = parseDecimal(amount)
	return r, err
}

// Reallocate implements ledger.Store: under both accounts' locks the
// amount must not exceed the source's available balance.
func (s *Store) Reallocate(ctx context.Context, in ledger.NewReallocation, createdBy int64) (ledger.Reallocation, error) {
	idempotency.Started(ctx)
	from, to := in.From.Account(), in.To.Account()
	var out ledger.Reallocation
	err := s.tx(ctx, func(tx pgx.Tx) error {
		accs, err := lockAccounts(ctx, tx, from, to)
		if err != nil {
			return err
		}
		if in.Amount.GreaterThan(accs[from].available) {
			return ledger.ErrInsufficientBalance
		}
		r, err := scanReallocation(tx.QueryRow(ctx, `INSERT INTO reallocations (from_account, to_account, amount, reason, created_by)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+reallocationColumns, from, to, in.Amount.String(), in.Reason, createdBy))
		if err != nil {
			return err
		}
		env, err := eventbus.NewEnvelope(EventSource, eventbus.TypeFundsReallocated, "reallocation/"+strconv.FormatInt(r.ID, 10),
			reallocatedData{ReallocationID: r.ID, FromAccount: from, ToAccount: to, Amount: money.NewAmount(r.Amount), Reason: r.Reason})
		if err != nil {
			return err
		}
		if _, err := post(ctx, tx, accs, ledger.KindReallocation, ledger.RefReallocation, r.ID, []leg{
			{account: from, amount: in.Amount.Neg(), reallocOut: in.Amount},
			{account: to, amount: in.Amount, reallocIn: in.Amount},
		}, outbox.Event{Topic: eventbus.TopicWithdrawal, Key: from, Envelope: env}); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// ListReallocations implements ledger.Store: newest first.
func (s *Store) ListReallocations(ctx context.Context, f ledger.ReallocationFilter, p ledger.Page) ([]ledger.Reallocation, int64, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	typeOf := func(col string) string {
		return fmt.Sprintf(`(CASE WHEN %s = 'platform' THEN 'platform' ELSE split_part(%s, ':', 1) END)`, col, col)
	}
	if f.FromType != "" {
		where = append(where, typeOf("from_account")+" = "+arg(f.FromType))
	}
	if f.ToType != "" {
		where = append(where, typeOf("to_account")+" = "+arg(f.ToType))
	}
	if f.From != nil {
		where = append(where, "created_at >= "+arg(*f.From))
	}
	if f.To != nil {
		where = append(where, "created_at < "+arg(*f.To))
	}
	return list(ctx, s.pool, "reallocations", reallocationColumns, where, args, "created_at DESC, id DESC", p, scanReallocation)
}

// --- the audit trail ---------------------------------------------------------

const entryColumns = `id, transfer_id, account, amount::text, kind, ref_type, ref_id, created_at, prev_hash, hash`

func scanEntry(row pgx.Row) (ledger.Entry, error) {
	var e ledger.Entry
	var amount string
	err := row.Scan(&e.ID, &e.TransferID, &e.Account, &amount, &e.Kind, &e.RefType, &e.RefID, &e.CreatedAt, &e.PrevHash, &e.Hash)
	if err != nil {
		return e, err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	e.Amount, err = parseDecimal(amount)
	return e, err
}

// ListEntries implements ledger.Store: newest first.
func (s *Store) ListEntries(ctx context.Context, f ledger.EntryFilter, p ledger.Page) ([]ledger.Entry, int64, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Account != "" {
		where = append(where, "account = "+arg(f.Account))
	}
	if f.From != nil {
		where = append(where, "created_at >= "+arg(*f.From))
	}
	if f.To != nil {
		where = append(where, "created_at < "+arg(*f.To))
	}
	return list(ctx, s.pool, "entries", entryColumns, where, args, "id DESC", p, scanEntry)
}

// Verify implements ledger.Store: in one snapshot, every account's chain is
// recomputed in id order. An entry is bad when its prev_hash is not the
// stored hash of the account's previous entry (one was deleted or
// reordered) or its hash is not EntryHash of its fields (it was edited);
// the smallest bad id is reported. An account whose last_hash is not its
// last entry's hash (its latest entries were deleted), or postings that do
// not sum to zero, also make the ledger not OK.
func (s *Store) Verify(ctx context.Context) (ledger.Verification, error) {
	var v ledger.Verification
	err := pg.InTx(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		v = ledger.Verification{OK: true}
		last := map[string][]byte{}
		rows, err := tx.Query(ctx, `SELECT `+entryColumns+` FROM entries ORDER BY account, id`)
		if err != nil {
			return err
		}
		sum := decimal.Zero
		bad := func(id int64) {
			v.OK = false
			if v.FirstBadEntryID == nil || id < *v.FirstBadEntryID {
				v.FirstBadEntryID = &id
			}
		}
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				rows.Close()
				return err
			}
			v.Entries++
			sum = sum.Add(e.Amount)
			prev := last[e.Account]
			if !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(e.ExpectedHash(prev), e.Hash) {
				bad(e.ID)
			}
			last[e.Account] = e.Hash
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if !sum.IsZero() {
			v.OK = false
		}
		arows, err := tx.Query(ctx, `SELECT account, last_hash FROM accounts`)
		if err != nil {
			return err
		}
		defer arows.Close()
		for arows.Next() {
			var a string
			var h []byte
			if err := arows.Scan(&a, &h); err != nil {
				return err
			}
			v.Accounts++
			if !bytes.Equal(h, last[a]) {
				v.OK = false
			}
		}
		return arows.Err()
	})
	return v, err
}

// list runs a filtered, paginated query of table.
func list[T any](ctx context.Context, pool *pgxpool.Pool, table, columns string, where []string, args []any, order string,
	p ledger.Page, scan func(pgx.Row) (T, error)) ([]T, int64, error) {
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+table+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	args = append(args, p.Limit, p.Offset)
	rows, err := pool.Query(ctx, fmt.Sprintf(`SELECT %s FROM %s%s ORDER BY %s LIMIT $%d OFFSET $%d`,
		columns, table, cond, order, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	return out, total, err
}

// --- events ------------------------------------------------------------------

// withdrawalData is the data of withdrawal.requested, .completed and .failed.
type withdrawalData struct {
	WithdrawalID int64        `json:"withdrawal_id"`
	FromType     string       `json:"from_type"`
	OwnerID      int64        `json:"owner_id"`
	Account      string       `json:"account"`
	Amount       money.Amount `json:"amount"`
	Status       string       `json:"status"`
	Reason       *string      `json:"reason"`
}

// reallocatedData is the data of funds.reallocated.
type reallocatedData struct {
	ReallocationID int64        `json:"reallocation_id"`
	FromAccount    string       `json:"from_account"`
	ToAccount      string       `json:"to_account"`
	Amount         money.Amount `json:"amount"`
	Reason         string       `json:"reason"`
}

// publishWithdrawal adds a withdrawal event to the outbox, keyed by the
// account (so one account's events stay in order).
func publishWithdrawal(ctx context.Context, tx pgx.Tx, eventType string, w ledger.Withdrawal) error {
	e, err := withdrawalEvent(eventType, w)
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, e.Topic, e.Key, e.Envelope)
}

// withdrawalEvent is the event of w's state: on the withdrawal topic,
// keyed by its account.
func withdrawalEvent(eventType string, w ledger.Withdrawal) (outbox.Event, error) {
	account := w.Owner.Account()
	env, err := eventbus.NewEnvelope(EventSource, eventType, "withdrawal/"+strconv.FormatInt(w.ID, 10), withdrawalData{
		WithdrawalID: w.ID, FromType: w.Owner.Type, OwnerID: w.Owner.ID, Account: account,
		Amount: money.NewAmount(w.Amount), Status: w.Status, Reason: w.Reason,
	})
	return outbox.Event{Topic: eventbus.TopicWithdrawal, Key: account, Envelope: env}, err
}
