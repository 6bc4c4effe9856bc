// Package store is the stats service's PostgreSQL adapter: it applies
// events to the pre-aggregated read models (in the inbox consumer's
// transaction), implements stats.Store over them, and embeds the
// service's migrations.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/services/stats/internal/stats"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the service's schema migrations: the read models (00001)
// and the inbox (00002, a copy of inbox.Migration).
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}

// Store implements stats.Store and applies events.
type Store struct{ pool *pgxpool.Pool }

var _ stats.Store = (*Store)(nil)

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// hour is the UTC hour bucket of t.
func hour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// --- applying events (in the consumer's transaction) -------------------------

// Touch is the first statement of every event's transaction: it moves
// last_event_at to the event's time (never backwards) and counts the
// event. It locks the overview row, so the consumer's transactions (one
// per partition) queue here and never lock rows in opposite orders.
func (s *Store) Touch(ctx context.Context, tx pgx.Tx, eventTime time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE overview SET events_applied = events_applied + 1,
		last_event_at = GREATEST(last_event_at, $1) WHERE id = 1`, eventTime.UTC())
	return err
}

// ApplyPortfolio records portfolio.created or portfolio.updated: the
// portfolio's owners, and a zero totals row so that it is listed.
func (s *Store) ApplyPortfolio(ctx context.Context, tx pgx.Tx, o stats.Owners) error {
	var inserted bool
	err := tx.QueryRow(ctx, `
		INSERT INTO portfolio_owners (portfolio_id, user_id, team_id) VALUES ($1, $2, $3)
		ON CONFLICT (portfolio_id) DO UPDATE
		   SET user_id = EXCLUDED.user_id, team_id = EXCLUDED.team_id, updated_at = now()
		RETURNING (xmax = 0)`, o.PortfolioID, o.UserID, o.TeamID).Scan(&inserted)
	if err != nil {
		return err
	}
	if inserted {
		if _, err := tx.Exec(ctx, `UPDATE overview SET portfolios = portfolios + 1 WHERE id = 1`); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO portfolio_totals (portfolio_id) VALUES ($1) ON CONFLICT DO NOTHING`, o.PortfolioID)
	return err
}

// ProfitRecorded is what a portfolio.profit_recorded event says.
type ProfitRecorded struct {
	PortfolioID, SnapshotID, UserID, TeamID int64
	PeriodEnd                               time.Time
	Profit                                  decimal.Decimal
}

// ApplyProfitRecorded records a NAV profit or loss. NAV profits are counted
// here, losses included, because the profit service announces only the
// allocations that distribute something (profit.allocated): the total and
// accumulated profit, the summary's profit at the hour of period_end, and
// the portfolio's loss carry-forward. The money of the allocation comes
// with profit.allocated. A snapshot seen before is skipped, as the profit
// service skips it.
func (s *Store) ApplyProfitRecorded(ctx context.Context, tx pgx.Tx, r ProfitRecorded, eventTime time.Time) error {
	tag, err := tx.Exec(ctx, `INSERT INTO applied_snapshots (portfolio_id, snapshot_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		r.PortfolioID, r.SnapshotID)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE overview SET profits_recorded = profits_recorded + 1, total_profit = total_profit + $1 WHERE id = 1`,
		r.Profit.String())
	queueProfit(b, r.PortfolioID, r.UserID, r.TeamID, hour(r.PeriodEnd), r.Profit, eventTime)
	if err := sendAll(ctx, tx, b); err != nil {
		return err
	}
	return carryForward(ctx, tx, r.PortfolioID, r.Profit)
}

// sendAll sends b's statements in one round trip (they do not depend on
// each other's results) and fails on the first that fails.
func sendAll(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	br := tx.SendBatch(ctx, b)
	for range b.Len() {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return err
		}
	}
	return br.Close()
}

// queueProfit queues the statements that add a recorded profit to the
// portfolio's accumulated profit and to the summary rows of its portfolio,
// team, user and the whole platform.
func queueProfit(b *pgx.Batch, portfolioID, userID, teamID int64, h time.Time, p decimal.Decimal, at time.Time) {
	b.Queue(`
		INSERT INTO portfolio_totals AS t (portfolio_id, acc_profit, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (portfolio_id) DO UPDATE SET acc_profit = t.acc_profit + EXCLUDED.acc_profit,
		    updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at)`, portfolioID, p.String(), at.UTC())
	for _, d := range summaryKeys(portfolioID, userID, teamID) {
		b.Queue(`
			INSERT INTO summary_hourly AS s (dimension, key, hour, profit) VALUES ($1, $2, $3, $4)
			ON CONFLICT (dimension, key, hour) DO UPDATE SET profit = s.profit + EXCLUDED.profit`,
			d.dimension, d.key, h, p.String())
	}
}

