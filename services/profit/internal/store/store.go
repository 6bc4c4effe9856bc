// Package store is the profit service's PostgreSQL adapter: it implements
// profit.Store (and, bound to a transaction, profit.EventStore) with pgx,
// keeps the read model of portfolios, records profits (RecordProfit, the
// one code path of NAV and manual profits; RecordNAVProfits for a run),
// writes the service's events to the transactional outbox, and embeds the
// service's migrations. It makes no money decision: it locks and reads a
// portfolio's ledger, calls the domain (profit.Fold, profit.FoldRun,
// profit.Admit, profit.AllocatedEvents) and writes what it returns.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

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
	"github.com/fundplatform/platform/services/profit/internal/profit"
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
const EventSource = "profit"

// Store implements profit.Store.
type Store struct{ pg.Store }

var _ profit.Store = (*Store)(nil)

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pg.Store{Pool: pool}} }

// Amounts cross the wire as text, so nothing passes through float64.
func parseDecimal(s string) (decimal.Decimal, error) { return money.ParseNumeric(s) }

// --- read model ------------------------------------------------------------

// Owners are what the portfolio events say about a portfolio's owners.
type Owners = profit.Owners

// InTx is the store bound to tx, the inbox's transaction: the
// profit.EventStore the consumer (profit.Consumer) works through.
func (s *Store) InTx(tx pgx.Tx) profit.EventStore { return txStore{s: s, tx: tx} }

type txStore struct {
	s  *Store
	tx pgx.Tx
}

func (t txStore) AddPortfolio(ctx context.Context, o profit.Owners) error {
	return addPortfolio(ctx, t.tx, o)
}

func (t txStore) ApplyOwners(ctx context.Context, o profit.Owners) error {
	return t.s.ApplyPortfolio(ctx, t.tx, o)
}

func (t txStore) RecordProfit(ctx context.Context, in profit.NewProfit) (profit.Allocation, error) {
	return t.s.RecordProfit(ctx, t.tx, in)
}

func (t txStore) ApplyNAVCorrection(ctx context.Context, c profit.NAVCorrection) error {
	return t.s.ApplyNAVCorrection(ctx, t.tx, c)
}

func (t txStore) RecordNAVProfits(ctx context.Context, ins []profit.NewProfit) error {
	return t.s.RecordNAVProfits(ctx, t.tx, ins)
}

// insertPortfolio adds a portfolio to the read model unless it is there:
// the one statement of every writer that only knows the portfolio exists
// (portfolio.created, a lookup of the portfolio service, a NAV profit of a
// portfolio not seen yet), none of which may replace owners already
// recorded (profit.EventStore.AddPortfolio says why).
const insertPortfolio = `INSERT INTO portfolios (portfolio_id, user_id, team_id, currency) VALUES ($1, $2, $3, $4)
	ON CONFLICT (portfolio_id) DO NOTHING`

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func addPortfolio(ctx context.Context, q execer, o Owners) error {
	if _, err := q.Exec(ctx, insertPortfolio, o.PortfolioID, o.UserID, o.TeamID, eventbus.CurrencyOf(o.Currency)); err != nil {
		return fmt.Errorf("store: adding portfolio %d: %w", o.PortfolioID, err)
	}
	return nil
}

// AddPortfolio implements profit.Store: a portfolio the portfolio service
// has just said exists, recorded as its portfolio.created will be (which
// then changes nothing).
func (s *Store) AddPortfolio(ctx context.Context, o Owners) error {
	return addPortfolio(ctx, s.Pool, o)
}

