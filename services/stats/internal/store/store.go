// Package store is the stats service's PostgreSQL adapter: it implements
// stats.Store over the pre-aggregated read models, and stats.RunStore (Run)
// to lock and read the state the domain decides a run of events over and
// to write what it decided, in the inbox consumer's transaction
// (docs/api.md#stats-service); it embeds the service's migrations.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/stats/internal/stats"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the service's schema migrations: the read models (00001,
// then 00003 to 00006) and the inbox's tables (00002, inbox.Migration).
func Migrations() fs.FS {
	return pg.EmbeddedMigrations(migrationFiles, "migrations", inbox.MigrationFile("00002_inbox.sql"))
}

// Store implements stats.Store; Run binds its write side to a transaction.
type Store struct{ pg.Store }

var _ stats.Store = (*Store)(nil)

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pg.Store{Pool: pool}} }

// hour is the UTC hour bucket of t.
func hour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// --- reading -----------------------------------------------------------------

func decimals(texts []string, dst ...*decimal.Decimal) error {
	for i, d := range dst {
		v, err := money.ParseNumeric(texts[i])
		if err != nil {
			return fmt.Errorf("store: decimal %q: %w", texts[i], err)
		}
		*d = v
	}
	return nil
}

// Overview implements stats.Store: the counts of the overview row, the
// money of currency_totals (migration 00006), one row per currency.
func (s *Store) Overview(ctx context.Context) (stats.Overview, error) {
	var o stats.Overview
	err := s.Pool.QueryRow(ctx, `SELECT portfolios, allocations, withdrawals, reallocations, last_event_at
		FROM overview WHERE id = 1`).Scan(&o.Counts.Portfolios, &o.Counts.Allocations, &o.Counts.Withdrawals,
		&o.Counts.Reallocations, &o.LastEventAt)
	if err != nil {
		return o, fmt.Errorf("store: read the overview: %w", err)
	}
	if o.LastEventAt != nil {
		u := o.LastEventAt.UTC()
		o.LastEventAt = &u
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT currency, total_profit::text, total_distributed::text, to_team_total::text, to_platform_total::text,
		       to_user_total::text, loss_carryforward_total::text, withdrawals_pending_amount::text,
		       withdrawals_completed_amount::text, withdrawals_failed_amount::text, reallocated_total::text
		  FROM currency_totals ORDER BY currency`)
	if err != nil {
		return o, fmt.Errorf("store: read the currency totals: %w", err)
	}
	o.Totals, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (stats.CurrencyTotals, error) {
		var c stats.CurrencyTotals
		t := make([]string, 10)
		if err := row.Scan(&c.Currency, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &t[8], &t[9]); err != nil {
			return c, err
		}
		return c, decimals(t, &c.TotalProfit, &c.TotalDistributed, &c.ToTeam, &c.ToPlatform, &c.ToUser, &c.LossCarryforward,
			&c.WithdrawalsPending, &c.WithdrawalsCompleted, &c.WithdrawalsFailed, &c.Reallocated)
	})
	if err != nil {
		return o, fmt.Errorf("store: read the currency totals: %w", err)
	}
	return o, nil
}

// PortfolioOwners implements stats.Store.
func (s *Store) PortfolioOwners(ctx context.Context, id int64) (stats.Owners, error) {
	o := stats.Owners{PortfolioID: id}
	err := s.Pool.QueryRow(ctx, `SELECT user_id, team_id FROM portfolio_owners WHERE portfolio_id = $1`, id).Scan(&o.UserID, &o.TeamID)
	if err = pg.ReadErr(err, stats.ErrPortfolioNotFound, fmt.Sprintf("store: read the owners of portfolio %d", id)); err != nil {
		return o, err
	}
	return o, nil
}

const totalsColumns = `t.portfolio_id, t.currency, t.acc_profit::text, t.distributed::text, t.to_team_total::text,
	t.to_platform_total::text, t.to_user_total::text, t.loss_carryforward::text, t.updated_at`

func scanTotals(row pgx.Row) (stats.PortfolioTotals, error) {
	var p stats.PortfolioTotals
	t := make([]string, 6)
	if err := row.Scan(&p.PortfolioID, &p.Currency, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &p.UpdatedAt); err != nil {
		return p, err
	}
	if p.UpdatedAt != nil {
		u := p.UpdatedAt.UTC()
		p.UpdatedAt = &u
	}
	return p, decimals(t, &p.AccProfit, &p.Distributed, &p.ToTeam, &p.ToPlatform, &p.ToUser, &p.LossCarryforward)
}

// PortfolioTotals implements stats.Store: a portfolio without totals has
// zeros in its known currency, else in the base currency.
func (s *Store) PortfolioTotals(ctx context.Context, id int64) (stats.PortfolioTotals, error) {
	p, err := scanTotals(s.Pool.QueryRow(ctx, `SELECT `+totalsColumns+` FROM portfolio_totals t WHERE t.portfolio_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		cur := eventbus.BaseCurrency
		err = s.Pool.QueryRow(ctx, `SELECT coalesce(max(currency), $2) FROM portfolio_owners WHERE portfolio_id = $1`, id, cur).Scan(&cur)
		return stats.ZeroTotals(id, cur), err
	}
	if err != nil {
		return p, fmt.Errorf("store: read the totals of portfolio %d: %w", id, err)
	}
	return p, nil
}

