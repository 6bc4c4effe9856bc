package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
// applying them one at a time, in order. Most of an event's effect is an
// addition — to the overview's sums and counts, a portfolio's totals, an
// owner's hour, a summary row — and additions commute: a run's additions
// are summed in memory and written once per row, set-based, at the end, so
// a row a hundred events touch is written once. What depends on order is
// decided in order, in memory, over state read once per run under row
// locks: which allocations, snapshots and reallocations were seen before,
// each withdrawal's status, each portfolio's loss carry-forward.

// Event is one event as the read models see it: its time and exactly one
// of the other fields.
type Event struct {
	Time           time.Time
	Portfolio      *stats.Owners // portfolio.created or portfolio.updated
	ProfitRecorded *ProfitRecorded
	Allocation     *Allocation
	RatioChanged   bool // profit.ratio_changed
	Withdrawal     *Withdrawal
	Reallocation   *Reallocation
}

// ProfitRecorded is what a portfolio.profit_recorded event says.
type ProfitRecorded struct {
	PortfolioID, SnapshotID, UserID, TeamID int64
	PeriodEnd                               time.Time
	Profit                                  decimal.Decimal
}

// Allocation is what a profit.allocated event says.
type Allocation struct {
	AllocationID, PortfolioID, UserID, TeamID int64
	Manual                                    bool
	PeriodEnd                                 time.Time
	Profit, Distributable                     decimal.Decimal
	ToTeam, ToPlatform, ToUser                decimal.Decimal
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

// Reallocation is what a funds.reallocated event says.
type Reallocation struct {
	ID     int64
	Amount decimal.Decimal
}

// Withdrawal statuses.
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Apply applies events, in order, in tx (the inbox consumer's transaction).
func (s *Store) Apply(ctx context.Context, tx pgx.Tx, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	last := events[0].Time
	for _, e := range events[1:] {
		if e.Time.After(last) {
			last = e.Time
		}
	}
	// The overview row first: every transaction of the consumer (one per
	// partition) locks it before anything else, so they queue here and
	// never lock rows in opposite orders. last_event_at never goes back.
	if _, err := tx.Exec(ctx, `UPDATE overview SET events_applied = events_applied + $1,
		last_event_at = GREATEST(last_event_at, $2) WHERE id = 1`, len(events), last.UTC()); err != nil {
		return err
	}
	r, err := load(ctx, tx, events)
	if err != nil {
		return err
	}
	for _, e := range events {
		switch {
		case e.Portfolio != nil:
			err = r.applyPortfolio(ctx, tx, *e.Portfolio)
		case e.ProfitRecorded != nil:
			err = r.profitRecorded(*e.ProfitRecorded, e.Time)
		case e.Allocation != nil:
			err = r.allocated(*e.Allocation, e.Time)
		case e.RatioChanged:
			r.ov.ratioChanges++
		case e.Withdrawal != nil:
			r.withdrawal(*e.Withdrawal, e.Time)
		case e.Reallocation != nil:
			if r.claimed(r.reallocations, e.Reallocation.ID) {
				r.ov.reallocations++
				r.ov.reallocated = r.ov.reallocated.Add(e.Reallocation.Amount)
			}
		}
		if err != nil {
			return err
		}
	}
	return r.write(ctx, tx)
}

// run is a run of events being applied: the state they read and the sums
// they add.
type run struct {
	// Ids this run claimed (first seen now); an event applies while its id
	// is here and removes it, so a repeat within the run is passed over.
	allocations, reallocations map[int64]bool
	snapshots                  map[[2]int64]bool
	// Each withdrawal's state as the run has moved it.
	withdrawals map[int64]*withdrawalState
	// Each portfolio's loss carry-forward as the run has moved it, and as
	// it was.
	carry, carryBefore map[int64]decimal.Decimal

	ov       overviewSums
	totals   map[int64]*totalsSums
	hourly   map[hourlyKey]decimal.Decimal
	summary  map[summaryRowKey]*summaryAdds
	byStatus map[string]*statusSums
}

type withdrawalState struct {
	status  string
	amount  decimal.Decimal
	written bool // differs from the stored row (or there is none)
}

type overviewSums struct {
	profit, distributed, toTeam, toPlatform, toUser, lossCarry, reallocated            decimal.Decimal
	portfolios, allocations, withdrawals, reallocations, profitsRecorded, ratioChanges int64
}

type totalsSums struct {
	acc, distributed, toTeam, toPlatform, toUser decimal.Decimal
	updatedAt                                    time.Time // the latest event's time; zero: none
}

type hourlyKey struct {
	ownerType string
	ownerID   int64
	hour      int64 // Unix seconds of the UTC hour
}

type summaryRowKey struct {
	dimension, key string
	hour           int64 // Unix seconds of the UTC hour
}

type summaryAdds struct{ profit, distributed, toTeam, toPlatform, toUser, withdrawn decimal.Decimal }

func (a *summaryAdds) add(b *summaryAdds) {
	a.profit, a.distributed = a.profit.Add(b.profit), a.distributed.Add(b.distributed)
	a.toTeam, a.toPlatform = a.toTeam.Add(b.toTeam), a.toPlatform.Add(b.toPlatform)
	a.toUser, a.withdrawn = a.toUser.Add(b.toUser), a.withdrawn.Add(b.withdrawn)
}

type statusSums struct {
	amount decimal.Decimal
	count  int64
}

// load claims the run's allocation, snapshot and reallocation ids and
// reads, under row locks, the withdrawals and carry-forwards it moves.
func load(ctx context.Context, tx pgx.Tx, events []Event) (*run, error) {
	r := &run{
		allocations: map[int64]bool{}, reallocations: map[int64]bool{}, snapshots: map[[2]int64]bool{},
		withdrawals: map[int64]*withdrawalState{}, carry: map[int64]decimal.Decimal{}, carryBefore: map[int64]decimal.Decimal{},
		totals: map[int64]*totalsSums{}, hourly: map[hourlyKey]decimal.Decimal{}, summary: map[summaryRowKey]*summaryAdds{},
		byStatus: map[string]*statusSums{},
	}
	var allocationIDs, reallocationIDs, withdrawalIDs, snapPortfolios, snapIDs []int64
	for _, e := range events {
		switch {
		case e.Allocation != nil:
			allocationIDs = append(allocationIDs, e.Allocation.AllocationID)
		case e.Reallocation != nil:
			reallocationIDs = append(reallocationIDs, e.Reallocation.ID)
		case e.Withdrawal != nil:
			withdrawalIDs = append(withdrawalIDs, e.Withdrawal.ID)
		case e.ProfitRecorded != nil:
			snapPortfolios = append(snapPortfolios, e.ProfitRecorded.PortfolioID)
			snapIDs = append(snapIDs, e.ProfitRecorded.SnapshotID)
		}
	}
	if err := claimIDs(ctx, tx, `INSERT INTO applied_allocations (allocation_id) SELECT DISTINCT unnest($1::bigint[])
		ON CONFLICT DO NOTHING RETURNING allocation_id`, allocationIDs, r.allocations); err != nil {
		return nil, err
	}
	if err := claimIDs(ctx, tx, `INSERT INTO applied_reallocations (reallocation_id) SELECT DISTINCT unnest($1::bigint[])
		ON CONFLICT DO NOTHING RETURNING reallocation_id`, reallocationIDs, r.reallocations); err != nil {
		return nil, err
	}
	if len(snapIDs) > 0 {
		rows, err := tx.Query(ctx, `INSERT INTO applied_snapshots (portfolio_id, snapshot_id)
			SELECT DISTINCT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING RETURNING portfolio_id, snapshot_id`,
			snapPortfolios, snapIDs)
		if err != nil {
			return nil, err
		}
		var key [2]int64
		if _, err := pgx.ForEachRow(rows, []any{&key[0], &key[1]}, func() error { r.snapshots[key] = true; return nil }); err != nil {
			return nil, err
		}
	}
	if len(withdrawalIDs) > 0 {
		rows, err := tx.Query(ctx, `SELECT withdrawal_id, status, amount::text FROM withdrawal_states
			WHERE withdrawal_id = ANY($1) ORDER BY withdrawal_id FOR UPDATE`, withdrawalIDs)
		if err != nil {
			return nil, err
		}
		var id int64
		var status, amount string
		if _, err := pgx.ForEachRow(rows, []any{&id, &status, &amount}, func() error {
			a, err := money.ParseNumeric(amount)
			r.withdrawals[id] = &withdrawalState{status: status, amount: a}
			return err
		}); err != nil {
			return nil, err
		}
	}
	// The carry-forwards of the portfolios whose new NAV profits or manual
	// profits move them (their totals row is created if need be).
	var carried []int64
	for _, e := range events {
		if p := e.ProfitRecorded; p != nil && r.snapshots[[2]int64{p.PortfolioID, p.SnapshotID}] {
			carried = append(carried, p.PortfolioID)
		}
		if a := e.Allocation; a != nil && a.Manual && r.allocations[a.AllocationID] {
			carried = append(carried, a.PortfolioID)
		}
	}
	if len(carried) > 0 {
		slices.Sort(carried)
		carried = slices.Compact(carried)
		if _, err := tx.Exec(ctx, `INSERT INTO portfolio_totals (portfolio_id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING`,
			carried); err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, `SELECT portfolio_id, loss_carryforward::text FROM portfolio_totals
			WHERE portfolio_id = ANY($1) ORDER BY portfolio_id FOR UPDATE`, carried)
		if err != nil {
			return nil, err
		}
		var id int64
		var text string
		if _, err := pgx.ForEachRow(rows, []any{&id, &text}, func() error {
			c, err := money.ParseNumeric(text)
			r.carry[id], r.carryBefore[id] = c, c
			return err
		}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// claimIDs runs an INSERT … RETURNING of ids and puts the ids it returns
// (those not seen before) in into.
func claimIDs(ctx context.Context, tx pgx.Tx, sql string, ids []int64, into map[int64]bool) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, sql, ids)
	if err != nil {
		return err
	}
	var id int64
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error { into[id] = true; return nil })
	return err
}

// claimed reports whether id is new to the read models and not yet applied
// in this run, and marks it applied.
func (r *run) claimed(ids map[int64]bool, id int64) bool {
	if !ids[id] {
		return false
	}
	delete(ids, id)
	return true
}

// applyPortfolio records portfolio.created or portfolio.updated: the
// portfolio's owners, and a totals row so that it is listed.
func (r *run) applyPortfolio(ctx context.Context, tx pgx.Tx, o stats.Owners) error {
	var inserted bool
	if err := tx.QueryRow(ctx, `
		INSERT INTO portfolio_owners (portfolio_id, user_id, team_id) VALUES ($1, $2, $3)
		ON CONFLICT (portfolio_id) DO UPDATE
		   SET user_id = EXCLUDED.user_id, team_id = EXCLUDED.team_id, updated_at = now()
		RETURNING (xmax = 0)`, o.PortfolioID, o.UserID, o.TeamID).Scan(&inserted); err != nil {
		return err
	}
	if inserted {
		r.ov.portfolios++
	}
	r.total(o.PortfolioID)
	return nil
}

// profitRecorded records a NAV profit or loss. NAV profits are counted
// here, losses included, because the profit service announces only the
// allocations that distribute something (profit.allocated): the total and
// accumulated profit, the summary's profit at the hour of period_end, and
// the portfolio's loss carry-forward. The money of the allocation comes
// with profit.allocated. A snapshot seen before is skipped, as the profit
// service skips it.
func (r *run) profitRecorded(p ProfitRecorded, at time.Time) error {
	key := [2]int64{p.PortfolioID, p.SnapshotID}
	if !r.snapshots[key] {
		return nil
	}
	delete(r.snapshots, key)
	r.ov.profitsRecorded++
	r.ov.profit = r.ov.profit.Add(p.Profit)
	t := r.total(p.PortfolioID)
	t.acc = t.acc.Add(p.Profit)
	t.seen(at)
	for _, k := range summaryKeys(p.PortfolioID, p.UserID, p.TeamID) {
		s := r.summaryRow(k, p.PeriodEnd)
		s.profit = s.profit.Add(p.Profit)
	}
	return r.carryForward(p.PortfolioID, p.Profit)
}

// allocated adds one allocation to every model it touches: the portfolio's
// totals, the hourly credits of its user, team and the platform, the
// summary rows of its portfolio, team, user and the whole platform at the
// hour of period_end, and the overview. A manual profit also counts as
// profit (a NAV profit was counted when it was recorded) and moves the
// carry-forward. An allocation id seen before is skipped.
func (r *run) allocated(a Allocation, at time.Time) error {
	if !r.claimed(r.allocations, a.AllocationID) {
		return nil
	}
	profit := decimal.Zero
	if a.Manual {
		profit = a.Profit
	}
	o := &r.ov
	o.allocations++
	o.profit, o.distributed = o.profit.Add(profit), o.distributed.Add(a.Distributable)
	o.toTeam, o.toPlatform, o.toUser = o.toTeam.Add(a.ToTeam), o.toPlatform.Add(a.ToPlatform), o.toUser.Add(a.ToUser)
	t := r.total(a.PortfolioID)
	t.acc, t.distributed = t.acc.Add(profit), t.distributed.Add(a.Distributable)
	t.toTeam, t.toPlatform, t.toUser = t.toTeam.Add(a.ToTeam), t.toPlatform.Add(a.ToPlatform), t.toUser.Add(a.ToUser)
	t.seen(at)
	h := hour(a.PeriodEnd).Unix()
	for _, credit := range []struct {
		ownerType string
		ownerID   int64
		amount    decimal.Decimal
	}{{stats.OwnerUser, a.UserID, a.ToUser}, {stats.OwnerTeam, a.TeamID, a.ToTeam}, {stats.OwnerPlatform, 0, a.ToPlatform}} {
		if !credit.amount.IsZero() {
			k := hourlyKey{credit.ownerType, credit.ownerID, h}
			r.hourly[k] = r.hourly[k].Add(credit.amount)
		}
	}
	for _, k := range summaryKeys(a.PortfolioID, a.UserID, a.TeamID) {
		s := r.summaryRow(k, a.PeriodEnd)
		s.profit, s.distributed = s.profit.Add(profit), s.distributed.Add(a.Distributable)
		s.toTeam, s.toPlatform, s.toUser = s.toTeam.Add(a.ToTeam), s.toPlatform.Add(a.ToPlatform), s.toUser.Add(a.ToUser)
	}
	if a.Manual {
		return r.carryForward(a.PortfolioID, a.Profit)
	}
	return nil
}

// carryForward applies the contract's rule carry = max(0, carry − p) to
// the portfolio's carry-forward and the overview's total.
func (r *run) carryForward(portfolioID int64, p decimal.Decimal) error {
	before, ok := r.carry[portfolioID]
	if !ok {
		return fmt.Errorf("store: carry-forward of portfolio %d not loaded", portfolioID)
	}
	after := decimal.Max(decimal.Zero, before.Sub(p))
	r.carry[portfolioID] = after
	r.ov.lossCarry = r.ov.lossCarry.Add(after.Sub(before))
	return nil
}

// withdrawal moves a withdrawal's amount between the status totals, once
// per transition, whatever order the events arrive in: the first event of
// a withdrawal adds it to its status (and to the count); pending →
// completed/failed moves the amount recorded when it was first seen;
// anything else (a repeat, a requested after its outcome, an outcome after
// the other outcome) changes nothing. Completed amounts are also added to
// the summary's withdrawn at the hour of the event, under the whole
// platform and the owner's team or user key.
func (r *run) withdrawal(w Withdrawal, at time.Time) {
	st := r.withdrawals[w.ID]
	switch {
	case st == nil:
		r.withdrawals[w.ID] = &withdrawalState{status: w.Status, amount: w.Amount, written: true}
		r.ov.withdrawals++
		r.status(w.Status).add(w.Amount, 1)
	case st.status == StatusPending && w.Status != StatusPending:
		st.status, st.written = w.Status, true
		r.status(StatusPending).add(st.amount.Neg(), -1)
		r.status(w.Status).add(st.amount, 1)
	default:
		return
	}
	if w.Status != StatusCompleted {
		return
	}
	keys := []summaryKey{{"all", ""}}
	switch w.FromType {
	case stats.OwnerUser:
		keys = append(keys, summaryKey{stats.GroupUser, strconv.FormatInt(w.OwnerID, 10)})
	case stats.OwnerTeam:
		keys = append(keys, summaryKey{stats.GroupTeam, strconv.FormatInt(w.OwnerID, 10)})
	}
	for _, k := range keys {
		s := r.summaryRow(k, at)
		s.withdrawn = s.withdrawn.Add(w.Amount)
	}
}

type summaryKey struct{ dimension, key string }

// summaryKeys are the summary rows a portfolio's profit goes to.
func summaryKeys(portfolioID, userID, teamID int64) []summaryKey {
	return []summaryKey{
		{stats.GroupPortfolio, strconv.FormatInt(portfolioID, 10)},
		{stats.GroupTeam, strconv.FormatInt(teamID, 10)},
		{stats.GroupUser, strconv.FormatInt(userID, 10)},
		{"all", ""},
	}
}

func (r *run) total(portfolioID int64) *totalsSums {
	t := r.totals[portfolioID]
	if t == nil {
		t = &totalsSums{}
		r.totals[portfolioID] = t
	}
	return t
}

func (t *totalsSums) seen(at time.Time) {
	if at.After(t.updatedAt) {
		t.updatedAt = at
	}
}

func (r *run) summaryRow(k summaryKey, at time.Time) *summaryAdds {
	key := summaryRowKey{k.dimension, k.key, hour(at).Unix()}
	s := r.summary[key]
	if s == nil {
		s = &summaryAdds{}
		r.summary[key] = s
	}
	return s
}

func (r *run) status(status string) *statusSums {
	s := r.byStatus[status]
	if s == nil {
		s = &statusSums{}
		r.byStatus[status] = s
	}
	return s
}

func (s *statusSums) add(amount decimal.Decimal, count int64) {
	s.amount, s.count = s.amount.Add(amount), s.count+count
}

// write writes the run's sums and moved state, one statement per table,
// rows in key order, in one round trip.
func (r *run) write(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	o := r.ov
	b.Queue(`UPDATE overview SET
		total_profit = total_profit + $1, total_distributed = total_distributed + $2, to_team_total = to_team_total + $3,
		to_platform_total = to_platform_total + $4, to_user_total = to_user_total + $5,
		loss_carryforward_total = loss_carryforward_total + $6, reallocated_total = reallocated_total + $7,
		portfolios = portfolios + $8, allocations = allocations + $9, withdrawals = withdrawals + $10,
		reallocations = reallocations + $11, profits_recorded = profits_recorded + $12, ratio_changes = ratio_changes + $13
		WHERE id = 1`,
		o.profit.String(), o.distributed.String(), o.toTeam.String(), o.toPlatform.String(), o.toUser.String(),
		o.lossCarry.String(), o.reallocated.String(),
		o.portfolios, o.allocations, o.withdrawals, o.reallocations, o.profitsRecorded, o.ratioChanges)

	if len(r.totals) > 0 {
		ids := sortedKeys(r.totals, cmp.Compare[int64])
		var acc, dist, team, platform, user []string
		updated := make([]pgtype.Timestamptz, 0, len(ids))
		for _, id := range ids {
			t := r.totals[id]
			acc, dist = append(acc, t.acc.String()), append(dist, t.distributed.String())
			team, platform, user = append(team, t.toTeam.String()), append(platform, t.toPlatform.String()), append(user, t.toUser.String())
			updated = append(updated, pgtype.Timestamptz{Time: t.updatedAt.UTC(), Valid: !t.updatedAt.IsZero()})
		}
		b.Queue(`
			INSERT INTO portfolio_totals AS t (portfolio_id, acc_profit, distributed, to_team_total, to_platform_total, to_user_total, updated_at)
			SELECT id, acc::numeric, dist::numeric, team::numeric, platform::numeric, usr::numeric, at
			  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
			       AS v(id, acc, dist, team, platform, usr, at)
			ON CONFLICT (portfolio_id) DO UPDATE SET
			    acc_profit = t.acc_profit + EXCLUDED.acc_profit, distributed = t.distributed + EXCLUDED.distributed,
			    to_team_total = t.to_team_total + EXCLUDED.to_team_total,
			    to_platform_total = t.to_platform_total + EXCLUDED.to_platform_total,
			    to_user_total = t.to_user_total + EXCLUDED.to_user_total,
			    updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at)`,
			ids, acc, dist, team, platform, user, updated)
	}

	var carryIDs []int64
	var carries []string
	for _, id := range sortedKeys(r.carry, cmp.Compare[int64]) {
		if !r.carry[id].Equal(r.carryBefore[id]) {
			carryIDs, carries = append(carryIDs, id), append(carries, r.carry[id].String())
		}
	}
	if len(carryIDs) > 0 {
		b.Queue(`UPDATE portfolio_totals t SET loss_carryforward = v.c::numeric
			FROM unnest($1::bigint[], $2::text[]) AS v(id, c) WHERE t.portfolio_id = v.id`, carryIDs, carries)
	}

	if len(r.hourly) > 0 {
		keys := sortedKeys(r.hourly, func(a, b hourlyKey) int {
			if a.ownerType != b.ownerType {
				return cmp.Compare(a.ownerType, b.ownerType)
			}
			if a.ownerID != b.ownerID {
				return cmp.Compare(a.ownerID, b.ownerID)
			}
			return cmp.Compare(a.hour, b.hour)
		})
		var types, amounts []string
		var owners []int64
		var hours []time.Time
		for _, k := range keys {
			types, owners = append(types, k.ownerType), append(owners, k.ownerID)
			hours, amounts = append(hours, time.Unix(k.hour, 0).UTC()), append(amounts, r.hourly[k].String())
		}
		b.Queue(`
			INSERT INTO hourly_owner_profit AS h (owner_type, owner_id, hour, profit)
			SELECT t, id, hr, p::numeric FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[]) AS v(t, id, hr, p)
			ON CONFLICT (owner_type, owner_id, hour) DO UPDATE SET profit = h.profit + EXCLUDED.profit`,
			types, owners, hours, amounts)
	}

	if len(r.summary) > 0 {
		// The roll-ups are written here from the same additions, one
		// statement each, and summary_hourly's row trigger (two upserts
		// per hourly row) stands down for this transaction (migration
		// 00004); it still keeps the roll-ups of any other writer right.
		b.Queue(`SELECT set_config('stats.rollups', 'app', true)`)
		daily := map[summaryRowKey]*summaryAdds{}
		totals := map[summaryRowKey]*summaryAdds{}
		for k, s := range r.summary {
			day := k
			day.hour -= (k.hour%86400 + 86400) % 86400 // the UTC day's midnight
			total := k
			total.hour = 0
			for _, into := range []struct {
				m map[summaryRowKey]*summaryAdds
				k summaryRowKey
			}{{daily, day}, {totals, total}} {
				a := into.m[into.k]
				if a == nil {
					a = &summaryAdds{}
					into.m[into.k] = a
				}
				a.add(s)
			}
		}
		queueSummary(b, "summary_hourly", "hour", r.summary)
		queueSummary(b, "summary_daily", "day", daily)
		queueSummary(b, "summary_totals", "", totals)
	}

	var wIDs []int64
	var wStatuses, wAmounts []string
	for _, id := range sortedKeys(r.withdrawals, cmp.Compare[int64]) {
		if st := r.withdrawals[id]; st.written {
			wIDs, wStatuses, wAmounts = append(wIDs, id), append(wStatuses, st.status), append(wAmounts, st.amount.String())
		}
	}
	if len(wIDs) > 0 {
		// A new withdrawal is inserted with its amount; a known one only
		// changes status (its amount stays the one first recorded).
		b.Queue(`
			INSERT INTO withdrawal_states (withdrawal_id, status, amount)
			SELECT id, st, a::numeric FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(id, st, a)
			ON CONFLICT (withdrawal_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()`,
			wIDs, wStatuses, wAmounts)
	}
	if len(r.byStatus) > 0 {
		statuses := sortedKeys(r.byStatus, cmp.Compare[string])
		var amounts []string
		var counts []int64
		for _, s := range statuses {
			amounts, counts = append(amounts, r.byStatus[s].amount.String()), append(counts, r.byStatus[s].count)
		}
		b.Queue(`UPDATE withdrawals_by_status w SET amount = w.amount + v.a::numeric, count = w.count + v.c
			FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(st, a, c) WHERE w.status = v.st`, statuses, amounts, counts)
	}
	return sendAll(ctx, tx, b)
}

// queueSummary queues the upsert of rows into a summary table, in key order:
// summary_hourly and summary_daily have the time column bucket (each key's
// hour field is its start), summary_totals none (bucket "").
func queueSummary(b *pgx.Batch, table, bucket string, rows map[summaryRowKey]*summaryAdds) {
	keys := sortedKeys(rows, func(a, b summaryRowKey) int {
		if a.dimension != b.dimension {
			return cmp.Compare(a.dimension, b.dimension)
		}
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return cmp.Compare(a.hour, b.hour)
	})
	var dims, ks, profit, dist, team, platform, user, withdrawn []string
	var times []time.Time
	for _, k := range keys {
		s := rows[k]
		dims, ks, times = append(dims, k.dimension), append(ks, k.key), append(times, time.Unix(k.hour, 0).UTC())
		profit, dist = append(profit, s.profit.String()), append(dist, s.distributed.String())
		team, platform = append(team, s.toTeam.String()), append(platform, s.toPlatform.String())
		user, withdrawn = append(user, s.toUser.String()), append(withdrawn, s.withdrawn.String())
	}
	// With a bucket: (dimension, key, bucket, amounts…); without: (dimension, key, amounts…).
	cols, arrays, vars, conflict := "dimension, key", "$1::text[], $2::text[]", "d, k", "dimension, key"
	args := []any{dims, ks}
	if bucket != "" {
		cols, arrays, vars, conflict = cols+", "+bucket, arrays+", $3::timestamptz[]", vars+", t", conflict+", "+bucket
		args = append(args, times)
	}
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

func sortedKeys[K comparable, V any](m map[K]V, cmp func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp)
	return keys
}
