// Package store is the withdrawal service's PostgreSQL adapter: it
// implements ledger.Store with pgx, applies profit credits for the inbox
// consumer, writes the service's events to the transactional outbox, and
// embeds the service's migrations.
//
// # How a movement is written
//
// Every decision is the domain's (package ledger): which legs a movement
// has (its transfer builders), whether it may happen (ledger.Sufficient,
// the state machine ledger.Next), each entry's hash (ledger.Transfer.Entries)
// and each event's data. The store does the effects. Every movement is one
// transaction: lock the account rows it touches (SELECT … FOR UPDATE, in
// sorted account order, so two movements over overlapping accounts never
// deadlock), apply the rule to the locked rows, insert one transfer and its
// entries (their sum is checked to be zero by ledger.Transfer.Check and
// again by the entries_balanced constraint trigger at commit), each hash
// chained onto its account's last_hash, update the buckets, and add the
// event to the outbox. The accounts_available_check constraint refuses an
// overdraft even if the Go check were wrong. Errors come back wrapped with
// what failed (%w: the domain's sentinels match with errors.Is, and
// pg.Retryable still sees serialization failures and deadlocks).
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
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/inbox"
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
// outbox (00002, outbox.Migration), the inbox (00003, inbox.Migration) and
// the Idempotency-Key store.
func Migrations() fs.FS {
	return pg.EmbeddedMigrations(migrationFiles, "migrations", append([]pg.File{
		outbox.MigrationFile("00002_outbox.sql"), inbox.MigrationFile("00003_inbox.sql"),
	}, idempotency.MigrationFiles(IdempotencyMigrations...)...)...)
}

// EventSource is the envelope source of the events this service publishes.
const EventSource = "withdrawal"

// Store implements ledger.Store.
type Store struct{ pg.Store }

var _ ledger.Store = (*Store)(nil)

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pg.Store{Pool: pool}} }

// tx runs fn in a transaction; an overdraft refused by the database is
// ErrInsufficientBalance.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	err := s.Store.Tx(ctx, fn)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.ConstraintName == "accounts_available_check" {
		return ledger.ErrInsufficientBalance
	}
	return err
}

func parseDecimal(s string) (decimal.Decimal, error) { return money.ParseNumeric(s) }

// --- posting ---------------------------------------------------------------

// locked are account rows read under their locks: each one's available
// balance and the hash of its last entry (the head of its chain, nil
// before its first entry).
type locked struct {
	available map[string]decimal.Decimal
	heads     map[string][]byte
}

// accountOwner is the owner_type and owner_id of an account row (its
// currency is ledger.AccountCurrency's).
func accountOwner(account string) (string, int64, error) {
	if o, _, ok := ledger.ParseAccount(account); ok {
		return o.Type, o.ID, nil
	}
	if rest, ok := strings.CutPrefix(account, ledger.HoldPrefix); ok {
		if o, _, ok := ledger.ParseAccount(rest); ok {
			return "hold", o.ID, nil
		}
	}
	if name, c := ledger.AccountCurrency(account); (name == ledger.AccountProfit || name == ledger.AccountPayout) && ledger.AccountIn(name, c) == account {
		return "system", 0, nil
	}
	return "", 0, fmt.Errorf("%q is not a ledger account", account)
}

// lockAccounts creates the accounts that do not exist yet and locks all of
// them, in sorted order, for the rest of tx (one round trip).
func lockAccounts(ctx context.Context, tx pgx.Tx, accounts ...string) (*locked, error) {
	accs, err := lockSorted(ctx, tx, accounts)
	if err != nil {
		return nil, fmt.Errorf("store: lock accounts %v: %w", accounts, err)
	}
	return accs, nil
}

