package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
)

// sentNAV is a NAV of the paced step: its snapshot and when its POST was
// sent.
type sentNAV struct {
	Snapshot int64
	Sent     time.Time
}

// navTrace is one NAV's way through the services, in the times their
// databases keep: commits are pg_xact_commit_timestamp of the rows a
// transaction left (the dev stack's PostgreSQL tracks commit timestamps),
// pickups and starts are the now() of the transaction that wrote them.
type navTrace struct {
	Sent            time.Time // the POST was sent (the bench's clock, the same machine's)
	PortfolioCommit time.Time // the NAV snapshot and its outbox row committed
	Relay1Pickup    time.Time // the portfolio relay's transaction that published it began (outbox.published_at)
	Relay1Commit    time.Time // … and committed, after Kafka acknowledged it
	ProfitStart     time.Time // the profit consumer's transaction that applied it began (processed_at)
	ProfitCommit    time.Time // … and committed the allocation and its outbox row
	Relay2Pickup    time.Time // the profit relay's transaction that published the allocation began
	Relay2Commit    time.Time // … and committed
	StatsStart      time.Time // the stats consumer's transaction that applied it began
	StatsCommit     time.Time // … and committed: the allocation is visible in stats from here on
}

// hop is one leg of NAV → profit → stats over the traced NAVs.
type hop struct {
	Name     string
	N        int
	P50, P99 time.Duration
}

func (h hop) String() string {
	// Not ms(): a leg may be slightly negative (see traceLegs).
	return fmt.Sprintf("%s p50 %.1f / p99 %.1f ms", h.Name, h.P50.Seconds()*1000, h.P99.Seconds()*1000)
}

// traceLegs are the legs of a trace, in order; together they add up to
// the NAV's lag (StatsCommit − Sent). A leg can be slightly negative: a
// consumer may begin applying a message before the relay that sent it has
// committed its mark.
var traceLegs = []struct {
	name     string
	from, to func(navTrace) time.Time
}{
	{"POST → portfolio commit", func(t navTrace) time.Time { return t.Sent }, func(t navTrace) time.Time { return t.PortfolioCommit }},
	{"→ portfolio relay pickup", func(t navTrace) time.Time { return t.PortfolioCommit }, func(t navTrace) time.Time { return t.Relay1Pickup }},
	{"portfolio relay (Kafka write, mark)", func(t navTrace) time.Time { return t.Relay1Pickup }, func(t navTrace) time.Time { return t.Relay1Commit }},
	{"→ profit consumer start", func(t navTrace) time.Time { return t.Relay1Commit }, func(t navTrace) time.Time { return t.ProfitStart }},
	{"profit transaction", func(t navTrace) time.Time { return t.ProfitStart }, func(t navTrace) time.Time { return t.ProfitCommit }},
	{"→ profit relay pickup", func(t navTrace) time.Time { return t.ProfitCommit }, func(t navTrace) time.Time { return t.Relay2Pickup }},
	{"profit relay (Kafka write, mark)", func(t navTrace) time.Time { return t.Relay2Pickup }, func(t navTrace) time.Time { return t.Relay2Commit }},
	{"→ stats consumer start", func(t navTrace) time.Time { return t.Relay2Commit }, func(t navTrace) time.Time { return t.StatsStart }},
	{"stats transaction", func(t navTrace) time.Time { return t.StatsStart }, func(t navTrace) time.Time { return t.StatsCommit }},
}

// legHops summarises each leg over the traces.
func legHops(traces []navTrace) []hop {
	out := make([]hop, len(traceLegs))
	for i, leg := range traceLegs {
		d := make([]time.Duration, len(traces))
		for j, t := range traces {
			d[j] = leg.to(t).Sub(leg.from(t))
		}
		out[i] = summarise(leg.name, d)
	}
	return out
}

// commitLags are the traced NAVs' lags from sending the POST to the commit
// of the stats transaction that applied their allocation, sorted.
func commitLags(traces []navTrace) []time.Duration {
	d := make([]time.Duration, len(traces))
	for i, t := range traces {
		d[i] = t.StatsCommit.Sub(t.Sent)
	}
	slices.Sort(d)
	return d
}

func summarise(name string, d []time.Duration) hop {
	d = slices.Clone(d)
	slices.Sort(d)
	return hop{Name: name, N: len(d), P50: percentile(d, 50), P99: percentile(d, 99)}
}