// ApplyPortfolio records a portfolio.updated event in the read model, in
// tx (the consumer's transaction), adding the portfolio if it is not there.
// The owners apply to profits recorded afterwards; the allocation state is
// left alone. The currency, which never changes, is set too: it corrects a
// row recorded before the service kept currencies.
func (s *Store) ApplyPortfolio(ctx context.Context, tx pgx.Tx, o Owners) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO portfolios (portfolio_id, user_id, team_id, currency) VALUES ($1, $2, $3, $4)
		ON CONFLICT (portfolio_id) DO UPDATE
		   SET user_id = EXCLUDED.user_id, team_id = EXCLUDED.team_id, currency = EXCLUDED.currency, updated_at = now()`,
		o.PortfolioID, o.UserID, o.TeamID, eventbus.CurrencyOf(o.Currency))
	if err != nil {
		return fmt.Errorf("store: applying the owners of portfolio %d: %w", o.PortfolioID, err)
	}
	return nil
}

const portfolioColumns = `portfolio_id, user_id, team_id, currency, loss_carryforward::text, last_period_end`

func scanPortfolio(row pgx.Row) (profit.Portfolio, error) {
	var p profit.Portfolio
	var carry string
	err := row.Scan(&p.ID, &p.UserID, &p.TeamID, &p.Currency, &carry, &p.LastPeriodEnd)
	if err = pg.ReadErr(err, profit.ErrPortfolioNotFound, "store: reading a portfolio"); err != nil {
		return p, err
	}
	if p.LastPeriodEnd != nil {
		t := p.LastPeriodEnd.UTC()
		p.LastPeriodEnd = &t
	}
	if p.LossCarryforward, err = parseDecimal(carry); err != nil {
		return p, fmt.Errorf("store: portfolio %d: loss_carryforward: %w", p.ID, err)
	}
	return p, nil
}

// Portfolio implements profit.Store.
func (s *Store) Portfolio(ctx context.Context, id int64) (profit.Portfolio, error) {
	return scanPortfolio(s.Pool.QueryRow(ctx, `SELECT `+portfolioColumns+` FROM portfolios WHERE portfolio_id = $1`, id))
}

// lockPortfolio reads the portfolio's row and locks it for the rest of tx:
// every change to a portfolio's allocation state (ratios, profits,
// carry-forward) and the events it emits are serialised by this lock.
func lockPortfolio(ctx context.Context, tx pgx.Tx, id int64) (profit.Portfolio, error) {
	return scanPortfolio(tx.QueryRow(ctx, `SELECT `+portfolioColumns+` FROM portfolios WHERE portfolio_id = $1 FOR UPDATE`, id))
}

// --- ratios ----------------------------------------------------------------

const ratioColumns = `id, portfolio_id, version, to_team::text, to_platform::text, to_user::text, created_by, created_at,
	COALESCE(effective_from, created_at)`

func scanRatio(row pgx.Row) (profit.Ratio, error) {
	var r profit.Ratio
	var team, platform, user string
	err := row.Scan(&r.ID, &r.PortfolioID, &r.Version, &team, &platform, &user, &r.CreatedBy, &r.CreatedAt, &r.EffectiveFrom)
	if err = pg.ReadErr(err, profit.ErrRatioNotFound, "store: reading a ratio"); err != nil {
		return r, err
	}
	r.CreatedAt, r.EffectiveFrom = r.CreatedAt.UTC(), r.EffectiveFrom.UTC()
	for _, f := range []struct {
		dst *decimal.Decimal
		s   string
	}{{&r.ToTeam, team}, {&r.ToPlatform, platform}, {&r.ToUser, user}} {
		if *f.dst, err = parseDecimal(f.s); err != nil {
			return r, fmt.Errorf("store: ratio %d: %w", r.ID, err)
		}
	}
	return r, nil
}

func currentRatio(ctx context.Context, q pg.Querier, portfolioID int64) (profit.Ratio, error) {
	return scanRatio(q.QueryRow(ctx, `SELECT `+ratioColumns+` FROM ratios WHERE portfolio_id = $1 ORDER BY version DESC LIMIT 1`, portfolioID))
}

// ratioVersions are the portfolio's ratio versions, oldest first.
func ratioVersions(ctx context.Context, q pg.Querier, portfolioID int64) ([]profit.Ratio, error) {
	rows, err := q.Query(ctx, `SELECT `+ratioColumns+` FROM ratios WHERE portfolio_id = $1 ORDER BY version`, portfolioID)
	if err != nil {
		return nil, fmt.Errorf("store: reading the ratios of portfolio %d: %w", portfolioID, err)
	}
	vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (profit.Ratio, error) { return scanRatio(r) })
	if err != nil {
		return nil, fmt.Errorf("store: reading the ratios of portfolio %d: %w", portfolioID, err)
	}
	return vs, nil
}

// CreateRatio implements profit.Store. Under the portfolio's row lock it
// adds version n+1, taking effect at profit.EffectiveFrom (after every
// period_end recorded so far), writes profit.ratio_changed to the outbox,
// then applies the ratio to every profit of the portfolio still awaiting
// one, in period_end (then id) order, carrying the loss carry-forward
// through them.
func (s *Store) CreateRatio(ctx context.Context, in profit.NewRatio, createdBy int64) (profit.Ratio, error) {
	var out profit.Ratio
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		p, err := lockPortfolio(ctx, tx, in.PortfolioID)
		if err != nil {
			return err
		}
		versions, err := ratioVersions(ctx, tx, in.PortfolioID)
		if err != nil {
			return err
		}
		var prev *profit.Ratio
		if len(versions) > 0 {
			prev = &versions[len(versions)-1]
		}
		r, err := scanRatio(tx.QueryRow(ctx, `
			INSERT INTO ratios (portfolio_id, version, to_team, to_platform, to_user, created_by, effective_from)
			VALUES ($1, (SELECT COALESCE(max(version), 0) + 1 FROM ratios WHERE portfolio_id = $1), $2, $3, $4, $5, $6)
			RETURNING `+ratioColumns,
			in.PortfolioID, in.ToTeam.String(), in.ToPlatform.String(), in.ToUser.String(), createdBy,
			profit.EffectiveFrom(in.At, p.LastPeriodEnd, prev)))
		if err != nil {
			return err
		}
		if err := addEvents(ctx, tx, profit.RatioChangedEvents(r)); err != nil {
			return err
		}
		if err := allocateAwaiting(ctx, tx, p, append(versions, r)); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return profit.Ratio{}, fmt.Errorf("store: creating a ratio of portfolio %d: %w", in.PortfolioID, err)
	}
	return out, nil
}

// allocateAwaiting applies the portfolio's ratio versions to its waiting
// profits in order.
func allocateAwaiting(ctx context.Context, tx pgx.Tx, p profit.Portfolio, versions []profit.Ratio) error {
	rows, err := tx.Query(ctx, `SELECT `+allocationColumns+` FROM allocations a
		WHERE a.portfolio_id = $1 AND a.status = 'awaiting_ratio' AND `+standing+` ORDER BY a.period_end, a.id`, p.ID)
	if err != nil {
		return fmt.Errorf("store: reading the waiting profits: %w", err)
	}
	waiting, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (profit.Allocation, error) { return scanAllocation(r) })
	if err != nil {
		return fmt.Errorf("store: reading the waiting profits: %w", err)
	}
	if len(waiting) == 0 {
		return nil
	}
	// The new ratio releases every waiting profit: nothing waits any more.
	released, l := profit.Fold(ledger(p, versions, false), waiting)
	for _, a := range released {
		if _, err := tx.Exec(ctx, `
			UPDATE allocations SET status = $2, loss_carryforward_before = $3, loss_carryforward_after = $4,
			       distributable = $5, to_team_amount = $6, to_platform_amount = $7, to_user_amount = $8,
			       ratio_id = $9, ratio_version = $10, allocated_at = now()
			 WHERE id = $1`,
			a.ID, a.Status, a.LossCarryforwardBefore.String(), a.LossCarryforwardAfter.String(), a.Distributable.String(),
			a.ToTeam.String(), a.ToPlatform.String(), a.ToUser.String(), a.RatioID, a.RatioVersion); err != nil {
			return fmt.Errorf("store: allocating waiting profit %d: %w", a.ID, err)
		}
		if err := publishAllocated(ctx, tx, a); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE portfolios SET loss_carryforward = $2, updated_at = now() WHERE portfolio_id = $1`,
		p.ID, l.LossCarryforward.String()); err != nil {
		return fmt.Errorf("store: updating portfolio %d: %w", p.ID, err)
	}
	return nil
}