type summaryKey struct{ dimension, key string }

func summaryKeys(portfolioID, userID, teamID int64) []summaryKey {
	return []summaryKey{
		{stats.GroupPortfolio, strconv.FormatInt(portfolioID, 10)},
		{stats.GroupTeam, strconv.FormatInt(teamID, 10)},
		{stats.GroupUser, strconv.FormatInt(userID, 10)},
		{"all", ""},
	}
}

// carryForward applies the contract's rule carry = max(0, carry − p) to
// the portfolio's carry-forward and the overview's total.
func carryForward(ctx context.Context, tx pgx.Tx, portfolioID int64, p decimal.Decimal) error {
	if _, err := tx.Exec(ctx, `INSERT INTO portfolio_totals (portfolio_id) VALUES ($1) ON CONFLICT DO NOTHING`, portfolioID); err != nil {
		return err
	}
	var text string
	if err := tx.QueryRow(ctx, `SELECT loss_carryforward::text FROM portfolio_totals WHERE portfolio_id = $1 FOR UPDATE`,
		portfolioID).Scan(&text); err != nil {
		return err
	}
	before, err := decimal.NewFromString(text)
	if err != nil {
		return err
	}
	after := decimal.Max(decimal.Zero, before.Sub(p))
	if after.Equal(before) {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE portfolio_totals SET loss_carryforward = $2 WHERE portfolio_id = $1`,
		portfolioID, after.String()); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE overview SET loss_carryforward_total = loss_carryforward_total + $1 WHERE id = 1`,
		after.Sub(before).String())
	return err
}

// Allocation is what a profit.allocated event says.
type Allocation struct {
	AllocationID, PortfolioID, UserID, TeamID int64
	Manual                                    bool
	PeriodEnd                                 time.Time
	Profit, Distributable                     decimal.Decimal
	ToTeam, ToPlatform, ToUser                decimal.Decimal
}

// ApplyAllocated adds one allocation to every model it touches: the
// portfolio's totals, the hourly credits of its user, team and the
// platform, the summary rows of its portfolio, team, user and the whole
// platform at the hour of period_end, and the overview. A manual profit
// also moves the carry-forward. An allocation id seen before is skipped.
func (s *Store) ApplyAllocated(ctx context.Context, tx pgx.Tx, a Allocation, eventTime time.Time) error {
	tag, err := tx.Exec(ctx, `INSERT INTO applied_allocations (allocation_id) VALUES ($1) ON CONFLICT DO NOTHING`, a.AllocationID)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	// A NAV profit was counted when it was recorded (ApplyProfitRecorded);
	// a manual one is announced only here.
	profit := decimal.Zero
	if a.Manual {
		profit = a.Profit
	}
	amounts := []any{profit.String(), a.Distributable.String(), a.ToTeam.String(), a.ToPlatform.String(), a.ToUser.String()}
	// The statements below do not depend on each other: one round trip.
	b := &pgx.Batch{}
	b.Queue(`UPDATE overview SET allocations = allocations + 1,
		total_profit = total_profit + $1, total_distributed = total_distributed + $2,
		to_team_total = to_team_total + $3, to_platform_total = to_platform_total + $4, to_user_total = to_user_total + $5
		WHERE id = 1`, amounts...)
	b.Queue(`
		INSERT INTO portfolio_totals AS t (portfolio_id, acc_profit, distributed, to_team_total, to_platform_total, to_user_total, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (portfolio_id) DO UPDATE SET
		    acc_profit = t.acc_profit + EXCLUDED.acc_profit, distributed = t.distributed + EXCLUDED.distributed,
		    to_team_total = t.to_team_total + EXCLUDED.to_team_total,
		    to_platform_total = t.to_platform_total + EXCLUDED.to_platform_total,
		    to_user_total = t.to_user_total + EXCLUDED.to_user_total,
		    updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at)`,
		append([]any{a.PortfolioID}, append(amounts, eventTime.UTC())...)...)
	h := hour(a.PeriodEnd)
	for _, credit := range []struct {
		ownerType string
		ownerID   int64
		amount    decimal.Decimal
	}{{stats.OwnerUser, a.UserID, a.ToUser}, {stats.OwnerTeam, a.TeamID, a.ToTeam}, {stats.OwnerPlatform, 0, a.ToPlatform}} {
		if credit.amount.IsZero() {
			continue
		}
		b.Queue(`
			INSERT INTO hourly_owner_profit AS h (owner_type, owner_id, hour, profit) VALUES ($1, $2, $3, $4)
			ON CONFLICT (owner_type, owner_id, hour) DO UPDATE SET profit = h.profit + EXCLUDED.profit`,
			credit.ownerType, credit.ownerID, h, credit.amount.String())
	}
	for _, d := range summaryKeys(a.PortfolioID, a.UserID, a.TeamID) {
		b.Queue(`
			INSERT INTO summary_hourly AS s (dimension, key, hour, profit, distributed, to_team, to_platform, to_user)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (dimension, key, hour) DO UPDATE SET
			    profit = s.profit + EXCLUDED.profit, distributed = s.distributed + EXCLUDED.distributed,
			    to_team = s.to_team + EXCLUDED.to_team, to_platform = s.to_platform + EXCLUDED.to_platform,
			    to_user = s.to_user + EXCLUDED.to_user`,
			append([]any{d.dimension, d.key, h}, amounts...)...)
	}
	if err := sendAll(ctx, tx, b); err != nil {
		return err
	}
	if a.Manual {
		return carryForward(ctx, tx, a.PortfolioID, a.Profit)
	}
	return nil
}

