package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/stats/internal/stats"
)

// --- applying events (in the consumer's transaction) -------------------------
//
// Apply applies a run of events in one transaction with the effect of
// applying them one at a time, in order. What each event adds is decided
// by the domain (stats.Accumulate, docs/api.md#stats-service); the store
// locks and reads the state the run is decided over, once per run, and
// writes the additions once per row, set-based, one statement per table,
// in one round trip (docs/performance.md).

// The events and withdrawal statuses are the domain's.
type (
	Event          = stats.Event
	ProfitRecorded = stats.ProfitRecorded
	Allocation     = stats.Allocation
	Withdrawal     = stats.Withdrawal
	Reallocation   = stats.Reallocation
)

// Withdrawal statuses.
const (
	StatusPending   = stats.StatusPending
	StatusCompleted = stats.StatusCompleted
	StatusFailed    = stats.StatusFailed
)

// Apply applies events, in order, in tx (the inbox consumer's
// transaction), as the service's Apply does through Run(tx).
func (s *Store) Apply(ctx context.Context, tx pgx.Tx, events []Event) error {
	return stats.ApplyRun(ctx, s.Run(tx), events)
}

// Run is the store's write side bound to tx: stats.RunStore.
func (s *Store) Run(tx pgx.Tx) stats.RunStore { return run{tx} }

type run struct{ tx pgx.Tx }

// Load implements stats.RunStore. The overview row first: every
// transaction of the consumer (one per partition) locks it before anything
// else, so they queue here and never lock rows in opposite orders.
// last_event_at never goes back. The transaction is marked as the one that
// writes the tables keyed by currency itself (migration 00006), so their
// triggers on the tables without a currency stand down for it.
func (r run) Load(ctx context.Context, events []Event) (stats.Prior, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('stats.currencies', 'app', true)`)
	b.Queue(`UPDATE overview SET events_applied = events_applied + $1,
		last_event_at = GREATEST(last_event_at, $2) WHERE id = 1`, len(events), stats.LastTime(events).UTC())
	if err := sendAll(ctx, r.tx, b); err != nil {
		return stats.Prior{}, fmt.Errorf("store: lock the overview: %w", err)
	}
	return load(ctx, r.tx, events)
}

// Write implements stats.RunStore.
func (r run) Write(ctx context.Context, adds *stats.Additions) error { return write(ctx, r.tx, adds) }

// load claims the run's allocation, reallocation and snapshot ids, reads
// under row locks the withdrawals and carry-forwards it moves, and writes
// the owners its portfolio events set (creating the portfolios not seen
// before): the state stats.Accumulate decides the run over.
func load(ctx context.Context, tx pgx.Tx, events []Event) (stats.Prior, error) {
	needs := stats.NeedsOf(events)
	p := stats.Prior{NewPortfolios: map[int64]bool{}, NewAllocations: map[int64]bool{}, NewReallocations: map[int64]bool{},
		NewSnapshots: map[stats.SnapshotKey]bool{}, Withdrawals: map[int64]stats.WithdrawalState{}, Carry: map[int64]decimal.Decimal{},
		Currencies: map[int64]string{}}
	if err := claimIDs(ctx, tx, `INSERT INTO applied_allocations (allocation_id) SELECT DISTINCT unnest($1::bigint[])
		ON CONFLICT DO NOTHING RETURNING allocation_id`, needs.AllocationIDs, p.NewAllocations); err != nil {
		return p, fmt.Errorf("store: claim allocations: %w", err)
	}
	if err := claimAllocationKeys(ctx, tx, needs, p.NewAllocations); err != nil {
		return p, err
	}
	if err := claimIDs(ctx, tx, `INSERT INTO applied_reallocations (reallocation_id) SELECT DISTINCT unnest($1::bigint[])
		ON CONFLICT DO NOTHING RETURNING reallocation_id`, needs.ReallocationIDs, p.NewReallocations); err != nil {
		return p, fmt.Errorf("store: claim reallocations: %w", err)
	}
	if err := claimSnapshots(ctx, tx, needs.Snapshots, p.NewSnapshots); err != nil {
		return p, err
	}
	if err := lockWithdrawals(ctx, tx, needs.WithdrawalIDs, p.Withdrawals); err != nil {
		return p, err
	}
	carried := stats.CarriesMoved(events, p.NewAllocations, p.NewSnapshots)
	if err := lockCarries(ctx, tx, carried, p.Carry); err != nil {
		return p, err
	}
	if err := readCurrencies(ctx, tx, needs.Currencies, p.Currencies); err != nil {
		return p, err
	}
	return p, writeOwners(ctx, tx, needs.Owners, p.NewPortfolios)
}

// readCurrencies reads the known currencies of portfolios.
func readCurrencies(ctx context.Context, tx pgx.Tx, portfolios []int64, into map[int64]string) error {
	if len(portfolios) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT portfolio_id, currency FROM portfolio_owners
		WHERE portfolio_id = ANY($1) AND currency IS NOT NULL`, portfolios)
	if err != nil {
		return fmt.Errorf("store: read currencies: %w", err)
	}
	var id int64
	var cur string
	if _, err := pgx.ForEachRow(rows, []any{&id, &cur}, func() error { into[id] = cur; return nil }); err != nil {
		return fmt.Errorf("store: read currencies: %w", err)
	}
	return nil
}

