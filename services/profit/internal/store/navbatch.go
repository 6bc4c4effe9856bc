package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/outbox"

	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// RecordNAVProfits records a partition's run of NAV profits in tx (the
// inbox's transaction) with the effect of RecordProfit on each, in order,
// in three round trips for the whole run instead of three per profit: the
// portfolios are registered and locked (in id order) and everything the
// rule reads is read under the locks at once (readNAVRun); the rule is
// applied to the run in memory by profit.FoldRun, each portfolio's ledger
// moved from one profit to the next; then the allocations, the
// portfolios' new state and the profit.allocated events are written with
// one statement each (writeNAVRun). A profit whose snapshot or event was
// allocated before (or earlier in the run) is passed over.
func (s *Store) RecordNAVProfits(ctx context.Context, tx pgx.Tx, ins []profit.NewProfit) error {
	if len(ins) == 0 {
		return nil
	}
	for _, in := range ins {
		if err := profit.CheckNAV(in); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	run, err := readNAVRun(ctx, tx, ins)
	if err != nil {
		return err
	}
	news, eventIDs, err := run.fresh(ins)
	if err != nil || len(news) == 0 {
		return err
	}
	allocs, ledgers, err := profit.FoldRun(run.ledgers, news)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return writeNAVRun(ctx, tx, allocs, eventIDs, ledgers)
}

// navRun is what a run of NAV profits reads under the portfolios' locks.
type navRun struct {
	ledgers      map[int64]profit.Ledger
	portfolios   map[int64]profit.Portfolio
	seenSnapshot map[int64]bool
}

// readNAVRun registers the run's portfolios (each with the owners of its
// first profit, as RecordProfit's INSERT … DO NOTHING does), locks them in
// id order and reads, in one round trip, their ledgers and the snapshots
// of the run already allocated.
func readNAVRun(ctx context.Context, tx pgx.Tx, ins []profit.NewProfit) (navRun, error) {
	var ids, users, teams, snapshots []int64
	var eventIDs, currencies []string
	for _, in := range ins {
		snapshots, eventIDs = append(snapshots, *in.SnapshotID), append(eventIDs, in.SourceEventID)
		if !slices.Contains(ids, in.PortfolioID) {
			ids, users, teams = append(ids, in.PortfolioID), append(users, in.UserID), append(teams, in.TeamID)
			currencies = append(currencies, eventbus.CurrencyOf(in.Currency))
		}
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO portfolios (portfolio_id, user_id, team_id, currency)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[]) ON CONFLICT (portfolio_id) DO NOTHING`,
		ids, users, teams, currencies)
	b.Queue(`SELECT `+portfolioColumns+` FROM portfolios WHERE portfolio_id = ANY($1) ORDER BY portfolio_id FOR UPDATE`, ids)
	b.Queue(`SELECT `+allocationColumns+` FROM allocations a
		WHERE a.source_event_id = ANY($1::uuid[]) OR a.snapshot_id = ANY($2) ORDER BY a.id`, eventIDs, snapshots)
	b.Queue(`SELECT DISTINCT a.portfolio_id FROM allocations a WHERE a.portfolio_id = ANY($1) AND a.status = 'awaiting_ratio' AND `+standing, ids)
	b.Queue(`SELECT `+ratioColumns+` FROM ratios WHERE portfolio_id = ANY($1) ORDER BY portfolio_id, version`, ids)
	run := navRun{ledgers: map[int64]profit.Ledger{}, portfolios: map[int64]profit.Portfolio{}, seenSnapshot: map[int64]bool{}}
	err := sendBatch(ctx, tx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		var portfolios []profit.Portfolio
		if err := eachRow(br, scanPortfolio, func(p profit.Portfolio) { portfolios = append(portfolios, p) }); err != nil {
			return err
		}
		// A prior allocation matched by its event id carries the same
		// snapshot id (one event, one snapshot): the snapshot marks both.
		if err := eachRow(br, scanAllocation, func(a profit.Allocation) { run.seenSnapshot[*a.SnapshotID] = true }); err != nil {
			return err
		}
		awaiting := map[int64]bool{}
		if err := eachRow(br, scanID, func(id int64) { awaiting[id] = true }); err != nil {
			return err
		}
		ratios := map[int64][]profit.Ratio{}
		if err := eachRow(br, scanRatio, func(r profit.Ratio) { ratios[r.PortfolioID] = append(ratios[r.PortfolioID], r) }); err != nil {
			return err
		}
		for _, p := range portfolios {
			run.ledgers[p.ID], run.portfolios[p.ID] = ledger(p, ratios[p.ID], awaiting[p.ID]), p
		}
		return nil
	})
	if err != nil {
		return navRun{}, fmt.Errorf("store: reading a run of %d NAV profits: %w", len(ins), err)
	}
	return run, nil
}

// fresh is the run's profits not allocated before nor earlier in the run
// (as allocations still to be folded) and their event ids.
func (r navRun) fresh(ins []profit.NewProfit) ([]profit.Allocation, []string, error) {
	var news []profit.Allocation
	var eventIDs []string
	seenEvent := map[string]bool{}
	for _, in := range ins {
		if r.seenSnapshot[*in.SnapshotID] || seenEvent[in.SourceEventID] {
			continue
		}
		if _, ok := r.ledgers[in.PortfolioID]; !ok {
			return nil, nil, fmt.Errorf("store: portfolio %d not locked", in.PortfolioID)
		}
		a, err := profit.Admit(r.portfolios[in.PortfolioID], in) // a NAV profit is never refused
		if err != nil {
			return nil, nil, fmt.Errorf("store: %w", err)
		}
		r.seenSnapshot[*in.SnapshotID], seenEvent[in.SourceEventID] = true, true
		news, eventIDs = append(news, a), append(eventIDs, in.SourceEventID)
	}
	return news, eventIDs, nil
}

// navColumns are a run's allocations as the columns of unnest.
type navColumns struct {
	pids, snaps, userIDs, teamIDs  []int64
	ratioIDs                       []*int64
	ratioVersions                  []*int32
	events, statuses, currencies   []string
	keys                           []string
	periodEnds                     []time.Time
	amount, before, after, distrib []string
	toTeam, toPlatform, toUser     []string
}

func columnsOf(allocs []profit.Allocation, eventIDs []string) navColumns {
	var c navColumns
	for i, a := range allocs {
		c.pids, c.snaps = append(c.pids, a.PortfolioID), append(c.snaps, *a.SnapshotID)
		c.userIDs, c.teamIDs = append(c.userIDs, a.UserID), append(c.teamIDs, a.TeamID)
		c.events, c.statuses, c.periodEnds = append(c.events, eventIDs[i]), append(c.statuses, a.Status), append(c.periodEnds, a.PeriodEnd)
		c.amount, c.before = append(c.amount, a.ProfitAmount.String()), append(c.before, a.LossCarryforwardBefore.String())
		c.after, c.distrib = append(c.after, a.LossCarryforwardAfter.String()), append(c.distrib, a.Distributable.String())
		c.toTeam, c.toPlatform = append(c.toTeam, a.ToTeam.String()), append(c.toPlatform, a.ToPlatform.String())
		c.toUser, c.ratioIDs = append(c.toUser, a.ToUser.String()), append(c.ratioIDs, a.RatioID)
		c.currencies, c.keys = append(c.currencies, a.Currency), append(c.keys, a.Key)
		var v *int32
		if a.RatioVersion != nil {
			n := int32(*a.RatioVersion)
			v = &n
		}
		c.ratioVersions = append(c.ratioVersions, v)
	}
	return c
}

// writeNAVRun writes a folded run in one round trip (the allocations, in
// order, and the new state of the portfolios it touched, in id order),
// then its profit.allocated events.
func writeNAVRun(ctx context.Context, tx pgx.Tx, allocs []profit.Allocation, eventIDs []string, ledgers map[int64]profit.Ledger) error {
	c := columnsOf(allocs, eventIDs)
	var touched []int64
	currency := map[int64]string{} // the portfolio's, as its run's profits say (profit.Admit)
	for _, a := range allocs {
		if !slices.Contains(touched, a.PortfolioID) {
			touched = append(touched, a.PortfolioID)
		}
		currency[a.PortfolioID] = a.Currency
	}
	slices.Sort(touched)
	var carries, currencies []string
	var lastEnds []time.Time
	for _, id := range touched {
		l := ledgers[id]
		carries, lastEnds = append(carries, l.LossCarryforward.String()), append(lastEnds, *l.LastPeriodEnd)
		currencies = append(currencies, currency[id])
	}
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO allocations (portfolio_id, source, snapshot_id, source_event_id, period_end, profit_amount,
			loss_carryforward_before, loss_carryforward_after, distributable, ratio_id, ratio_version,
			to_team_amount, to_platform_amount, to_user_amount, user_id, team_id, status, allocated_at, currency, allocation_key)
		SELECT v.pid, 'nav', v.snap, v.ev::uuid, v.pe, v.amount::numeric, v.before::numeric, v.after::numeric, v.distrib::numeric,
		       v.rid, v.rver, v.team::numeric, v.platform::numeric, v.usr::numeric, v.uid, v.tid, v.status,
		       CASE WHEN v.status = 'awaiting_ratio' THEN NULL ELSE now() END, v.cur, v.akey::uuid
		  FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[],
		              $9::bigint[], $10::int[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::bigint[], $16::text[], $17::text[],
		              $18::text[])
		       WITH ORDINALITY AS v(pid, snap, ev, pe, amount, before, after, distrib, rid, rver, team, platform, usr, uid, tid, status, cur,
		                            akey, n)
		 ORDER BY v.n
		RETURNING id, snapshot_id`,
		c.pids, c.snaps, c.events, c.periodEnds, c.amount, c.before, c.after, c.distrib, c.ratioIDs, c.ratioVersions,
		c.toTeam, c.toPlatform, c.toUser, c.userIDs, c.teamIDs, c.statuses, c.currencies, c.keys)
	b.Queue(`UPDATE portfolios p SET loss_carryforward = v.carry::numeric,
		    last_period_end = GREATEST(p.last_period_end, v.last_end), currency = v.cur, updated_at = now()
		FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[]) AS v(id, carry, last_end, cur) WHERE p.portfolio_id = v.id`,
		touched, carries, lastEnds, currencies)
	allocationID := map[int64]int64{} // snapshot → allocation id
	err := sendBatch(ctx, tx, b, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var id, snap int64
		if _, err := pgx.ForEachRow(rows, []any{&id, &snap}, func() error { allocationID[snap] = id; return nil }); err != nil {
			return err
		}
		_, err = br.Exec()
		return err
	})
	if err != nil {
		return fmt.Errorf("store: writing a run of %d allocations: %w", len(allocs), err)
	}
	return publishRun(ctx, tx, allocs, eventIDs, allocationID)
}