func lockSorted(ctx context.Context, tx pgx.Tx, accounts []string) (*locked, error) {
	names := slices.Clone(accounts)
	slices.Sort(names)
	names = slices.Compact(names)
	types, currencies := make([]string, len(names)), make([]string, len(names))
	ids := make([]int64, len(names))
	for i, a := range names {
		var err error
		if types[i], ids[i], err = accountOwner(a); err != nil {
			return nil, err
		}
		_, currencies[i] = ledger.AccountCurrency(a)
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO accounts (account, owner_type, owner_id, currency)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) ON CONFLICT (account) DO NOTHING`, names, types, ids, currencies)
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
	out := &locked{available: make(map[string]decimal.Decimal, len(names)), heads: make(map[string][]byte, len(names))}
	for rows.Next() {
		var a, avail string
		var head []byte
		if err := rows.Scan(&a, &avail, &head); err != nil {
			rows.Close()
			return nil, err
		}
		if out.available[a], err = parseDecimal(avail); err != nil {
			rows.Close()
			return nil, err
		}
		out.heads[a] = head
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	if len(out.available) != len(names) {
		return nil, errors.New("an account row is missing after insert")
	}
	return out, nil
}

// post writes transfer t (ledger.Transfer.Check): its entries, hash-chained
// by ledger.Transfer.Entries onto each account's head, and its legs' bucket
// changes. The accounts must be locked (lockAccounts). Events, when given,
// go to the outbox in the same round trip as the entries. It returns the
// transfer's time.
func post(ctx context.Context, tx pgx.Tx, accs *locked, t ledger.Transfer, events ...outbox.Event) (time.Time, error) {
	at, err := writeTransfer(ctx, tx, accs, t, events)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: post %s transfer for %s %d: %w", t.Kind, t.RefType, t.RefID, err)
	}
	return at, nil
}

func writeTransfer(ctx context.Context, tx pgx.Tx, accs *locked, t ledger.Transfer, events []outbox.Event) (time.Time, error) {
	for _, a := range t.Accounts() {
		if _, ok := accs.available[a]; !ok {
			return time.Time{}, fmt.Errorf("account %s is not locked", a)
		}
	}
	if err := t.Check(); err != nil {
		return time.Time{}, err
	}
	// The time is the database's, taken under the locks: each account's
	// entries are in time order whichever replica wrote them.
	var transferID int64
	var now time.Time
	if err := tx.QueryRow(ctx, `INSERT INTO transfers (kind, ref_type, ref_id, created_at, reverses_key)
		VALUES ($1, $2, $3, clock_timestamp(), NULLIF($4, '')::uuid) RETURNING id, created_at`,
		t.Kind, t.RefType, t.RefID, t.ReversesKey).Scan(&transferID, &now); err != nil {
		return time.Time{}, fmt.Errorf("insert transfer: %w", err)
	}
	now = now.UTC()
	// The entries and the account updates do not depend on each other's
	// results: one round trip for all of them.
	entries := t.Entries(transferID, now, accs.heads)
	b := &pgx.Batch{}
	for _, l := range t.Legs {
		if !l.Amount.IsZero() {
			e := entries[0]
			entries = entries[1:]
			b.Queue(`INSERT INTO entries (transfer_id, account, amount, kind, ref_type, ref_id, created_at, prev_hash, hash, currency)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				e.TransferID, e.Account, e.Amount.StringFixed(8), e.Kind, e.RefType, e.RefID, e.CreatedAt, e.PrevHash, e.Hash, e.Currency)
		}
		b.Queue(`UPDATE accounts SET credited = credited + $2, reallocated_in = reallocated_in + $3,
			reallocated_out = reallocated_out + $4, held = held + $5, withdrawn = withdrawn + $6,
			balance = balance + $7, last_hash = $8 WHERE account = $1`,
			l.Account, l.Credited.String(), l.ReallocatedIn.String(), l.ReallocatedOut.String(), l.Held.String(),
			l.Withdrawn.String(), l.Amount.String(), accs.heads[l.Account])
	}
	for _, e := range events {
		if err := outbox.Queue(ctx, b, e.Topic, e.Key, e.Envelope); err != nil {
			return time.Time{}, fmt.Errorf("queue %s event: %w", e.Envelope.Type, err)
		}
	}
	br := tx.SendBatch(ctx, b)
	for range b.Len() {
		if _, err := br.Exec(); err != nil {
			return time.Time{}, fmt.Errorf("write entries and accounts: %w", errors.Join(err, br.Close()))
		}
	}
	if err := br.Close(); err != nil {
		return time.Time{}, fmt.Errorf("write entries and accounts: %w", err)
	}
	return now, nil
}

// --- credits -----------------------------------------------------------------

// Credit applies one profit.allocated event in tx (the inbox's
// transaction, which may hold earlier credits of the same batch): its
// ledger.CreditTransfer, referring to the allocation. An allocation already
// credited is passed over (the unique (ref_type, ref_id, kind, account) key
// is the last guard).
func (s *Store) Credit(ctx context.Context, tx pgx.Tx, c ledger.Credit) error {
	return s.Credits(ctx, tx, []ledger.Credit{c})
}

// CreditsIn is the store of credits bound to tx, the inbox consumer's
// transaction (see ledger.ApplyCredits).
func (s *Store) CreditsIn(tx pgx.Tx) ledger.CreditStore { return txCredits{s: s, tx: tx} }

type txCredits struct {
	s  *Store
	tx pgx.Tx
}

func (t txCredits) Credits(ctx context.Context, cs []ledger.Credit) error {
	return t.s.Credits(ctx, t.tx, cs)
}

// Credits applies the credits of several profit.allocated events in tx,
// in order, with the effects of Credit on each (one transfer per
// allocation, an allocation credited before, or earlier in cs, passed
// over), but with a few set-based statements for all of them: the
// accounts of every credit are created and locked at once (sorted, as
// lockAccounts does), the transfers inserted by one statement, each
// entry's hash chained by ledger.Transfer.Entries onto its account's
// previous entry (the last entry of an earlier credit of the batch, or the
// locked row's last_hash), the entries inserted by one statement in that
// order, and each account's buckets and last_hash updated once. Any
// invalid credit fails the whole call.
func (s *Store) Credits(ctx context.Context, tx pgx.Tx, cs []ledger.Credit) error {
	if err := credits(ctx, tx, cs); err != nil {
		return fmt.Errorf("store: credit %d allocations: %w", len(cs), err)
	}
	return nil
}