// ListPortfolioTotals implements stats.Store.
func (s *Store) ListPortfolioTotals(ctx context.Context, readableBy *stats.Caller, p httpx.Pagination) ([]stats.PortfolioTotals, int64, error) {
	var q pg.Filter
	from := `portfolio_totals t`
	if readableBy != nil {
		from = `portfolio_totals t JOIN portfolio_owners o ON o.portfolio_id = t.portfolio_id`
		q.Owned(`(o.user_id = %s OR o.team_id = ANY(%s))`, readableBy.UserID, readableBy.Teams)
	}
	return pg.List(ctx, s.Pool, pg.Listing{Prefix: "store: ", What: "portfolio totals", Columns: totalsColumns, From: from, Order: "t.portfolio_id DESC"},
		&q, p.Limit, p.Offset, scanTotals)
}

// rangeArgs are a Range's bounds as query arguments: from taken down to
// its hour (inclusive), to exclusive; nil when open.
func rangeArgs(r stats.Range) (from, to *time.Time) {
	if r.From != nil {
		f := hour(*r.From)
		from = &f
	}
	if r.To != nil {
		t := r.To.UTC()
		to = &t
	}
	return from, to
}

// Hourly implements stats.Store: oldest first, then by currency.
func (s *Store) Hourly(ctx context.Context, o stats.Owner, currency string, r stats.Range, p httpx.Pagination) ([]stats.HourlyProfit, int64, error) {
	from, to := rangeArgs(r)
	const where = ` FROM hourly_currency_profit WHERE owner_type = $1 AND owner_id = $2
		AND ($3::timestamptz IS NULL OR hour >= $3) AND ($4::timestamptz IS NULL OR hour < $4)
		AND ($5 = '' OR currency = $5)`
	var total int64
	if err := s.Pool.QueryRow(ctx, `SELECT count(*)`+where, o.Type, o.ID, from, to, currency).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count hourly profit of %s %d: %w", o.Type, o.ID, err)
	}
	rows, err := s.Pool.Query(ctx, `SELECT hour, currency, profit::text`+where+` ORDER BY hour, currency LIMIT $6 OFFSET $7`,
		o.Type, o.ID, from, to, currency, p.Limit, p.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: hourly profit of %s %d: %w", o.Type, o.ID, err)
	}
	hours, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (stats.HourlyProfit, error) {
		var h stats.HourlyProfit
		var text string
		if err := row.Scan(&h.Hour, &h.Currency, &text); err != nil {
			return h, err
		}
		h.Hour = h.Hour.UTC()
		return h, decimals([]string{text}, &h.Profit)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: hourly profit of %s %d: %w", o.Type, o.ID, err)
	}
	return hours, total, nil
}

// The columns of a summary row after its key; the last, a window over
// the whole answer (computed after GROUP BY, before LIMIT), is how many rows
// it has in all, so one query gives a page and its total.
const (
	summarySums = `sum(profit)::text, sum(distributed)::text, sum(to_team)::text, sum(to_platform)::text,
	sum(to_user)::text, sum(withdrawn)::text, count(*) OVER ()`
	// summaryColumns are summarySums of a single row: a roll-up read at
	// its own grain needs no aggregate.
	summaryColumns = `profit::text, distributed::text, to_team::text, to_platform::text, to_user::text, withdrawn::text, count(*) OVER ()`
)