// ListRatios implements profit.Store: newest first (by id, so by version
// within a portfolio).
func (s *Store) ListRatios(ctx context.Context, f profit.RatioFilter, p httpx.Pagination) ([]profit.Ratio, int64, error) {
	var q pg.Filter
	if f.PortfolioID != nil {
		q.Where("portfolio_id = " + q.Arg(*f.PortfolioID))
	}
	return pg.List(ctx, s.Pool, pg.Listing{Prefix: "store: ", What: "ratios", Columns: ratioColumns, From: "ratios", Order: "id DESC"}, &q, p.Limit, p.Offset, scanRatio)
}

// CurrentRatio implements profit.Store.
func (s *Store) CurrentRatio(ctx context.Context, portfolioID int64) (profit.Ratio, error) {
	return currentRatio(ctx, s.Pool, portfolioID)
}

// --- allocations -----------------------------------------------------------

const allocationColumns = `a.id, COALESCE(a.allocation_key::text, ''), a.portfolio_id, a.source, COALESCE(a.snapshot_id, a.snapshot_of), a.period_end, a.profit_amount::text,
	a.loss_carryforward_before::text, a.loss_carryforward_after::text, a.distributable::text, a.ratio_id, a.ratio_version,
	a.to_team_amount::text, a.to_platform_amount::text, a.to_user_amount::text, a.user_id, a.team_id, a.status, a.created_at,
	a.currency, ` + correctionColumns