func credits(ctx context.Context, tx pgx.Tx, cs []ledger.Credit) error {
	todo, err := newCredits(ctx, tx, cs)
	if err != nil || len(todo) == 0 {
		return err
	}
	var names []string
	for _, t := range todo {
		names = append(names, t.Accounts()...)
	}
	accs, err := lockAccounts(ctx, tx, names...)
	if err != nil {
		return err
	}
	ids, times, err := insertCreditTransfers(ctx, tx, todo)
	if err != nil {
		return err
	}
	var entries []ledger.Entry
	for i, t := range todo {
		entries = append(entries, t.Entries(ids[i], times[i], accs.heads)...)
	}
	return writeCredits(ctx, tx, todo, entries, accs.heads)
}

// newCredits are the transfers of the credits of cs not applied yet, in
// order: an allocation credited before, or earlier in cs, is passed over —
// one with the same allocation id, or with the same allocation identity
// (AllocationKey: the same profit recorded again by a restored profit
// database, under a new id). An invalid credit fails them all.
func newCredits(ctx context.Context, tx pgx.Tx, cs []ledger.Credit) ([]ledger.Transfer, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	transfers := make([]ledger.Transfer, len(cs))
	allocations := make([]int64, len(cs))
	var keys []string
	for i, c := range cs {
		t, err := ledger.CreditTransfer(c)
		if err != nil {
			return nil, err
		}
		if err := t.Check(); err != nil {
			return nil, err
		}
		transfers[i], allocations[i] = t, c.AllocationID
		if c.AllocationKey != "" {
			keys = append(keys, c.AllocationKey)
		}
	}
	doneIDs, doneKeys, err := creditedAllocations(ctx, tx, allocations, keys)
	if err != nil {
		return nil, err
	}
	todo := make([]ledger.Transfer, 0, len(cs))
	for _, t := range transfers {
		if doneIDs[t.RefID] || (t.AllocationKey != "" && doneKeys[t.AllocationKey]) {
			continue
		}
		doneIDs[t.RefID], doneKeys[t.AllocationKey] = true, t.AllocationKey != ""
		todo = append(todo, t)
	}
	return todo, nil
}

// creditedAllocations are, of the allocation ids and identities given,
// those credited before, in one round trip.
func creditedAllocations(ctx context.Context, tx pgx.Tx, ids []int64, keys []string) (map[int64]bool, map[string]bool, error) {
	// One index lookup per allocation (the lateral LIMIT 1 keeps the
	// planner from scanning every credit entry for ref_id = ANY(...)).
	b := &pgx.Batch{}
	b.Queue(`SELECT a.id FROM unnest($3::bigint[]) AS a(id)
		CROSS JOIN LATERAL (SELECT 1 FROM entries e WHERE e.ref_type = $1 AND e.ref_id = a.id AND e.kind = $2 LIMIT 1) AS hit`,
		ledger.RefAllocation, ledger.KindProfitCredit, ids)
	b.Queue(`SELECT allocation_key::text FROM transfers WHERE allocation_key = ANY($1::uuid[])`, keys)
	doneIDs, doneKeys := map[int64]bool{}, map[string]bool{}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	var id int64
	rows, err := br.Query()
	if err == nil {
		_, err = pgx.ForEachRow(rows, []any{&id}, func() error { doneIDs[id] = true; return nil })
	}
	var key string
	if err == nil {
		if rows, err = br.Query(); err == nil {
			_, err = pgx.ForEachRow(rows, []any{&key}, func() error { doneKeys[key] = true; return nil })
		}
	}
	if err == nil {
		err = br.Close()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up credited allocations: %w", err)
	}
	return doneIDs, doneKeys, nil
}

// insertCreditTransfers inserts the transfers of todo with one statement,
// each at its own time from the database's clock taken under the locks (so
// each account's entries are in time order whichever replica wrote them),
// and returns their ids and times, in todo's order.
func insertCreditTransfers(ctx context.Context, tx pgx.Tx, todo []ledger.Transfer) ([]int64, []time.Time, error) {
	refs := make([]int64, len(todo))
	keys := make([]string, len(todo))
	for i, t := range todo {
		refs[i], keys[i] = t.RefID, t.AllocationKey
	}
	rows, err := tx.Query(ctx, `INSERT INTO transfers (kind, ref_type, ref_id, created_at, allocation_key)
		SELECT $1, $2, t.ref, clock_timestamp(), NULLIF(t.akey, '')::uuid
		  FROM unnest($3::bigint[], $4::text[]) WITH ORDINALITY AS t(ref, akey, n)
		ORDER BY t.n RETURNING id, ref_id, created_at`, ledger.KindProfitCredit, ledger.RefAllocation, refs, keys)
	if err != nil {
		return nil, nil, fmt.Errorf("insert transfers: %w", err)
	}
	type inserted struct {
		id int64
		at time.Time
	}
	transferOf := make(map[int64]inserted, len(todo))
	var id, ref int64
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&id, &ref, &at}, func() error {
		transferOf[ref] = inserted{id, at.UTC()}
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("insert transfers: %w", err)
	}
	ids := make([]int64, len(todo))
	times := make([]time.Time, len(todo))
	for i, t := range todo {
		tr, ok := transferOf[t.RefID]
		if !ok {
			return nil, nil, fmt.Errorf("no transfer inserted for allocation %d", t.RefID)
		}
		ids[i], times[i] = tr.id, tr.at
	}
	return ids, times, nil
}