// claimIDs runs an INSERT … RETURNING of ids and puts the ids it returns
// (those not seen before) in into.
func claimIDs(ctx context.Context, tx pgx.Tx, sql string, ids []int64, into map[int64]bool, args ...any) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, sql, append([]any{ids}, args...)...)
	if err != nil {
		return err
	}
	var id int64
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error { into[id] = true; return nil })
	return err
}

// claimAllocationKeys claims the identities of the run's allocations whose
// ids were new (in newAllocations) and takes out of newAllocations those
// whose identity was seen before, under another id (the profit recorded
// again by a restored profit database), or earlier in the run.
func claimAllocationKeys(ctx context.Context, tx pgx.Tx, needs stats.Needs, newAllocations map[int64]bool) error {
	var ids []int64
	var keys []string
	for i, id := range needs.AllocationIDs {
		if k := needs.AllocationKeys[i]; k != "" && newAllocations[id] {
			ids, keys = append(ids, id), append(keys, k)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	claimed := map[int64]bool{}
	if err := claimIDs(ctx, tx, `INSERT INTO applied_allocation_keys (allocation_key, allocation_id)
		SELECT DISTINCT ON (u.k) u.k::uuid, u.id FROM unnest($2::text[], $1::bigint[]) WITH ORDINALITY AS u(k, id, n) ORDER BY u.k, u.n
		ON CONFLICT DO NOTHING RETURNING allocation_id`, ids, claimed, keys); err != nil {
		return fmt.Errorf("store: claim allocation identities: %w", err)
	}
	for _, id := range ids {
		if !claimed[id] {
			delete(newAllocations, id)
		}
	}
	return nil
}

// claimSnapshots records the snapshots and puts those not seen before in
// into.
func claimSnapshots(ctx context.Context, tx pgx.Tx, keys []stats.SnapshotKey, into map[stats.SnapshotKey]bool) error {
	if len(keys) == 0 {
		return nil
	}
	portfolios, ids := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		portfolios[i], ids[i] = k.PortfolioID, k.SnapshotID
	}
	rows, err := tx.Query(ctx, `INSERT INTO applied_snapshots (portfolio_id, snapshot_id)
		SELECT DISTINCT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING RETURNING portfolio_id, snapshot_id`,
		portfolios, ids)
	if err != nil {
		return fmt.Errorf("store: claim snapshots: %w", err)
	}
	var k stats.SnapshotKey
	if _, err := pgx.ForEachRow(rows, []any{&k.PortfolioID, &k.SnapshotID}, func() error { into[k] = true; return nil }); err != nil {
		return fmt.Errorf("store: claim snapshots: %w", err)
	}
	return nil
}

// lockWithdrawals reads the stored states of the withdrawals ids, locking
// their rows.
func lockWithdrawals(ctx context.Context, tx pgx.Tx, ids []int64, into map[int64]stats.WithdrawalState) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT withdrawal_id, status, amount::text, currency FROM withdrawal_states
		WHERE withdrawal_id = ANY($1) ORDER BY withdrawal_id FOR UPDATE`, ids)
	if err != nil {
		return fmt.Errorf("store: lock withdrawals: %w", err)
	}
	var id int64
	var status, amount, cur string
	if _, err := pgx.ForEachRow(rows, []any{&id, &status, &amount, &cur}, func() error {
		a, err := money.ParseNumeric(amount)
		into[id] = stats.WithdrawalState{Status: status, Amount: a, Currency: cur}
		return err
	}); err != nil {
		return fmt.Errorf("store: read withdrawals: %w", err)
	}
	return nil
}

// lockCarries reads the carry-forwards of portfolios (sorted), locking
// their totals rows (created if need be).
func lockCarries(ctx context.Context, tx pgx.Tx, portfolios []int64, into map[int64]decimal.Decimal) error {
	if len(portfolios) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO portfolio_totals (portfolio_id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING`,
		portfolios); err != nil {
		return fmt.Errorf("store: create totals rows: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT portfolio_id, loss_carryforward::text FROM portfolio_totals
		WHERE portfolio_id = ANY($1) ORDER BY portfolio_id FOR UPDATE`, portfolios)
	if err != nil {
		return fmt.Errorf("store: lock carry-forwards: %w", err)
	}
	var id int64
	var text string
	if _, err := pgx.ForEachRow(rows, []any{&id, &text}, func() error {
		c, err := money.ParseNumeric(text)
		into[id] = c
		return err
	}); err != nil {
		return fmt.Errorf("store: read carry-forwards: %w", err)
	}
	return nil
}

// writeOwners records the owners and currency portfolio events set (one
// row per portfolio, by id; an event without a currency leaves the known
// one) and puts the portfolios whose row it created in into.
func writeOwners(ctx context.Context, tx pgx.Tx, owners []stats.Owners, into map[int64]bool) error {
	if len(owners) == 0 {
		return nil
	}
	ids, users, teams := make([]int64, len(owners)), make([]int64, len(owners)), make([]int64, len(owners))
	currencies := make([]pgtype.Text, len(owners))
	for i, o := range owners {
		ids[i], users[i], teams[i] = o.PortfolioID, o.UserID, o.TeamID
		currencies[i] = pgtype.Text{String: o.Currency, Valid: o.Currency != ""}
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO portfolio_owners AS o (portfolio_id, user_id, team_id, currency)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
		ON CONFLICT (portfolio_id) DO UPDATE
		   SET user_id = EXCLUDED.user_id, team_id = EXCLUDED.team_id, currency = COALESCE(EXCLUDED.currency, o.currency),
		       updated_at = now()
		RETURNING portfolio_id, (xmax = 0)`, ids, users, teams, currencies)
	if err != nil {
		return fmt.Errorf("store: write owners: %w", err)
	}
	var id int64
	var inserted bool
	if _, err := pgx.ForEachRow(rows, []any{&id, &inserted}, func() error {
		if inserted {
			into[id] = true
		}
		return nil
	}); err != nil {
		return fmt.Errorf("store: write owners: %w", err)
	}
	return nil
}

