package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// RecordNAVProfits records a partition's run of NAV profits in tx (the
// inbox's transaction) with the effect of RecordProfit on each, in order,
// in three round trips for the whole run instead of three per profit: the
// portfolios are registered and locked (in id order) and everything the
// rule reads is read under the locks at once; the rule is applied in
// order in memory, each portfolio's carry-forward and waiting state moved
// from one profit to the next; then the allocations, the portfolios' new
// state and the profit.allocated events are written with one statement
// each. A profit whose snapshot or event was allocated before (or earlier
// in the run) is passed over.
func (s *Store) RecordNAVProfits(ctx context.Context, tx pgx.Tx, ins []profit.NewProfit) error {
	if len(ins) == 0 {
		return nil
	}
	var ids, users, teams, snapshots []int64
	var eventIDs []string
	for _, in := range ins {
		if in.Source != profit.SourceNAV || in.SnapshotID == nil || in.SourceEventID == "" || in.UserID <= 0 || in.TeamID <= 0 {
			return errors.New("store: a NAV profit needs a snapshot id, an event id and its owners")
		}
		snapshots, eventIDs = append(snapshots, *in.SnapshotID), append(eventIDs, in.SourceEventID)
		if !slices.Contains(ids, in.PortfolioID) {
			// A portfolio is registered with the owners of its first
			// profit, as RecordProfit's INSERT … DO NOTHING does.
			ids, users, teams = append(ids, in.PortfolioID), append(users, in.UserID), append(teams, in.TeamID)
		}
	}

	b := &pgx.Batch{}
	b.Queue(`INSERT INTO portfolios (portfolio_id, user_id, team_id)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) ON CONFLICT (portfolio_id) DO NOTHING`, ids, users, teams)
	b.Queue(`SELECT `+portfolioColumns+` FROM portfolios WHERE portfolio_id = ANY($1) ORDER BY portfolio_id FOR UPDATE`, ids)
	b.Queue(`SELECT `+allocationColumns+` FROM allocations a
		WHERE a.source_event_id = ANY($1::uuid[]) OR a.snapshot_id = ANY($2) ORDER BY a.id`, eventIDs, snapshots)
	b.Queue(`SELECT DISTINCT portfolio_id FROM allocations WHERE portfolio_id = ANY($1) AND status = 'awaiting_ratio'`, ids)
	b.Queue(`SELECT DISTINCT ON (portfolio_id) `+ratioColumns+` FROM ratios WHERE portfolio_id = ANY($1)
		ORDER BY portfolio_id, version DESC`, ids)
	portfolios := map[int64]*profit.Portfolio{}
	seenEvent, seenSnapshot := map[string]bool{}, map[int64]bool{}
	awaiting := map[int64]bool{}
	ratios := map[int64]*profit.Ratio{}
	err := func() error {
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		if err := eachRow(br, scanPortfolio, func(p profit.Portfolio) { portfolios[p.ID] = &p }); err != nil {
			return err
		}
		if err := eachRow(br, scanAllocation, func(a profit.Allocation) {
			seenSnapshot[*a.SnapshotID] = true
		}); err != nil {
			return err
		}
		// A prior allocation matched by its event id carries the same
		// snapshot id (one event, one snapshot): the snapshot marks both.
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var id int64
		if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { awaiting[id] = true; return nil }); err != nil {
			return err
		}
		if err := eachRow(br, scanRatio, func(r profit.Ratio) { ratios[r.PortfolioID] = &r }); err != nil {
			return err
		}
		return br.Close()
	}()
	if err != nil {
		return err
	}

	type pending struct {
		a       profit.Allocation
		eventID string
	}
	var news []pending
	for _, in := range ins {
		if seenSnapshot[*in.SnapshotID] || seenEvent[in.SourceEventID] {
			continue
		}
		p := portfolios[in.PortfolioID]
		if p == nil {
			return fmt.Errorf("store: portfolio %d not locked", in.PortfolioID)
		}
		ratio := ratios[p.ID]
		o := profit.Decide(in.Amount, p.LossCarryforward, ratio, awaiting[p.ID])
		a := profit.Allocation{PortfolioID: p.ID, Source: in.Source, SnapshotID: in.SnapshotID, PeriodEnd: in.PeriodEnd.UTC(),
			ProfitAmount: in.Amount, UserID: in.UserID, TeamID: in.TeamID}
		applyOutcome(&a, o, ratio)
		p.LossCarryforward = o.LossCarryforwardAfter
		if p.LastPeriodEnd == nil || a.PeriodEnd.After(*p.LastPeriodEnd) {
			end := a.PeriodEnd
			p.LastPeriodEnd = &end
		}
		if a.Status == profit.StatusAwaitingRatio {
			awaiting[p.ID] = true
		}
		seenSnapshot[*in.SnapshotID], seenEvent[in.SourceEventID] = true, true
		news = append(news, pending{a, in.SourceEventID})
	}
	if len(news) == 0 {
		return nil
	}

	n := len(news)
	var (
		pids, snaps, userIDs, teamIDs  = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		ratioIDs                       = make([]*int64, n)
		ratioVersions                  = make([]*int32, n)
		events, statuses               = make([]string, n), make([]string, n)
		periodEnds                     = make([]time.Time, n)
		amount, before, after, distrib = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		toTeam, toPlatform, toUser     = make([]string, n), make([]string, n), make([]string, n)
		touched                        []int64
		carries                        []string
		lastEnds                       []time.Time
	)
	for i, x := range news {
		a := x.a
		pids[i], snaps[i], userIDs[i], teamIDs[i] = a.PortfolioID, *a.SnapshotID, a.UserID, a.TeamID
		events[i], statuses[i], periodEnds[i] = x.eventID, a.Status, a.PeriodEnd
		amount[i], before[i], after[i] = a.ProfitAmount.String(), a.LossCarryforwardBefore.String(), a.LossCarryforwardAfter.String()
		distrib[i], toTeam[i], toPlatform[i], toUser[i] = a.Distributable.String(), a.ToTeam.String(), a.ToPlatform.String(), a.ToUser.String()
		ratioIDs[i] = a.RatioID
		if a.RatioVersion != nil {
			v := int32(*a.RatioVersion)
			ratioVersions[i] = &v
		}
		if !slices.Contains(touched, a.PortfolioID) {
			touched = append(touched, a.PortfolioID)
		}
	}
	slices.Sort(touched)
	for _, id := range touched {
		p := portfolios[id]
		carries, lastEnds = append(carries, p.LossCarryforward.String()), append(lastEnds, *p.LastPeriodEnd)
	}
	b = &pgx.Batch{}
	b.Queue(`
		INSERT INTO allocations (portfolio_id, source, snapshot_id, source_event_id, period_end, profit_amount,
			loss_carryforward_before, loss_carryforward_after, distributable, ratio_id, ratio_version,
			to_team_amount, to_platform_amount, to_user_amount, user_id, team_id, status, allocated_at)
		SELECT v.pid, 'nav', v.snap, v.ev::uuid, v.pe, v.amount::numeric, v.before::numeric, v.after::numeric, v.distrib::numeric,
		       v.rid, v.rver, v.team::numeric, v.platform::numeric, v.usr::numeric, v.uid, v.tid, v.status,
		       CASE WHEN v.status = 'awaiting_ratio' THEN NULL ELSE now() END
		  FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[],
		              $9::bigint[], $10::int[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::bigint[], $16::text[])
		       WITH ORDINALITY AS v(pid, snap, ev, pe, amount, before, after, distrib, rid, rver, team, platform, usr, uid, tid, status, n)
		 ORDER BY v.n
		RETURNING id, snapshot_id`,
		pids, snaps, events, periodEnds, amount, before, after, distrib, ratioIDs, ratioVersions, toTeam, toPlatform, toUser,
		userIDs, teamIDs, statuses)
	b.Queue(`UPDATE portfolios p SET loss_carryforward = v.carry::numeric,
		    last_period_end = GREATEST(p.last_period_end, v.last_end), updated_at = now()
		FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS v(id, carry, last_end) WHERE p.portfolio_id = v.id`,
		touched, carries, lastEnds)
	allocationID := map[int64]int64{} // snapshot → allocation id
	err = func() error {
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var id, snap int64
		if _, err := pgx.ForEachRow(rows, []any{&id, &snap}, func() error { allocationID[snap] = id; return nil }); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil {
			return err
		}
		return br.Close()
	}()
	if err != nil {
		return err
	}
	var out []outbox.Event
	for _, x := range news {
		x.a.ID = allocationID[*x.a.SnapshotID]
		if x.a.ID == 0 {
			return fmt.Errorf("store: allocation of snapshot %d not returned", *x.a.SnapshotID)
		}
		e, ok, err := allocatedEvent(x.a)
		if err != nil {
			return err
		}
		if ok {
			out = append(out, e)
		}
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