// writeCredits inserts the entries of the credit transfers todo with one
// statement, in order, and updates each account's credited and balance
// buckets and its last_hash (heads) once.
func writeCredits(ctx context.Context, tx pgx.Tx, todo []ledger.Transfer, entries []ledger.Entry, heads map[string][]byte) error {
	var (
		n                 = len(entries)
		eTransfer, eRef   = make([]int64, n), make([]int64, n)
		eAccount, eAmount = make([]string, n), make([]string, n)
		eCurrency         = make([]string, n)
		eAt               = make([]time.Time, n)
		ePrev, eHash      = make([][]byte, n), make([][]byte, n)
		credited          = map[string]decimal.Decimal{}
		balance           = map[string]decimal.Decimal{}
		order             []string
	)
	for i, e := range entries {
		eTransfer[i], eRef[i], eAt[i] = e.TransferID, e.RefID, e.CreatedAt
		eAccount[i], eAmount[i], eCurrency[i] = e.Account, e.Amount.StringFixed(8), e.Currency
		ePrev[i], eHash[i] = e.PrevHash, e.Hash
	}
	for _, t := range todo {
		for _, l := range t.Legs {
			if _, ok := balance[l.Account]; !ok {
				order = append(order, l.Account)
			}
			credited[l.Account] = credited[l.Account].Add(l.Credited)
			balance[l.Account] = balance[l.Account].Add(l.Amount)
		}
	}
	uCredited, uBalance, uHash := make([]string, len(order)), make([]string, len(order)), make([][]byte, len(order))
	for i, a := range order {
		uCredited[i], uBalance[i], uHash[i] = credited[a].String(), balance[a].String(), heads[a]
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO entries (transfer_id, account, amount, kind, ref_type, ref_id, created_at, prev_hash, hash, currency)
		SELECT e.transfer_id, e.account, e.amount::numeric, $1, $2, e.ref_id, e.created_at, e.prev_hash, e.hash, e.currency
		FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::timestamptz[], $8::bytea[], $9::bytea[], $10::text[])
			WITH ORDINALITY AS e(transfer_id, account, amount, ref_id, created_at, prev_hash, hash, currency, n)
		ORDER BY e.n`, ledger.KindProfitCredit, ledger.RefAllocation, eTransfer, eAccount, eAmount, eRef, eAt, ePrev, eHash, eCurrency)
	b.Queue(`UPDATE accounts a SET credited = a.credited + u.add_credited::numeric, balance = a.balance + u.add_balance::numeric,
			last_hash = u.new_hash
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS u(account, add_credited, add_balance, new_hash)
		WHERE a.account = u.account`, order, uCredited, uBalance, uHash)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("insert entries: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("update accounts: %w", err)
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("insert entries and update accounts: %w", err)
	}
	return nil
}

// --- balances ----------------------------------------------------------------

const balanceColumns = `owner_type, owner_id, currency, credited::text, reallocated_in::text, reallocated_out::text,
	held::text, withdrawn::text, available::text`

func scanBalance(row pgx.Row) (ledger.Balance, error) {
	var b ledger.Balance
	var amounts [6]string
	if err := row.Scan(&b.Owner.Type, &b.Owner.ID, &b.Currency, &amounts[0], &amounts[1], &amounts[2], &amounts[3], &amounts[4], &amounts[5]); err != nil {
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

// ListBalances implements ledger.Store: the owner accounts (one per owner
// and currency), newest first.
func (s *Store) ListBalances(ctx context.Context, f ledger.BalanceFilter, p httpx.Pagination) ([]ledger.Balance, int64, error) {
	var q pg.Filter
	q.Where(`owner_type IN ('user', 'team', 'platform')`)
	if f.OwnerType != "" {
		q.Where("owner_type = " + q.Arg(f.OwnerType))
	}
	if f.Currency != "" {
		q.Where("currency = " + q.Arg(f.Currency))
	}
	if c := f.ReadableBy; c != nil {
		q.Owned(`((owner_type = 'user' AND owner_id = %s) OR (owner_type = 'team' AND owner_id = ANY(%s)))`, c.UserID, c.Teams)
	}
	return pg.List(ctx, s.Pool, pg.Listing{Prefix: "store: ", What: "balances", Columns: balanceColumns, From: "accounts", Order: "created_at DESC, account"},
		&q, p.Limit, p.Offset, scanBalance)
}

// Balances implements ledger.Store. Now, they are the owner's account rows
// (by currency); at an instant, each account's buckets are recomputed from
// its postings and those of its hold account created up to then.
func (s *Store) Balances(ctx context.Context, o ledger.Owner, currency string, at *time.Time) ([]ledger.Balance, error) {
	bs, err := s.balances(ctx, o, currency, at)
	if err != nil {
		return nil, fmt.Errorf("store: balances of %s: %w", o.Account(), err)
	}
	return bs, nil
}

// Balance is the owner's balance in currency (zeros for an account never
// credited), now or as at *at.
func (s *Store) Balance(ctx context.Context, o ledger.Owner, currency string, at *time.Time) (ledger.Balance, error) {
	bs, err := s.Balances(ctx, o, currency, at)
	if err != nil || len(bs) == 0 {
		return ledger.Balance{Owner: o, Currency: currency}, err
	}
	return bs[0], nil
}

func (s *Store) balances(ctx context.Context, o ledger.Owner, currency string, at *time.Time) ([]ledger.Balance, error) {
	var rows pgx.Rows
	var err error
	if at == nil {
		rows, err = s.Pool.Query(ctx, `SELECT `+balanceColumns+` FROM accounts
			WHERE owner_type = $1 AND owner_id = $2 AND ($3 = '' OR currency = $3) ORDER BY currency`, o.Type, o.ID, currency)
	} else {
		rows, err = s.Pool.Query(ctx, `SELECT a.owner_type, a.owner_id, a.currency, p.credited, p.realloc_in, p.realloc_out, p.held, p.withdrawn,
				(p.credited::numeric + p.realloc_in::numeric - p.realloc_out::numeric - p.held::numeric - p.withdrawn::numeric)::text
			FROM accounts a CROSS JOIN LATERAL (SELECT
				COALESCE(sum(amount) FILTER (WHERE account = a.account AND kind IN ('profit_credit', 'profit_reversal')), 0)::text AS credited,
				COALESCE(sum(amount) FILTER (WHERE account = a.account AND kind = 'reallocation' AND amount > 0), 0)::text AS realloc_in,
				COALESCE(-sum(amount) FILTER (WHERE account = a.account AND kind = 'reallocation' AND amount < 0), 0)::text AS realloc_out,
				COALESCE(sum(amount) FILTER (WHERE account <> a.account), 0)::text AS held,
				COALESCE(-sum(amount) FILTER (WHERE account <> a.account AND kind = 'withdrawal_payout'), 0)::text AS withdrawn
				FROM entries WHERE account IN (a.account, $4 || a.account) AND created_at <= $5) AS p
			WHERE a.owner_type = $1 AND a.owner_id = $2 AND ($3 = '' OR a.currency = $3) ORDER BY a.currency`,
			o.Type, o.ID, currency, ledger.HoldPrefix, *at)
	}
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ledger.Balance, error) { return scanBalance(r) })
}

// --- withdrawals -------------------------------------------------------------

const withdrawalColumns = `id, from_type, owner_id, currency, amount::text, status, reason, requested_by, created_at, completed_at`

func scanWithdrawal(row pgx.Row) (ledger.Withdrawal, error) {
	var w ledger.Withdrawal
	var amount string
	err := row.Scan(&w.ID, &w.Owner.Type, &w.Owner.ID, &w.Currency, &amount, &w.Status, &w.Reason, &w.RequestedBy, &w.CreatedAt, &w.CompletedAt)
	if err = pg.ReadErr(err, ledger.ErrNotFound, ""); err != nil {
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
// owner's account in the withdrawal's currency and its hold account, the
// amount must not exceed that account's available balance
// (ledger.Sufficient: what the owner holds in other currencies does not
// count); ledger.HoldTransfer moves it to the hold account.
func (s *Store) RequestWithdrawal(ctx context.Context, in ledger.NewWithdrawal, requestedBy int64) (ledger.Withdrawal, error) {
	idempotency.Started(ctx)
	account := ledger.OwnerAccount(in.Owner, in.Currency)
	hold := ledger.HoldAccount(account)
	var out ledger.Withdrawal
	err := s.tx(ctx, func(tx pgx.Tx) error {
		accs, err := lockAccounts(ctx, tx, account, hold)
		if err != nil {
			return err
		}
		if err := ledger.Sufficient(accs.available[account], in.Amount); err != nil {
			return err
		}
		w, err := scanWithdrawal(tx.QueryRow(ctx, `INSERT INTO withdrawals (from_type, owner_id, account, amount, status, requested_by, currency)
			VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING `+withdrawalColumns,
			in.Owner.Type, in.Owner.ID, account, in.Amount.String(), requestedBy, in.Currency))
		if err != nil {
			return fmt.Errorf("insert withdrawal: %w", err)
		}
		event, err := withdrawalEvent(ledger.EventWithdrawalRequested, w)
		if err != nil {
			return err
		}
		if _, err := post(ctx, tx, accs, ledger.HoldTransfer(w.ID, in.Owner, in.Currency, in.Amount), event); err != nil {
			return err
		}
		out = w
		return nil
	})
	if err != nil {
		return ledger.Withdrawal{}, fmt.Errorf("store: request withdrawal from %s: %w", account, err)
	}
	return out, nil
}

// TransitionWithdrawal implements ledger.Store: under the withdrawal's row
// lock, ledger.Next decides the change (a pending withdrawal is completed
// or failed; any other state is ErrInvalidStateTransition); then, under
// its accounts' locks, the change's transfer is posted, the row updated
// and the change's event added to the outbox.
func (s *Store) TransitionWithdrawal(ctx context.Context, t ledger.Transition) (ledger.Withdrawal, error) {
	idempotency.Started(ctx)
	var out ledger.Withdrawal
	err := s.tx(ctx, func(tx pgx.Tx) error {
		w, err := scanWithdrawal(tx.QueryRow(ctx, `SELECT `+withdrawalColumns+` FROM withdrawals WHERE id = $1 FOR UPDATE`, t.WithdrawalID))
		if err != nil {
			return fmt.Errorf("lock withdrawal: %w", err)
		}
		step, err := ledger.Next(w, t.To)
		if err != nil {
			return err
		}
		accs, err := lockAccounts(ctx, tx, step.Transfer.Accounts()...)
		if err != nil {
			return err
		}
		at, err := post(ctx, tx, accs, step.Transfer)
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
			return fmt.Errorf("update withdrawal: %w", err)
		}
		out = w
		return publishWithdrawal(ctx, tx, step.EventType, w)
	})
	if err != nil {
		return ledger.Withdrawal{}, fmt.Errorf("store: withdrawal %d to %s: %w", t.WithdrawalID, t.To, err)
	}
	return out, nil
}

// ListWithdrawals implements ledger.Store: newest first.
func (s *Store) ListWithdrawals(ctx context.Context, f ledger.WithdrawalFilter, p httpx.Pagination) ([]ledger.Withdrawal, int64, error) {
	var q pg.Filter
	if f.Status != "" {
		q.Where("status = " + q.Arg(f.Status))
	}
	if f.FromType != "" {
		q.Where("from_type = " + q.Arg(f.FromType))
	}
	if f.OwnerID != nil {
		q.Where("owner_id = " + q.Arg(*f.OwnerID))
	}
	if f.Currency != "" {
		q.Where("currency = " + q.Arg(f.Currency))
	}
	if f.From != nil {
		q.Where("created_at >= " + q.Arg(*f.From))
	}
	if f.To != nil {
		q.Where("created_at < " + q.Arg(*f.To))
	}
	if c := f.ReadableBy; c != nil {
		q.Where("from_type = 'user' AND owner_id = " + q.Arg(c.UserID))
	}
	return pg.List(ctx, s.Pool, pg.Listing{Prefix: "store: ", What: "withdrawals", Columns: withdrawalColumns, From: "withdrawals", Order: "created_at DESC, id DESC"},
		&q, p.Limit, p.Offset, scanWithdrawal)
}

// Withdrawal implements ledger.Store.
func (s *Store) Withdrawal(ctx context.Context, id int64) (ledger.Withdrawal, error) {
	w, err := scanWithdrawal(s.Pool.QueryRow(ctx, `SELECT `+withdrawalColumns+` FROM withdrawals WHERE id = $1`, id))
	if err != nil {
		return ledger.Withdrawal{}, fmt.Errorf("store: withdrawal %d: %w", id, err)
	}
	return w, nil
}

// --- reallocations -----------------------------------------------------------

const reallocationColumns = `id, from_account, to_account, currency, amount::text, reason, created_by, created_at`

func scanReallocation(row pgx.Row) (ledger.Reallocation, error) {
	var r ledger.Reallocation
	var from, to, amount string
	err := row.Scan(&r.ID, &from, &to, &r.Currency, &amount, &r.Reason, &r.CreatedBy, &r.CreatedAt)
	if err = pg.ReadErr(err, ledger.ErrNotFound, ""); err != nil {
		return r, err
	}
	var ok1, ok2 bool
	var c1, c2 string
	r.From, c1, ok1 = ledger.ParseAccount(from)
	r.To, c2, ok2 = ledger.ParseAccount(to)
	if !ok1 || !ok2 || c1 != r.Currency || c2 != r.Currency {
		return r, fmt.Errorf("reallocation %d names a non-owner account or another currency", r.ID)
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.Amount, err = parseDecimal(amount)
	return r, err
}

// Reallocate implements ledger.Store: under the locks of both owners'
// accounts in the reallocation's currency the amount must not exceed the
// source's available balance (ledger.Sufficient);
// ledger.ReallocationTransfer moves it.
func (s *Store) Reallocate(ctx context.Context, in ledger.NewReallocation, createdBy int64) (ledger.Reallocation, error) {
	idempotency.Started(ctx)
	from, to := ledger.OwnerAccount(in.From, in.Currency), ledger.OwnerAccount(in.To, in.Currency)
	var out ledger.Reallocation
	err := s.tx(ctx, func(tx pgx.Tx) error {
		accs, err := lockAccounts(ctx, tx, from, to)
		if err != nil {
			return err
		}
		if err := ledger.Sufficient(accs.available[from], in.Amount); err != nil {
			return err
		}
		r, err := scanReallocation(tx.QueryRow(ctx, `INSERT INTO reallocations (from_account, to_account, amount, reason, created_by, currency)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+reallocationColumns, from, to, in.Amount.String(), in.Reason, createdBy, in.Currency))
		if err != nil {
			return fmt.Errorf("insert reallocation: %w", err)
		}
		env, err := eventbus.NewEnvelope(EventSource, ledger.EventFundsReallocated, "reallocation/"+strconv.FormatInt(r.ID, 10),
			ledger.ReallocatedEventData(r))
		if err != nil {
			return fmt.Errorf("%s event: %w", ledger.EventFundsReallocated, err)
		}
		if _, err := post(ctx, tx, accs, ledger.ReallocationTransfer(r.ID, in.From, in.To, in.Currency, in.Amount),
			outbox.Event{Topic: eventbus.TopicWithdrawal, Key: in.From.Account(), Envelope: env}); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return ledger.Reallocation{}, fmt.Errorf("store: reallocate from %s to %s: %w", from, to, err)
	}
	return out, nil
}