// write writes a run's additions and moved state, one statement per
// table, rows in key order, in one round trip.
func write(ctx context.Context, tx pgx.Tx, adds *stats.Additions) error {
	b := &pgx.Batch{}
	queueOverview(b, adds.Overview, adds.Currencies)
	queueCurrencyTotals(b, adds.Currencies)
	queueTotals(b, adds.Totals)
	queueCarries(b, adds.Carry)
	queueHourly(b, adds.Hourly)
	if len(adds.Summary) > 0 {
		// The roll-ups are written here from the same additions, one
		// statement each, and summary_hourly's row trigger (two upserts
		// per hourly row) stands down for this transaction (migration
		// 00004); it still keeps the roll-ups of any other writer right.
		// The tables without a currency get the sums over currencies
		// (migration 00006).
		b.Queue(`SELECT set_config('stats.rollups', 'app', true)`)
		daily, totals := stats.Rollups(adds.Summary)
		for _, t := range []struct {
			suffix, bucket string
			rows           map[stats.SummaryKey]*stats.SummaryAdds
		}{{"hourly", "hour", adds.Summary}, {"daily", "day", daily}, {"totals", "", totals}} {
			queueSummary(b, "summary_currency_"+t.suffix, t.bucket, true, t.rows)
			queueSummary(b, "summary_"+t.suffix, t.bucket, false, stats.AllCurrencies(t.rows))
		}
	}
	queueWithdrawals(b, adds.Withdrawals)
	queueByStatus(b, adds.ByStatus)
	if err := sendAll(ctx, tx, b); err != nil {
		return fmt.Errorf("store: write the run's additions: %w", err)
	}
	return nil
}

