// Package store is the portfolio service's PostgreSQL adapter: it
// implements portfolio.Store with pgx, writes the service's events to the
// transactional outbox in the same transactions, and embeds the service's
// migrations.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
)

// Source is the envelope source of this service's events.
const Source = "portfolio"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the service's schema migrations: its own, the outbox's
// (00002_outbox.sql, outbox.Migration) and the Idempotency-Key store's.
func Migrations() fs.FS {
	return pg.EmbeddedMigrations(migrationFiles, "migrations", append([]pg.File{outbox.MigrationFile("00002_outbox.sql")},
		idempotency.MigrationFiles("00003_idempotency_keys.sql", "00004_idempotency_effect.sql")...)...)
}

// Store implements portfolio.Store.
type Store struct{ pg.Store }

var _ portfolio.Store = (*Store)(nil)

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pg.Store{Pool: pool}} }

// addEvents writes events to the outbox in tx.
func addEvents(ctx context.Context, tx pgx.Tx, events []portfolio.Event) error {
	out := make([]outbox.Event, 0, len(events))
	for _, e := range events {
		key := strconv.FormatInt(e.PortfolioID, 10)
		env, err := eventbus.NewEnvelope(Source, e.Type, "portfolio/"+key, e.Data)
		if err != nil {
			return fmt.Errorf("event %s of portfolio %s: %w", e.Type, key, err)
		}
		out = append(out, outbox.Event{Topic: eventbus.TopicPortfolio, Key: key, Envelope: env})
	}
	if err := outbox.AddAll(ctx, tx, out...); err != nil {
		return fmt.Errorf("write events to the outbox: %w", err)
	}
	return nil
}

const portfolioColumns = `id, name, description, user_id, team_id, currency, created_at, updated_at`