// ListReallocations implements ledger.Store: newest first.
func (s *Store) ListReallocations(ctx context.Context, f ledger.ReallocationFilter, p httpx.Pagination) ([]ledger.Reallocation, int64, error) {
	var q pg.Filter
	typeOf := func(col string) string {
		return fmt.Sprintf(`(CASE WHEN %s = 'platform' THEN 'platform' ELSE split_part(%s, ':', 1) END)`, col, col)
	}
	if f.FromType != "" {
		q.Where(typeOf("from_account") + " = " + q.Arg(f.FromType))
	}
	if f.ToType != "" {
		q.Where(typeOf("to_account") + " = " + q.Arg(f.ToType))
	}
	if f.Currency != "" {
		q.Where("currency = " + q.Arg(f.Currency))
	}
	if f.From != nil {
		q.Where("created_at >= " + q.Arg(*f.From))
	}
	if f.To != nil {
		q.Where("created_at < " + q.Arg(*f.To))
	}
	return pg.List(ctx, s.Pool, pg.Listing{Prefix: "store: ", What: "reallocations", Columns: reallocationColumns, From: "reallocations", Order: "created_at DESC, id DESC"},
		&q, p.Limit, p.Offset, scanReallocation)
}

// --- the audit trail ---------------------------------------------------------