// queueOverview adds the counts and the money summed over currencies to
// the overview row (the previous release's read model).
func queueOverview(b *pgx.Batch, o stats.OverviewAdds, currencies map[string]*stats.CurrencyAdds) {
	var m stats.CurrencyAdds
	for _, c := range currencies {
		m.Add(c)
	}
	b.Queue(`UPDATE overview SET
		total_profit = total_profit + $1, total_distributed = total_distributed + $2, to_team_total = to_team_total + $3,
		to_platform_total = to_platform_total + $4, to_user_total = to_user_total + $5,
		loss_carryforward_total = loss_carryforward_total + $6, reallocated_total = reallocated_total + $7,
		portfolios = portfolios + $8, allocations = allocations + $9, withdrawals = withdrawals + $10,
		reallocations = reallocations + $11, profits_recorded = profits_recorded + $12, ratio_changes = ratio_changes + $13
		WHERE id = 1`,
		m.Profit.String(), m.Distributed.String(), m.ToTeam.String(), m.ToPlatform.String(), m.ToUser.String(),
		m.LossCarry.String(), m.Reallocated.String(),
		o.Portfolios, o.Allocations, o.Withdrawals, o.Reallocations, o.ProfitsRecorded, o.RatioChanges)
}

// queueCurrencyTotals adds each currency's money to its currency_totals
// row.
func queueCurrencyTotals(b *pgx.Batch, currencies map[string]*stats.CurrencyAdds) {
	if len(currencies) == 0 {
		return
	}
	codes := slices.Sorted(maps.Keys(currencies))
	cols := make([][]string, 10)
	for _, code := range codes {
		c := currencies[code]
		for i, d := range []decimal.Decimal{c.Profit, c.Distributed, c.ToTeam, c.ToPlatform, c.ToUser, c.LossCarry,
			c.Reallocated, c.Pending, c.Completed, c.Failed} {
			cols[i] = append(cols[i], d.String())
		}
	}
	b.Queue(`
		INSERT INTO currency_totals AS c (currency, total_profit, total_distributed, to_team_total, to_platform_total,
		    to_user_total, loss_carryforward_total, reallocated_total, withdrawals_pending_amount,
		    withdrawals_completed_amount, withdrawals_failed_amount)
		SELECT cur, a1::numeric, a2::numeric, a3::numeric, a4::numeric, a5::numeric, a6::numeric, a7::numeric,
		       a8::numeric, a9::numeric, a10::numeric
		  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
		              $9::text[], $10::text[], $11::text[]) AS v(cur, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10)
		ON CONFLICT (currency) DO UPDATE SET
		    total_profit = c.total_profit + EXCLUDED.total_profit,
		    total_distributed = c.total_distributed + EXCLUDED.total_distributed,
		    to_team_total = c.to_team_total + EXCLUDED.to_team_total,
		    to_platform_total = c.to_platform_total + EXCLUDED.to_platform_total,
		    to_user_total = c.to_user_total + EXCLUDED.to_user_total,
		    loss_carryforward_total = c.loss_carryforward_total + EXCLUDED.loss_carryforward_total,
		    reallocated_total = c.reallocated_total + EXCLUDED.reallocated_total,
		    withdrawals_pending_amount = c.withdrawals_pending_amount + EXCLUDED.withdrawals_pending_amount,
		    withdrawals_completed_amount = c.withdrawals_completed_amount + EXCLUDED.withdrawals_completed_amount,
		    withdrawals_failed_amount = c.withdrawals_failed_amount + EXCLUDED.withdrawals_failed_amount`,
		codes, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9])
}