func scanAllocation(row pgx.Row) (profit.Allocation, error) {
	var a profit.Allocation
	var amounts [7]string
	var correction *int64
	err := row.Scan(&a.ID, &a.Key, &a.PortfolioID, &a.Source, &a.SnapshotID, &a.PeriodEnd, &amounts[0],
		&amounts[1], &amounts[2], &amounts[3], &a.RatioID, &a.RatioVersion,
		&amounts[4], &amounts[5], &amounts[6], &a.UserID, &a.TeamID, &a.Status, &a.CreatedAt, &a.Currency,
		&a.Corrects, &correction, &a.ReversedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, profit.ErrAllocationNotFound
	}
	if err != nil {
		return a, fmt.Errorf("store: reading an allocation: %w", err)
	}
	a.PeriodEnd, a.CreatedAt = a.PeriodEnd.UTC(), a.CreatedAt.UTC()
	if correction != nil {
		a.CorrectionID = *correction
	}
	for i, dst := range []*decimal.Decimal{&a.ProfitAmount, &a.LossCarryforwardBefore, &a.LossCarryforwardAfter,
		&a.Distributable, &a.ToTeam, &a.ToPlatform, &a.ToUser} {
		if *dst, err = parseDecimal(amounts[i]); err != nil {
			return a, fmt.Errorf("store: allocation %d: %w", a.ID, err)
		}
	}
	return a, nil
}

// RecordManualProfit implements profit.Store: the operation of an
// Idempotency-Key starts here, with the transaction.
func (s *Store) RecordManualProfit(ctx context.Context, in profit.NewProfit) (profit.Allocation, error) {
	idempotency.Started(ctx)
	var out profit.Allocation
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		a, err := s.RecordProfit(ctx, tx, in)
		out = a
		return err
	})
	if err != nil {
		return profit.Allocation{}, fmt.Errorf("store: recording a manual profit of portfolio %d: %w", in.PortfolioID, err)
	}
	return out, nil
}

// RecordProfit records one profit in tx and applies the allocation rule to
// it: the one code path of NAV profits (the portfolio.profit_recorded
// consumer) and manual ones (POST /api/v1/profit/allocations).
//
//  1. The portfolio's row is locked. A NAV profit for a portfolio not in
//     the read model yet (its portfolio.created not consumed yet) creates
//     the row from the event's own owners, so the profit is not lost; a
//     manual profit for an unknown portfolio is ErrPortfolioNotFound.
//  2. A profit already recorded (same source event id or same snapshot; for
//     a manual profit, the same identity: the same Idempotency-Key request
//     repeated after its key expired) is not recorded again: its
//     allocation is returned unchanged.
//  3. profit.Admit: a manual profit out of period order is refused
//     (ErrPeriodOutOfOrder); a NAV profit never is.
//  4. profit.Fold decides the allocation from the portfolio's ledger (its
//     carry-forward, ratio versions and whether a profit waits); the
//     allocation and the ledger's new carry-forward and last period_end are
//     stored.
//  5. An allocated profit (distributable > 0) adds exactly one
//     profit.allocated event to the outbox, keyed by the portfolio id.
func (s *Store) RecordProfit(ctx context.Context, tx pgx.Tx, in profit.NewProfit) (profit.Allocation, error) {
	if in.Source == profit.SourceNAV {
		if err := profit.CheckNAV(in); err != nil {
			return profit.Allocation{}, fmt.Errorf("store: %w", err)
		}
	}
	p, l, prior, err := readForProfit(ctx, tx, in)
	if err != nil {
		return profit.Allocation{}, err
	}
	if prior != nil {
		return *prior, nil
	}
	a, err := profit.Admit(p, in)
	if err != nil {
		return profit.Allocation{}, err
	}
	folded, l := profit.Fold(l, []profit.Allocation{a})
	return writeProfit(ctx, tx, folded[0], in.SourceEventID, l)
}