// entryColumns are an entry's columns as scanEntry reads them, without the
// allocation identity of its transfer (empty); listedEntryColumns with it
// (a profit_credit's; empty for the others).
const (
	entryColumns       = `id, transfer_id, account, currency, amount::text, kind, ref_type, ref_id, '', created_at, prev_hash, hash`
	listedEntryColumns = `id, transfer_id, account, currency, amount::text, kind, ref_type, ref_id,
	COALESCE((SELECT t.allocation_key::text FROM transfers t WHERE t.id = entries.transfer_id), ''), created_at, prev_hash, hash`
)

func scanEntry(row pgx.Row) (ledger.Entry, error) {
	var e ledger.Entry
	var amount string
	err := row.Scan(&e.ID, &e.TransferID, &e.Account, &e.Currency, &amount, &e.Kind, &e.RefType, &e.RefID, &e.AllocationKey,
		&e.CreatedAt, &e.PrevHash, &e.Hash)
	if err != nil {
		return e, err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	e.Amount, err = parseDecimal(amount)
	return e, err
}

// ListEntries implements ledger.Store: newest first.
func (s *Store) ListEntries(ctx context.Context, f ledger.EntryFilter, p httpx.Pagination) ([]ledger.Entry, int64, error) {
	var q pg.Filter
	if f.Account != "" {
		q.Where("account = " + q.Arg(f.Account))
	}
	if f.Currency != "" {
		q.Where("currency = " + q.Arg(f.Currency))
	}
	if f.From != nil {
		q.Where("created_at >= " + q.Arg(*f.From))
	}
	if f.To != nil {
		q.Where("created_at < " + q.Arg(*f.To))
	}
	return pg.List(ctx, s.Pool, pg.Listing{Prefix: "store: ", What: "entries", Columns: listedEntryColumns, From: "entries", Order: "id DESC"},
		&q, p.Limit, p.Offset, scanEntry)
}

// Verify implements ledger.Store: in one snapshot, every account's chain is
// recomputed in id order. An entry is bad when its prev_hash is not the
// stored hash of the account's previous entry (one was deleted or
// reordered), its hash is not EntryHash of its fields (it was edited) or
// its currency is not its account's; the smallest bad id is reported, with
// its account. An account whose last_hash is not its last entry's hash
// (its latest entries were deleted), or whose currency is not its name's,
// or postings of a currency that do not sum to zero, also make the ledger
// not OK. Each currency's accounts are reported apart (every transfer is
// in one currency, so each currency's postings sum to zero on their own),
// and the whole ledger as their sum.
func (s *Store) Verify(ctx context.Context) (ledger.Verification, error) {
	var v ledger.Verification
	err := pg.InTx(ctx, s.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		vr := verifier{of: map[string]*ledger.CurrencyVerification{}, sums: map[string]decimal.Decimal{}, last: map[string][]byte{}}
		if err := vr.entries(ctx, tx); err != nil {
			return err
		}
		if err := vr.accounts(ctx, tx); err != nil {
			return err
		}
		v = vr.result()
		return nil
	})
	if err != nil {
		return ledger.Verification{}, fmt.Errorf("store: verify the ledger: %w", err)
	}
	return v, nil
}