func queueTotals(b *pgx.Batch, totals map[int64]*stats.TotalsAdds) {
	if len(totals) == 0 {
		return
	}
	ids := slices.Sorted(maps.Keys(totals))
	var acc, dist, team, platform, user, currencies []string
	updated := make([]pgtype.Timestamptz, 0, len(ids))
	for _, id := range ids {
		t := totals[id]
		currencies = append(currencies, t.Currency)
		acc, dist = append(acc, t.AccProfit.String()), append(dist, t.Distributed.String())
		team, platform, user = append(team, t.ToTeam.String()), append(platform, t.ToPlatform.String()), append(user, t.ToUser.String())
		updated = append(updated, pgtype.Timestamptz{Time: t.UpdatedAt.UTC(), Valid: !t.UpdatedAt.IsZero()})
	}
	b.Queue(`
		INSERT INTO portfolio_totals AS t (portfolio_id, acc_profit, distributed, to_team_total, to_platform_total, to_user_total,
		    updated_at, currency)
		SELECT id, acc::numeric, dist::numeric, team::numeric, platform::numeric, usr::numeric, at, cur
		  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[])
		       AS v(id, acc, dist, team, platform, usr, at, cur)
		ON CONFLICT (portfolio_id) DO UPDATE SET currency = EXCLUDED.currency,
		    acc_profit = t.acc_profit + EXCLUDED.acc_profit, distributed = t.distributed + EXCLUDED.distributed,
		    to_team_total = t.to_team_total + EXCLUDED.to_team_total,
		    to_platform_total = t.to_platform_total + EXCLUDED.to_platform_total,
		    to_user_total = t.to_user_total + EXCLUDED.to_user_total,
		    updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at)`,
		ids, acc, dist, team, platform, user, updated, currencies)
}

func queueCarries(b *pgx.Batch, carry map[int64]decimal.Decimal) {
	if len(carry) == 0 {
		return
	}
	ids := slices.Sorted(maps.Keys(carry))
	carries := make([]string, len(ids))
	for i, id := range ids {
		carries[i] = carry[id].String()
	}
	b.Queue(`UPDATE portfolio_totals t SET loss_carryforward = v.c::numeric
		FROM unnest($1::bigint[], $2::text[]) AS v(id, c) WHERE t.portfolio_id = v.id`, ids, carries)
}

// queueHourly adds the hourly credits to hourly_currency_profit, and
// their sums over currencies to hourly_owner_profit.
func queueHourly(b *pgx.Batch, hourly map[stats.HourKey]decimal.Decimal) {
	if len(hourly) == 0 {
		return
	}
	var types, currencies, amounts []string
	var owners []int64
	var hours []time.Time
	all := map[stats.HourKey]decimal.Decimal{}
	for _, k := range slices.SortedFunc(maps.Keys(hourly), stats.CompareHourKeys) {
		types, owners, currencies = append(types, k.OwnerType), append(owners, k.OwnerID), append(currencies, k.Currency)
		v := hourly[k]
		hours, amounts = append(hours, time.Unix(k.Hour, 0).UTC()), append(amounts, v.String())
		k.Currency = ""
		all[k] = all[k].Add(v)
	}
	b.Queue(`
		INSERT INTO hourly_currency_profit AS h (owner_type, owner_id, currency, hour, profit)
		SELECT t, id, cur, hr, p::numeric
		  FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[]) AS v(t, id, cur, hr, p)
		ON CONFLICT (owner_type, owner_id, hour, currency) DO UPDATE SET profit = h.profit + EXCLUDED.profit`,
		types, owners, currencies, hours, amounts)
	types, owners, hours, amounts = nil, nil, nil, nil
	for _, k := range slices.SortedFunc(maps.Keys(all), stats.CompareHourKeys) {
		types, owners = append(types, k.OwnerType), append(owners, k.OwnerID)
		hours, amounts = append(hours, time.Unix(k.Hour, 0).UTC()), append(amounts, all[k].String())
	}
	b.Queue(`
		INSERT INTO hourly_owner_profit AS h (owner_type, owner_id, hour, profit)
		SELECT t, id, hr, p::numeric FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[]) AS v(t, id, hr, p)
		ON CONFLICT (owner_type, owner_id, hour) DO UPDATE SET profit = h.profit + EXCLUDED.profit`,
		types, owners, hours, amounts)
}