// Summary implements stats.Store: a SUM over the rows of one dimension
// within the range, per key and currency, from the tables keyed by
// currency (migration 00006). It reads the coarsest roll-up the range
// allows (see migration 00003): summary_currency_totals without a range,
// summary_currency_daily when the range is whole UTC days,
// summary_currency_hourly otherwise; where that table already holds one
// row per answer row (the totals by key, the days or hours of the whole
// platform) the rows are read as they are. Keys of portfolio, team and
// user are ids, in ascending order; day keys are dates (2026-01-31) and
// hour keys RFC 3339 hours, oldest first; each key's rows by currency.
func (s *Store) Summary(ctx context.Context, groupBy, currency string, r stats.Range, p httpx.Pagination) ([]stats.SummaryRow, int64, error) {
	from, to := rangeArgs(r)
	daily := dayAligned(from) && dayAligned(to)
	table, bucket := "summary_currency_hourly", "hour"
	if daily {
		table, bucket = "summary_currency_daily", "day"
	}
	where := ` WHERE dimension = $1 AND ($4 = '' OR currency = $4)`
	inRange := ` AND ($2::timestamptz IS NULL OR ` + bucket + ` >= $2) AND ($3::timestamptz IS NULL OR ` + bucket + ` < $3)`
	var dimension, query string
	switch groupBy {
	case stats.GroupPortfolio, stats.GroupTeam, stats.GroupUser:
		dimension = groupBy
		query = `SELECT key, currency, ` + summarySums + ` FROM ` + table + where + inRange +
			` GROUP BY key, currency ORDER BY key::bigint, currency`
		if from == nil && to == nil {
			query = `SELECT key, currency, ` + summaryColumns + ` FROM summary_currency_totals` + where +
				` AND $2::timestamptz IS NULL AND $3::timestamptz IS NULL ORDER BY key::bigint, currency`
		}
	case stats.GroupDay:
		dimension = "all"
		query = `SELECT to_char(date_trunc('day', hour, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS k, currency, ` + summarySums +
			` FROM summary_currency_hourly` + where + inRange + ` GROUP BY k, currency ORDER BY k, currency`
		if daily {
			query = `SELECT to_char(day AT TIME ZONE 'UTC', 'YYYY-MM-DD'), currency, ` + summaryColumns +
				` FROM summary_currency_daily` + where + inRange + ` ORDER BY day, currency`
		}
	case stats.GroupHour:
		dimension = "all"
		inRange = ` AND ($2::timestamptz IS NULL OR hour >= $2) AND ($3::timestamptz IS NULL OR hour < $3)`
		query = `SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"'), currency, ` + summaryColumns +
			` FROM summary_currency_hourly` + where + inRange + ` ORDER BY hour, currency`
	default:
		return nil, 0, fmt.Errorf("store: unknown summary dimension %q", groupBy)
	}
	out, total, err := s.summaryPage(ctx, query, []any{dimension, from, to, currency, p.Limit, p.Offset})
	if err == nil && len(out) == 0 && p.Offset > 0 {
		// A page past the end has no row to carry the total.
		err = s.Pool.QueryRow(ctx, `SELECT count(*) FROM (`+query+`) q`, dimension, from, to, currency).Scan(&total)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("store: summary by %s: %w", groupBy, err)
	}
	return out, total, nil
}

// summaryPage runs query, a summary query with $1..$4, for the page $5,
// $6, and returns its rows and the total of the last column.
func (s *Store) summaryPage(ctx context.Context, query string, args []any) ([]stats.SummaryRow, int64, error) {
	rows, err := s.Pool.Query(ctx, query+` LIMIT $5 OFFSET $6`, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	// The amounts are text; their raw bytes are parsed in place (an answer
	// has thousands of rows of six amounts).
	var out []stats.SummaryRow
	var total int64
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != 9 || raw[0] == nil || raw[1] == nil {
			return nil, 0, fmt.Errorf("summary row of %d columns", len(raw))
		}
		if len(out) == 0 {
			if err := rows.Scan(nil, nil, nil, nil, nil, nil, nil, nil, &total); err != nil {
				return nil, 0, err
			}
		}
		sr := stats.SummaryRow{Key: string(raw[0]), Currency: string(raw[1])}
		for i, d := range [...]*decimal.Decimal{&sr.Profit, &sr.Distributed, &sr.ToTeam, &sr.ToPlatform, &sr.ToUser, &sr.Withdrawn} {
			v, err := money.ParseNumeric(raw[i+2])
			if err != nil {
				return nil, 0, fmt.Errorf("summary %q amount %q: %w", sr.Key, raw[i+2], err)
			}
			*d = v
		}
		out = append(out, sr)
	}
	return out, total, rows.Err()
}

// dayAligned reports whether a range bound is absent or midnight UTC.
func dayAligned(t *time.Time) bool {
	return t == nil || t.UTC().Equal(t.UTC().Truncate(24*time.Hour))
}

// LastEventAt implements stats.Store.
func (s *Store) LastEventAt(ctx context.Context) (*time.Time, error) {
	var t *time.Time
	if err := s.Pool.QueryRow(ctx, `SELECT last_event_at FROM overview WHERE id = 1`).Scan(&t); err != nil {
		return nil, fmt.Errorf("store: read last_event_at: %w", err)
	}
	if t != nil {
		u := t.UTC()
		t = &u
	}
	return t, nil
}