// verifier is what Verify has found so far, by currency.
type verifier struct {
	of   map[string]*ledger.CurrencyVerification
	sums map[string]decimal.Decimal
	last map[string][]byte // each account's last entry's hash
}

func (vr *verifier) currency(c string) *ledger.CurrencyVerification {
	if vr.of[c] == nil {
		vr.of[c] = &ledger.CurrencyVerification{Currency: c, OK: true}
	}
	return vr.of[c]
}

// bad marks entry id of account bad (id 0: the account itself).
func bad(cv *ledger.CurrencyVerification, id int64, account string) {
	cv.OK = false
	switch {
	case id != 0 && (cv.FirstBadEntryID == nil || id < *cv.FirstBadEntryID):
		cv.FirstBadEntryID, cv.FirstBadAccount = &id, &account
	case cv.FirstBadAccount == nil:
		cv.FirstBadAccount = &account
	}
}

func (vr *verifier) entries(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT `+entryColumns+` FROM entries ORDER BY account, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return err
		}
		cv := vr.currency(e.Currency)
		cv.Entries++
		vr.sums[e.Currency] = vr.sums[e.Currency].Add(e.Amount)
		prev := vr.last[e.Account]
		_, named := ledger.AccountCurrency(e.Account)
		if !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(e.ExpectedHash(prev), e.Hash) || named != e.Currency {
			bad(cv, e.ID, e.Account)
		}
		vr.last[e.Account] = e.Hash
	}
	return rows.Err()
}