// ApplyRatioChanged counts a profit.ratio_changed event.
func (s *Store) ApplyRatioChanged(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE overview SET ratio_changes = ratio_changes + 1 WHERE id = 1`)
	return err
}

// Withdrawal is what a withdrawal.* event says.
type Withdrawal struct {
	ID       int64
	FromType string
	OwnerID  int64
	Amount   decimal.Decimal
	// Status is pending (withdrawal.requested), completed or failed.
	Status string
}

// Withdrawal statuses.
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// ApplyWithdrawal moves a withdrawal's amount between the status totals,
// once per transition, whatever order the events arrive in: the first
// event of a withdrawal adds it to its status (and to the count);
// pending → completed/failed moves it; anything else (a repeat, a
// requested after its outcome, an outcome after the other outcome) changes
// nothing. Completed amounts are also added to the summary's withdrawn at
// the hour of the event, under the owner's team or user key.
func (s *Store) ApplyWithdrawal(ctx context.Context, tx pgx.Tx, w Withdrawal, eventTime time.Time) error {
	var prev string
	err := tx.QueryRow(ctx, `SELECT status FROM withdrawal_states WHERE withdrawal_id = $1 FOR UPDATE`, w.ID).Scan(&prev)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO withdrawal_states (withdrawal_id, status, amount) VALUES ($1, $2, $3)`,
			w.ID, w.Status, w.Amount.String()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE overview SET withdrawals = withdrawals + 1 WHERE id = 1`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE withdrawals_by_status SET amount = amount + $2, count = count + 1 WHERE status = $1`,
			w.Status, w.Amount.String()); err != nil {
			return err
		}
	case err != nil:
		return err
	case prev == StatusPending && w.Status != StatusPending:
		// The amount moved is the one recorded when it was requested.
		var amount string
		if err := tx.QueryRow(ctx, `UPDATE withdrawal_states SET status = $2, updated_at = now() WHERE withdrawal_id = $1
			RETURNING amount::text`, w.ID, w.Status).Scan(&amount); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE withdrawals_by_status SET
			    amount = amount + CASE WHEN status = $1 THEN -$3::numeric ELSE $3::numeric END,
			    count = count + CASE WHEN status = $1 THEN -1 ELSE 1 END
			WHERE status IN ($1, $2)`, StatusPending, w.Status, amount); err != nil {
			return err
		}
	default:
		return nil
	}
	if w.Status != StatusCompleted {
		return nil
	}
	keys := []struct{ dimension, key string }{{"all", ""}}
	switch w.FromType {
	case stats.OwnerUser:
		keys = append(keys, struct{ dimension, key string }{stats.GroupUser, strconv.FormatInt(w.OwnerID, 10)})
	case stats.OwnerTeam:
		keys = append(keys, struct{ dimension, key string }{stats.GroupTeam, strconv.FormatInt(w.OwnerID, 10)})
	}
	b := &pgx.Batch{}
	for _, k := range keys {
		b.Queue(`
			INSERT INTO summary_hourly AS s (dimension, key, hour, withdrawn) VALUES ($1, $2, $3, $4)
			ON CONFLICT (dimension, key, hour) DO UPDATE SET withdrawn = s.withdrawn + EXCLUDED.withdrawn`,
			k.dimension, k.key, hour(eventTime), w.Amount.String())
	}
	return sendAll(ctx, tx, b)
}

// ApplyReallocated adds a funds.reallocated event's amount to the total;
// a reallocation id seen before is skipped.
func (s *Store) ApplyReallocated(ctx context.Context, tx pgx.Tx, reallocationID int64, amount decimal.Decimal) error {
	tag, err := tx.Exec(ctx, `INSERT INTO applied_reallocations (reallocation_id) VALUES ($1) ON CONFLICT DO NOTHING`, reallocationID)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE overview SET reallocations = reallocations + 1, reallocated_total = reallocated_total + $1
		WHERE id = 1`, amount.String())
	return err
}