// publishRun adds the profit.allocated events of a run's allocated rows to
// the outbox, in order. Each keeps the trace context of the portfolio
// event its allocation came from (eventIDs[i] for allocs[i]; a run is
// applied in one transaction, inbox.EventContext), so that each NAV's
// trace goes on to the allocation's consumers.
func publishRun(ctx context.Context, tx pgx.Tx, allocs []profit.Allocation, eventIDs []string, allocationID map[int64]int64) error {
	var out []outbox.Event
	for i, a := range allocs {
		a.ID = allocationID[*a.SnapshotID]
		if a.ID == 0 {
			return fmt.Errorf("store: allocation of snapshot %d not returned", *a.SnapshotID)
		}
		e, err := profit.AllocatedEvents(a)
		if err != nil {
			return fmt.Errorf("store: allocation %d: %w", a.ID, err)
		}
		events, err := outboxEvents(e)
		if err != nil {
			return err
		}
		for k := range events {
			events[k].Context = inbox.EventContext(ctx, eventIDs[i])
		}
		out = append(out, events...)
	}
	return outbox.AddAll(ctx, tx, out...)
}

// eachRow reads the rows of a batch's next query with scan.
func eachRow[T any](br pgx.BatchResults, scan func(pgx.Row) (T, error), fn func(T)) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		fn(v)
	}
	return rows.Err()
}

func scanID(row pgx.Row) (int64, error) {
	var id int64
	err := row.Scan(&id)
	return id, err
}

// sendBatch sends b in tx, reads its results with read and closes it.
func sendBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if err := read(br); err != nil {
		return err
	}
	return br.Close()
}

// ledger is the allocation state of p as the rule reads it.
func ledger(p profit.Portfolio, ratios []profit.Ratio, awaiting bool) profit.Ledger {
	return profit.Ledger{LossCarryforward: p.LossCarryforward, LastPeriodEnd: p.LastPeriodEnd, Ratios: ratios, Awaiting: awaiting}
}