func scanPortfolio(row pgx.Row) (portfolio.Portfolio, error) {
	var p portfolio.Portfolio
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.UserID, &p.TeamID, &p.Currency, &p.CreatedAt, &p.UpdatedAt)
	if err = pg.ReadErr(err, portfolio.ErrPortfolioNotFound, "read portfolio"); err != nil {
		return p, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// CreatePortfolio implements portfolio.Store.
func (s *Store) CreatePortfolio(ctx context.Context, p portfolio.Portfolio, emit func(portfolio.Portfolio) []portfolio.Event) (portfolio.Portfolio, error) {
	var out portfolio.Portfolio
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanPortfolio(tx.QueryRow(ctx, `
			INSERT INTO portfolios (name, description, user_id, team_id, currency, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+portfolioColumns,
			p.Name, p.Description, p.UserID, p.TeamID, p.Currency, p.CreatedAt, p.UpdatedAt))
		if err != nil {
			return err
		}
		return addEvents(ctx, tx, emit(out))
	})
	if err != nil {
		return portfolio.Portfolio{}, fmt.Errorf("create portfolio: %w", err)
	}
	return out, nil
}

// Portfolio implements portfolio.Store.
func (s *Store) Portfolio(ctx context.Context, id int64) (portfolio.Portfolio, error) {
	return scanPortfolio(s.Pool.QueryRow(ctx, `SELECT `+portfolioColumns+` FROM portfolios WHERE id = $1`, id))
}

// ListPortfolios implements portfolio.Store: newest first.
func (s *Store) ListPortfolios(ctx context.Context, f portfolio.Filter, p httpx.Pagination) ([]portfolio.Portfolio, int64, error) {
	var q pg.Filter
	if f.UserID != nil {
		q.Where("user_id = " + q.Arg(*f.UserID))
	}
	if f.TeamID != nil {
		q.Where("team_id = " + q.Arg(*f.TeamID))
	}
	if v := f.Visible; v != nil {
		q.Owned("(user_id = %s OR team_id = ANY(%s))", v.UserID, v.TeamIDs)
	}
	return pg.List(ctx, s.Pool, pg.Listing{What: "portfolios", Columns: portfolioColumns, From: "portfolios", Order: "id DESC"}, &q, p.Limit, p.Offset, scanPortfolio)
}

// UpdatePortfolio implements portfolio.Store. The row lock orders the
// change with the NAV recordings of the portfolio: a snapshot recorded
// after it commits carries the new owners.
func (s *Store) UpdatePortfolio(ctx context.Context, id int64, fn func(*portfolio.Portfolio) (bool, error), emit func(portfolio.Portfolio) []portfolio.Event) (portfolio.Portfolio, error) {
	var out portfolio.Portfolio
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		p, err := scanPortfolio(tx.QueryRow(ctx, `SELECT `+portfolioColumns+` FROM portfolios WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		changed, err := fn(&p)
		if err != nil || !changed {
			out = p
			return err // the service's decision (portfolio's errors)
		}
		out, err = scanPortfolio(tx.QueryRow(ctx, `
			UPDATE portfolios SET name = $2, description = $3, user_id = $4, team_id = $5, updated_at = $6
			WHERE id = $1 RETURNING `+portfolioColumns,
			id, p.Name, p.Description, p.UserID, p.TeamID, p.UpdatedAt))
		if err != nil {
			return err
		}
		return addEvents(ctx, tx, emit(out))
	})
	if err != nil {
		return portfolio.Portfolio{}, fmt.Errorf("update portfolio %d: %w", id, err)
	}
	return out, nil
}

const snapshotColumns = `id, portfolio_id, as_of, nav::text, net_flow::text, units::text, nav_per_unit::text,
	profit::text, return_::text, prev_snapshot_id, user_id, team_id, created_at`

func scanSnapshot(row pgx.Row) (portfolio.Snapshot, error) {
	var (
		s                         portfolio.Snapshot
		nav, netFlow, profit      string
		units, perUnit, periodRet *string
	)
	err := row.Scan(&s.ID, &s.PortfolioID, &s.AsOf, &nav, &netFlow, &units, &perUnit, &profit, &periodRet,
		&s.PrevSnapshotID, &s.UserID, &s.TeamID, &s.CreatedAt)
	if err != nil {
		return s, fmt.Errorf("read snapshot: %w", err)
	}
	s.AsOf, s.CreatedAt = s.AsOf.UTC(), s.CreatedAt.UTC()
	for _, f := range []struct {
		text *string
		into *money.Amount
	}{{&nav, &s.NAV}, {&netFlow, &s.NetFlow}, {&profit, &s.Profit}} {
		if f.into.Decimal, err = money.ParseNumeric(*f.text); err != nil {
			return s, fmt.Errorf("snapshot %d: %w", s.ID, err)
		}
	}
	for _, f := range []struct {
		text *string
		into **money.Amount
	}{{units, &s.Units}, {perUnit, &s.NAVPerUnit}, {periodRet, &s.PeriodReturn}} {
		if f.text == nil {
			continue
		}
		d, err := money.ParseNumeric(*f.text)
		if err != nil {
			return s, fmt.Errorf("snapshot %d: %w", s.ID, err)
		}
		a := money.NewAmount(d)
		*f.into = &a
	}
	return s, nil
}

func decimalOrNil(a *money.Amount) any {
	if a == nil {
		return nil
	}
	return a.Decimal.String()
}

// RecordNAV implements portfolio.Store. The portfolio's row lock
// serialises the valuations of one portfolio: each sees the snapshot the
// previous one stored, so no two snapshots share a predecessor (which the
// schema's unique prev_snapshot_id also guarantees).
func (s *Store) RecordNAV(ctx context.Context, portfolioID int64, fn func(portfolio.Portfolio, *portfolio.Snapshot) (portfolio.Snapshot, error), emit func(*portfolio.Snapshot, portfolio.Snapshot) []portfolio.Event) (portfolio.Snapshot, error) {
	// From here on the outcome, whatever it is, answers every repeat of
	// the request's Idempotency-Key.
	idempotency.Started(ctx)
	var out portfolio.Snapshot
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		// The lock, then the latest snapshot read under it: one round trip.
		b := &pgx.Batch{}
		b.Queue(`SELECT `+portfolioColumns+` FROM portfolios WHERE id = $1 FOR UPDATE`, portfolioID)
		b.Queue(`SELECT `+snapshotColumns+` FROM nav_snapshots WHERE portfolio_id = $1 ORDER BY as_of DESC LIMIT 1`, portfolioID)
		br := tx.SendBatch(ctx, b)
		p, err := scanPortfolio(br.QueryRow())
		if err != nil {
			return errors.Join(err, br.Close())
		}
		var prev *portfolio.Snapshot
		last, err := scanSnapshot(br.QueryRow())
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return errors.Join(err, br.Close())
		default:
			prev = &last
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("lock portfolio and read its latest snapshot: %w", err)
		}
		snap, err := fn(p, prev)
		if err != nil {
			return err // the service's decision (portfolio's errors)
		}
		out, err = scanSnapshot(tx.QueryRow(ctx, `
			INSERT INTO nav_snapshots (portfolio_id, as_of, nav, net_flow, units, nav_per_unit, profit, return_,
				prev_snapshot_id, user_id, team_id, created_at)
			VALUES ($1, $2, $3::text::numeric, $4::text::numeric, $5::text::numeric, $6::text::numeric, $7::text::numeric,
				$8::text::numeric, $9, $10, $11, $12)
			RETURNING `+snapshotColumns,
			snap.PortfolioID, snap.AsOf, snap.NAV.Decimal.String(), snap.NetFlow.Decimal.String(), decimalOrNil(snap.Units),
			decimalOrNil(snap.NAVPerUnit), snap.Profit.Decimal.String(), decimalOrNil(snap.PeriodReturn),
			snap.PrevSnapshotID, snap.UserID, snap.TeamID, snap.CreatedAt))
		if err != nil {
			return fmt.Errorf("insert snapshot: %w", err)
		}
		out.Currency = snap.Currency // the portfolio's, not a column of the snapshot
		return addEvents(ctx, tx, emit(prev, out))
	})
	if err != nil {
		return portfolio.Snapshot{}, fmt.Errorf("record NAV of portfolio %d: %w", portfolioID, err)
	}
	return out, nil
}

// ListSnapshots implements portfolio.Store: oldest first.
func (s *Store) ListSnapshots(ctx context.Context, portfolioID int64, f portfolio.SnapshotFilter, p httpx.Pagination) ([]portfolio.Snapshot, int64, error) {
	var q pg.Filter
	q.Where("portfolio_id = " + q.Arg(portfolioID))
	if f.From != nil {
		q.Where("as_of >= " + q.Arg(*f.From))
	}
	if f.To != nil {
		q.Where("as_of <= " + q.Arg(*f.To))
	}
	return pg.List(ctx, s.Pool, pg.Listing{What: fmt.Sprintf("snapshots of portfolio %d", portfolioID), Columns: snapshotColumns,
		From: "nav_snapshots", Order: "as_of, id"}, &q, p.Limit, p.Offset, scanSnapshot)
}