// --- reading -----------------------------------------------------------------

func decimals(texts []string, dst ...*decimal.Decimal) error {
	for i, d := range dst {
		v, err := decimal.NewFromString(texts[i])
		if err != nil {
			return fmt.Errorf("store: decimal %q: %w", texts[i], err)
		}
		*d = v
	}
	return nil
}

// Overview implements stats.Store.
func (s *Store) Overview(ctx context.Context) (stats.Overview, error) {
	var o stats.Overview
	t := make([]string, 10)
	err := s.pool.QueryRow(ctx, `
		SELECT o.total_profit::text, o.total_distributed::text, o.to_team_total::text, o.to_platform_total::text,
		       o.to_user_total::text, o.loss_carryforward_total::text,
		       (SELECT amount::text FROM withdrawals_by_status WHERE status = 'pending'),
		       (SELECT amount::text FROM withdrawals_by_status WHERE status = 'completed'),
		       (SELECT amount::text FROM withdrawals_by_status WHERE status = 'failed'),
		       o.reallocated_total::text, o.portfolios, o.allocations, o.withdrawals, o.reallocations, o.last_event_at
		  FROM overview o WHERE o.id = 1`).Scan(&t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &t[8], &t[9],
		&o.Counts.Portfolios, &o.Counts.Allocations, &o.Counts.Withdrawals, &o.Counts.Reallocations, &o.LastEventAt)
	if err != nil {
		return o, err
	}
	if o.LastEventAt != nil {
		u := o.LastEventAt.UTC()
		o.LastEventAt = &u
	}
	return o, decimals(t, &o.TotalProfit, &o.TotalDistributed, &o.ToTeam, &o.ToPlatform, &o.ToUser, &o.LossCarryforward,
		&o.WithdrawalsPending, &o.WithdrawalsCompleted, &o.WithdrawalsFailed, &o.Reallocated)
}

// PortfolioOwners implements stats.Store.
func (s *Store) PortfolioOwners(ctx context.Context, id int64) (stats.Owners, error) {
	o := stats.Owners{PortfolioID: id}
	err := s.pool.QueryRow(ctx, `SELECT user_id, team_id FROM portfolio_owners WHERE portfolio_id = $1`, id).Scan(&o.UserID, &o.TeamID)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, stats.ErrPortfolioNotFound
	}
	return o, err
}

const totalsColumns = `t.portfolio_id, t.acc_profit::text, t.distributed::text, t.to_team_total::text,
	t.to_platform_total::text, t.to_user_total::text, t.updated_at`

func scanTotals(row pgx.Row) (stats.PortfolioTotals, error) {
	var p stats.PortfolioTotals
	t := make([]string, 5)
	if err := row.Scan(&p.PortfolioID, &t[0], &t[1], &t[2], &t[3], &t[4], &p.UpdatedAt); err != nil {
		return p, err
	}
	if p.UpdatedAt != nil {
		u := p.UpdatedAt.UTC()
		p.UpdatedAt = &u
	}
	return p, decimals(t, &p.AccProfit, &p.Distributed, &p.ToTeam, &p.ToPlatform, &p.ToUser)
}