// traceNAVs follows each NAV sent through the databases of portfolio,
// profit and stats (dbs: service name → database URL). A NAV whose
// allocation has not reached stats yet is left out.
func traceNAVs(ctx context.Context, dbs map[string]string, navs []sentNAV) ([]navTrace, error) {
	snapshots := make([]int64, len(navs))
	for i, n := range navs {
		snapshots[i] = n.Snapshot
	}
	// profit: the allocation of each snapshot, the transaction that wrote
	// it, the portfolio event it came from and the event it sent.
	type profitRow struct {
		snapshot                     int64
		portfolioEvent, statsEvent   string
		start, commit, pickup, relay time.Time
	}
	var profit []profitRow
	err := queryDB(ctx, dbs["profit"], `
		SELECT a.snapshot_id, a.source_event_id::text, o.event_id::text, p.processed_at,
		       pg_xact_commit_timestamp(a.xmin), o.published_at, pg_xact_commit_timestamp(o.xmin)
		  FROM allocations a
		  JOIN processed_events p ON p.event_id = a.source_event_id
		  JOIN outbox o ON o.type = $2 AND o.published_at IS NOT NULL
		                AND (o.payload -> 'data' ->> 'allocation_id')::bigint = a.id
		 WHERE a.snapshot_id = ANY($1)`, []any{snapshots, eventbus.TypeProfitAllocated},
		func(rows pgx.Rows) error {
			var r profitRow
			if err := rows.Scan(&r.snapshot, &r.portfolioEvent, &r.statsEvent, &r.start, &r.commit, &r.pickup, &r.relay); err != nil {
				return err
			}
			profit = append(profit, r)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("profit: %w", err)
	}
	portfolioEvents := make([]string, len(profit))
	statsEvents := make([]string, len(profit))
	for i, r := range profit {
		portfolioEvents[i], statsEvents[i] = r.portfolioEvent, r.statsEvent
	}

	// portfolio: the snapshot's commit and its event's relay.
	type portfolioRow struct{ commit, pickup, relay time.Time }
	portfolio := map[int64]portfolioRow{}
	err = queryDB(ctx, dbs["portfolio"], `
		SELECT s.id, pg_xact_commit_timestamp(s.xmin), o.published_at, pg_xact_commit_timestamp(o.xmin)
		  FROM outbox o
		  JOIN nav_snapshots s ON s.id = (o.payload -> 'data' ->> 'snapshot_id')::bigint
		 WHERE o.event_id = ANY($1::uuid[]) AND o.published_at IS NOT NULL`, []any{portfolioEvents},
		func(rows pgx.Rows) error {
			var id int64
			var r portfolioRow
			if err := rows.Scan(&id, &r.commit, &r.pickup, &r.relay); err != nil {
				return err
			}
			portfolio[id] = r
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("portfolio: %w", err)
	}

	// stats: the transaction that applied each allocation event.
	type statsRow struct{ start, commit time.Time }
	stats := map[string]statsRow{}
	err = queryDB(ctx, dbs["stats"], `
		SELECT event_id::text, processed_at, pg_xact_commit_timestamp(xmin)
		  FROM processed_events WHERE event_id = ANY($1::uuid[])`, []any{statsEvents},
		func(rows pgx.Rows) error {
			var id string
			var r statsRow
			if err := rows.Scan(&id, &r.start, &r.commit); err != nil {
				return err
			}
			stats[id] = r
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}

	sent := make(map[int64]time.Time, len(navs))
	for _, n := range navs {
		sent[n.Snapshot] = n.Sent
	}
	var out []navTrace
	for _, r := range profit {
		p, okP := portfolio[r.snapshot]
		s, okS := stats[r.statsEvent]
		if !okP || !okS {
			continue
		}
		out = append(out, navTrace{
			Sent: sent[r.snapshot], PortfolioCommit: p.commit, Relay1Pickup: p.pickup, Relay1Commit: p.relay,
			ProfitStart: r.start, ProfitCommit: r.commit, Relay2Pickup: r.pickup, Relay2Commit: r.relay,
			StatsStart: s.start, StatsCommit: s.commit,
		})
	}
	return out, nil
}

// queryDB runs one query on a database of its own connection and hands
// each row to scan. A NULL commit timestamp (a server that does not track
// them) fails the scan.
func queryDB(ctx context.Context, url, sql string, args []any, scan func(pgx.Rows) error) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// hopsSummary is the hops in one line.
func hopsSummary(hops []hop) string {
	parts := make([]string, len(hops))
	for i, h := range hops {
		parts[i] = h.String()
	}
	return strings.Join(parts, "; ")
}