func queueWithdrawals(b *pgx.Batch, states map[int64]stats.WithdrawalState) {
	if len(states) == 0 {
		return
	}
	ids := slices.Sorted(maps.Keys(states))
	var statuses, amounts, currencies []string
	for _, id := range ids {
		statuses, amounts = append(statuses, states[id].Status), append(amounts, states[id].Amount.String())
		currencies = append(currencies, states[id].Currency)
	}
	// A new withdrawal is inserted with its amount and currency; a known
	// one only changes status (its amount and currency stay those first
	// recorded).
	b.Queue(`
		INSERT INTO withdrawal_states (withdrawal_id, status, amount, currency)
		SELECT id, st, a::numeric, cur FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS v(id, st, a, cur)
		ON CONFLICT (withdrawal_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()`,
		ids, statuses, amounts, currencies)
}

func queueByStatus(b *pgx.Batch, byStatus map[string]*stats.StatusAdds) {
	if len(byStatus) == 0 {
		return
	}
	statuses := slices.Sorted(maps.Keys(byStatus))
	var amounts []string
	var counts []int64
	for _, s := range statuses {
		amounts, counts = append(amounts, byStatus[s].Amount.String()), append(counts, byStatus[s].Count)
	}
	b.Queue(`UPDATE withdrawals_by_status w SET amount = w.amount + v.a::numeric, count = w.count + v.c
		FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(st, a, c) WHERE w.status = v.st`, statuses, amounts, counts)
}

// queueSummary queues the upsert of rows into a summary table, in key order:
// the hourly and daily tables have the time column bucket (each key's
// Bucket is its start), the totals none (bucket ""); the summary_currency_
// tables have the column currency (withCurrency).
func queueSummary(b *pgx.Batch, table, bucket string, withCurrency bool, rows map[stats.SummaryKey]*stats.SummaryAdds) {
	var dims, ks, currencies, profit, dist, team, platform, user, withdrawn []string
	var times []time.Time
	for _, k := range slices.SortedFunc(maps.Keys(rows), stats.CompareSummaryKeys) {
		s := rows[k]
		dims, ks, times = append(dims, k.Dimension), append(ks, k.Key), append(times, time.Unix(k.Bucket, 0).UTC())
		currencies = append(currencies, k.Currency)
		profit, dist = append(profit, s.Profit.String()), append(dist, s.Distributed.String())
		team, platform = append(team, s.ToTeam.String()), append(platform, s.ToPlatform.String())
		user, withdrawn = append(user, s.ToUser.String()), append(withdrawn, s.Withdrawn.String())
	}
	// (dimension, key[, currency][, bucket], amounts…).
	cols, arrays, vars := "dimension, key", "$1::text[], $2::text[]", "d, k"
	args := []any{dims, ks}
	if withCurrency {
		args = append(args, currencies)
		cols, arrays, vars = cols+", currency", arrays+fmt.Sprintf(", $%d::text[]", len(args)), vars+", cur"
	}
	if bucket != "" {
		args = append(args, times)
		cols, arrays, vars = cols+", "+bucket, arrays+fmt.Sprintf(", $%d::timestamptz[]", len(args)), vars+", t"
	}
	conflict := cols
	for _, a := range [][]string{profit, dist, team, platform, user, withdrawn} {
		args = append(args, a)
		arrays += fmt.Sprintf(", $%d::text[]", len(args))
	}
	b.Queue(`
		INSERT INTO `+table+` AS s (`+cols+`, profit, distributed, to_team, to_platform, to_user, withdrawn)
		SELECT `+vars+`, p::numeric, dist::numeric, team::numeric, platform::numeric, usr::numeric, w::numeric
		  FROM unnest(`+arrays+`) AS v(`+vars+`, p, dist, team, platform, usr, w)
		ON CONFLICT (`+conflict+`) DO UPDATE SET
		    profit = s.profit + EXCLUDED.profit, distributed = s.distributed + EXCLUDED.distributed,
		    to_team = s.to_team + EXCLUDED.to_team, to_platform = s.to_platform + EXCLUDED.to_platform,
		    to_user = s.to_user + EXCLUDED.to_user, withdrawn = s.withdrawn + EXCLUDED.withdrawn`, args...)
}

// sendAll sends b's statements in one round trip (they do not depend on
// each other's results) and fails on the first that fails.
func sendAll(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	br := tx.SendBatch(ctx, b)
	for range b.Len() {
		if _, err := br.Exec(); err != nil {
			return errors.Join(err, br.Close())
		}
	}
	return br.Close()
}