// PortfolioTotals implements stats.Store.
func (s *Store) PortfolioTotals(ctx context.Context, id int64) (stats.PortfolioTotals, error) {
	p, err := scanTotals(s.pool.QueryRow(ctx, `SELECT `+totalsColumns+` FROM portfolio_totals t WHERE t.portfolio_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return stats.ZeroTotals(id), nil
	}
	return p, err
}

// ListPortfolioTotals implements stats.Store.
func (s *Store) ListPortfolioTotals(ctx context.Context, readableBy *stats.Caller, p stats.Page) ([]stats.PortfolioTotals, int64, error) {
	from, args := ` FROM portfolio_totals t`, []any{}
	if readableBy != nil {
		teams := readableBy.Teams
		if teams == nil {
			teams = []int64{}
		}
		from = ` FROM portfolio_totals t JOIN portfolio_owners o ON o.portfolio_id = t.portfolio_id
			WHERE o.user_id = $1 OR o.team_id = ANY($2)`
		args = append(args, readableBy.UserID, teams)
	}
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+from, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	args = append(args, p.Limit, p.Offset)
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT %s%s ORDER BY t.portfolio_id DESC LIMIT $%d OFFSET $%d`,
		totalsColumns, from, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stats.PortfolioTotals, error) { return scanTotals(r) })
	return out, total, err
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

// Hourly implements stats.Store: oldest first.
func (s *Store) Hourly(ctx context.Context, o stats.Owner, r stats.Range) ([]stats.HourlyProfit, error) {
	from, to := rangeArgs(r)
	rows, err := s.pool.Query(ctx, `
		SELECT hour, profit::text FROM hourly_owner_profit
		 WHERE owner_type = $1 AND owner_id = $2
		   AND ($3::timestamptz IS NULL OR hour >= $3) AND ($4::timestamptz IS NULL OR hour < $4)
		 ORDER BY hour`, o.Type, o.ID, from, to)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (stats.HourlyProfit, error) {
		var h stats.HourlyProfit
		var text string
		if err := row.Scan(&h.Hour, &text); err != nil {
			return h, err
		}
		h.Hour = h.Hour.UTC()
		return h, decimals([]string{text}, &h.Profit)
	})
}

const summarySums = `sum(profit)::text, sum(distributed)::text, sum(to_team)::text, sum(to_platform)::text,
	sum(to_user)::text, sum(withdrawn)::text`

// Summary implements stats.Store: a SUM over the rows of one dimension
// within the range. It reads the coarsest roll-up the range allows (see
// migration 00003): summary_totals without a range, summary_daily when the
// range is whole UTC days, summary_hourly otherwise. Keys of portfolio,
// team and user are ids, in ascending order; day keys are dates
// (2026-01-31) and hour keys RFC 3339 hours, oldest first.
func (s *Store) Summary(ctx context.Context, groupBy string, r stats.Range) ([]stats.SummaryRow, error) {
	from, to := rangeArgs(r)
	daily := dayAligned(from) && dayAligned(to)
	table, bucket := "summary_hourly", "hour"
	if daily {
		table, bucket = "summary_daily", "day"
	}
	where := ` FROM ` + table + ` WHERE dimension = $1 AND ($2::timestamptz IS NULL OR ` + bucket + ` >= $2)
		AND ($3::timestamptz IS NULL OR ` + bucket + ` < $3)`
	var dimension, query string
	switch groupBy {
	case stats.GroupPortfolio, stats.GroupTeam, stats.GroupUser:
		dimension = groupBy
		if from == nil && to == nil {
			where = ` FROM summary_totals WHERE dimension = $1 AND $2::timestamptz IS NULL AND $3::timestamptz IS NULL`
		}
		query = `SELECT key, ` + summarySums + where + ` GROUP BY key ORDER BY key::bigint`
	case stats.GroupDay:
		dimension = "all"
		query = `SELECT to_char(date_trunc('day', ` + bucket + `, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS k, ` + summarySums +
			where + ` GROUP BY k ORDER BY k`
	case stats.GroupHour:
		dimension = "all"
		where = ` FROM summary_hourly WHERE dimension = $1 AND ($2::timestamptz IS NULL OR hour >= $2)
		AND ($3::timestamptz IS NULL OR hour < $3)`
		query = `SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"') AS k, ` + summarySums +
			where + ` GROUP BY k ORDER BY k`
	default:
		return nil, fmt.Errorf("store: unknown summary dimension %q", groupBy)
	}
	rows, err := s.pool.Query(ctx, query, dimension, from, to)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (stats.SummaryRow, error) {
		var sr stats.SummaryRow
		t := make([]string, 6)
		if err := row.Scan(&sr.Key, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5]); err != nil {
			return sr, err
		}
		return sr, decimals(t, &sr.Profit, &sr.Distributed, &sr.ToTeam, &sr.ToPlatform, &sr.ToUser, &sr.Withdrawn)
	})
}

// dayAligned reports whether a range bound is absent or midnight UTC.
func dayAligned(t *time.Time) bool {
	return t == nil || t.UTC().Equal(t.UTC().Truncate(24*time.Hour))
}

// LastEventAt implements stats.Store.
func (s *Store) LastEventAt(ctx context.Context) (*time.Time, error) {
	var t *time.Time
	err := s.pool.QueryRow(ctx, `SELECT last_event_at FROM overview WHERE id = 1`).Scan(&t)
	if t != nil {
		u := t.UTC()
		t = &u
	}
	return t, err
}