// readForProfit locks the portfolio of in (registering it first for a NAV
// profit) and reads under the lock, in one round trip, its ledger and the
// allocation of the same profit if there is one (for a NAV profit, of the
// same event or snapshot; for a manual one, of the same identity). The statements run in this order, so the reads see everything
// committed before the lock was granted: a concurrent copy of the same NAV
// profit has either committed (and is found) or not started.
func readForProfit(ctx context.Context, tx pgx.Tx, in profit.NewProfit) (profit.Portfolio, profit.Ledger, *profit.Allocation, error) {
	nav := in.Source == profit.SourceNAV
	b := &pgx.Batch{}
	if nav {
		b.Queue(insertPortfolio, in.PortfolioID, in.UserID, in.TeamID, eventbus.CurrencyOf(in.Currency))
		b.Queue(`SELECT `+portfolioColumns+` FROM portfolios WHERE portfolio_id = $1 FOR UPDATE`, in.PortfolioID)
		b.Queue(`SELECT `+allocationColumns+` FROM allocations a
			WHERE a.source_event_id = $1 OR a.snapshot_id = $2 ORDER BY a.id LIMIT 1`, in.SourceEventID, *in.SnapshotID)
	} else {
		b.Queue(`SELECT `+portfolioColumns+` FROM portfolios WHERE portfolio_id = $1 FOR UPDATE`, in.PortfolioID)
		b.Queue(`SELECT `+allocationColumns+` FROM allocations a WHERE a.allocation_key = NULLIF($1, '')::uuid`, in.Key)
	}
	b.Queue(`SELECT EXISTS (SELECT 1 FROM allocations a WHERE a.portfolio_id = $1 AND a.status = 'awaiting_ratio' AND `+standing+`)`, in.PortfolioID)
	b.Queue(`SELECT `+ratioColumns+` FROM ratios WHERE portfolio_id = $1 ORDER BY version`, in.PortfolioID)
	var (
		p        profit.Portfolio
		prior    *profit.Allocation
		awaiting bool
		ratios   []profit.Ratio
	)
	err := sendBatch(ctx, tx, b, func(br pgx.BatchResults) error {
		if nav {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		var err error
		if p, err = scanPortfolio(br.QueryRow()); err != nil {
			return err
		}
		switch a, err := scanAllocation(br.QueryRow()); {
		case err == nil:
			prior = &a
		case !errors.Is(err, profit.ErrAllocationNotFound):
			return err
		}
		if err := br.QueryRow().Scan(&awaiting); err != nil {
			return err
		}
		return eachRow(br, scanRatio, func(r profit.Ratio) { ratios = append(ratios, r) })
	})
	if err != nil {
		return p, profit.Ledger{}, nil, fmt.Errorf("store: reading portfolio %d: %w", in.PortfolioID, err)
	}
	return p, ledger(p, ratios, awaiting), prior, nil
}

// writeProfit inserts a folded allocation and stores the portfolio's new
// ledger in one round trip, then adds its profit.allocated event (if it
// distributes) to the outbox.
func writeProfit(ctx context.Context, tx pgx.Tx, a profit.Allocation, sourceEventID string, l profit.Ledger) (profit.Allocation, error) {
	pid := a.PortfolioID
	var eventID *string
	if sourceEventID != "" {
		eventID = &sourceEventID
	}
	b := &pgx.Batch{}
	b.Queue(`
		WITH a AS (
			INSERT INTO allocations (portfolio_id, source, snapshot_id, source_event_id, period_end, profit_amount,
				loss_carryforward_before, loss_carryforward_after, distributable, ratio_id, ratio_version,
				to_team_amount, to_platform_amount, to_user_amount, user_id, team_id, status, allocated_at, currency, allocation_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
				CASE WHEN $17 = 'awaiting_ratio' THEN NULL ELSE now() END, $18, NULLIF($19, '')::uuid)
			RETURNING *)
		SELECT `+allocationColumns+` FROM a`,
		a.PortfolioID, a.Source, a.SnapshotID, eventID, a.PeriodEnd, a.ProfitAmount.String(),
		a.LossCarryforwardBefore.String(), a.LossCarryforwardAfter.String(), a.Distributable.String(), a.RatioID, a.RatioVersion,
		a.ToTeam.String(), a.ToPlatform.String(), a.ToUser.String(), a.UserID, a.TeamID, a.Status, a.Currency, a.Key)
	b.Queue(`UPDATE portfolios
		SET loss_carryforward = $2, last_period_end = GREATEST(last_period_end, $3), currency = $4, updated_at = now()
		WHERE portfolio_id = $1`, a.PortfolioID, l.LossCarryforward.String(), *l.LastPeriodEnd, a.Currency)
	err := sendBatch(ctx, tx, b, func(br pgx.BatchResults) error {
		var err error
		if a, err = scanAllocation(br.QueryRow()); err != nil {
			return err
		}
		_, err = br.Exec()
		return err
	})
	if err != nil {
		return profit.Allocation{}, fmt.Errorf("store: writing an allocation of portfolio %d: %w", pid, err)
	}
	if err := publishAllocated(ctx, tx, a); err != nil {
		return profit.Allocation{}, err
	}
	return a, nil
}

// ListAllocations implements profit.Store: newest period first, then
// newest id.
func (s *Store) ListAllocations(ctx context.Context, f profit.AllocationFilter, p httpx.Pagination) ([]profit.Allocation, int64, error) {
	var q pg.Filter
	if f.PortfolioID != nil {
		q.Where("a.portfolio_id = " + q.Arg(*f.PortfolioID))
	}
	if f.From != nil {
		q.Where("a.period_end >= " + q.Arg(*f.From))
	}
	if f.To != nil {
		q.Where("a.period_end < " + q.Arg(*f.To))
	}
	if c := f.ReadableBy; c != nil {
		q.Owned(`EXISTS (SELECT 1 FROM portfolios p WHERE p.portfolio_id = a.portfolio_id
			AND (p.user_id = %s OR p.team_id = ANY(%s)))`, c.UserID, c.Teams)
	}
	return pg.List(ctx, s.Pool, pg.Listing{Prefix: "store: ", What: "allocations", Columns: allocationColumns, From: "allocations a",
		Order: "a.period_end DESC, a.id DESC"}, &q, p.Limit, p.Offset, scanAllocation)
}

// Allocation implements profit.Store.
func (s *Store) Allocation(ctx context.Context, id int64) (profit.Allocation, error) {
	return scanAllocation(s.Pool.QueryRow(ctx, `SELECT `+allocationColumns+` FROM allocations a WHERE a.id = $1`, id))
}

// --- events ----------------------------------------------------------------

func subject(portfolioID int64) string { return "portfolio/" + strconv.FormatInt(portfolioID, 10) }

// key is the Kafka key of the profit topic: the portfolio id.
func key(portfolioID int64) string { return strconv.FormatInt(portfolioID, 10) }

// addEvents writes events to the outbox in tx, in order.
func addEvents(ctx context.Context, tx pgx.Tx, events []profit.Event) error {
	out, err := outboxEvents(events)
	if err != nil {
		return err
	}
	if len(out) == 1 {
		return outbox.Add(ctx, tx, out[0].Topic, out[0].Key, out[0].Envelope)
	}
	return outbox.AddAll(ctx, tx, out...)
}

// outboxEvents are events as the outbox takes them: each in its envelope,
// on profit.events, keyed by its portfolio id.
func outboxEvents(events []profit.Event) ([]outbox.Event, error) {
	var out []outbox.Event
	for _, e := range events {
		env, err := eventbus.NewEnvelope(EventSource, e.Type, subject(e.PortfolioID), e.Data)
		if err != nil {
			return nil, fmt.Errorf("store: %s event: %w", e.Type, err)
		}
		out = append(out, outbox.Event{Topic: eventbus.TopicProfit, Key: key(e.PortfolioID), Envelope: env})
	}
	return out, nil
}

// publishAllocated adds the profit.allocated event of an allocated row to
// the outbox; rows with another status publish nothing.
func publishAllocated(ctx context.Context, tx pgx.Tx, a profit.Allocation) error {
	events, err := profit.AllocatedEvents(a)
	if err != nil {
		return fmt.Errorf("store: allocation %d: %w", a.ID, err)
	}
	return addEvents(ctx, tx, events)
}