func (vr *verifier) accounts(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT account, currency, last_hash FROM accounts`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, c string
		var h []byte
		if err := rows.Scan(&a, &c, &h); err != nil {
			return err
		}
		cv := vr.currency(c)
		cv.Accounts++
		if _, named := ledger.AccountCurrency(a); !bytes.Equal(h, vr.last[a]) || named != c {
			bad(cv, 0, a)
		}
	}
	return rows.Err()
}

// result is the verification of each currency, by currency, and of the
// whole ledger.
func (vr *verifier) result() ledger.Verification {
	v := ledger.Verification{CurrencyVerification: ledger.CurrencyVerification{OK: true}}
	for _, c := range slices.Sorted(maps.Keys(vr.of)) {
		cv := vr.of[c]
		if !vr.sums[c].IsZero() {
			cv.OK = false
		}
		v.Currencies = append(v.Currencies, *cv)
		v.OK = v.OK && cv.OK
		v.Accounts, v.Entries = v.Accounts+cv.Accounts, v.Entries+cv.Entries
		if id := cv.FirstBadEntryID; id != nil && (v.FirstBadEntryID == nil || *id < *v.FirstBadEntryID) {
			v.FirstBadEntryID, v.FirstBadAccount = id, cv.FirstBadAccount
		} else if v.FirstBadEntryID == nil && v.FirstBadAccount == nil {
			v.FirstBadAccount = cv.FirstBadAccount
		}
	}
	return v
}

// --- events ------------------------------------------------------------------

// publishWithdrawal adds a withdrawal event to the outbox, keyed by the
// account (so one account's events stay in order).
func publishWithdrawal(ctx context.Context, tx pgx.Tx, eventType string, w ledger.Withdrawal) error {
	e, err := withdrawalEvent(eventType, w)
	if err != nil {
		return err
	}
	if err := outbox.Add(ctx, tx, e.Topic, e.Key, e.Envelope); err != nil {
		return fmt.Errorf("add %s event to the outbox: %w", eventType, err)
	}
	return nil
}

// withdrawalEvent is the event of w's state: on the withdrawal topic,
// keyed by its account.
func withdrawalEvent(eventType string, w ledger.Withdrawal) (outbox.Event, error) {
	env, err := eventbus.NewEnvelope(EventSource, eventType, "withdrawal/"+strconv.FormatInt(w.ID, 10), ledger.WithdrawalEventData(w))
	if err != nil {
		return outbox.Event{}, fmt.Errorf("%s event: %w", eventType, err)
	}
	return outbox.Event{Topic: eventbus.TopicWithdrawal, Key: w.Owner.Account(), Envelope: env}, nil
}
