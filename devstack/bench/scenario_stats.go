package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fundplatform/platform/libs/eventbus"
)

// statsResult is scenario (c): stats queries over a large read model.
type statsResult struct {
	Target      int           // allocations wanted in the read model
	ViaKafka    int           // profit.allocated events produced and applied by the stats consumer
	ConsumeRate float64       // events/s the stats consumer applied them at
	ConsumeFor  time.Duration // how long it had
	Shortcut    int           // allocations bulk-written into the stats tables (0: none)
	ShortcutErr string
	Loaded      int64 // the overview's allocation count when the queries ran
	Portfolios  int
	QuietAfter  time.Duration // the wait for every consumer and outbox to catch up before the queries
	Backlog     string        // what was left when the queries began ("no backlog")
	Queries     []queryResult
}

type queryResult struct {
	Name string
	Path string
	result
}

// allocationIDBase keeps the injected allocations' ids apart from the
// profit service's.
const allocationIDBase = 1_000_000_000

// injected is allocation i of the injection: portfolio i mod n, on day
// i / n (a daily NAV for every portfolio), profit 1 split 0.90/0.05/0.05
// like the fixture's ratio.
func injectedEvent(f *fixture, i int) (kgo.Record, error) {
	pf := f.portfolios[i%len(f.portfolios)]
	day := i / len(f.portfolios)
	snapshot := int64(allocationIDBase + i)
	env, err := eventbus.NewEnvelope("profit", eventbus.TypeProfitAllocated, "portfolio/"+strconv.FormatInt(pf.id, 10), map[string]any{
		"allocation_id": allocationIDBase + i, "portfolio_id": pf.id, "source": "nav", "snapshot_id": snapshot,
		"period_end":    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day).Format(time.RFC3339),
		"profit_amount": "1.00000000", "distributable": "1.00000000", "to_team_amount": "0.05000000",
		"to_platform_amount": "0.05000000", "to_user_amount": "0.90000000",
		"user_id": pf.userID, "team_id": pf.teamID, "ratio_id": 1, "ratio_version": 1,
	})
	if err != nil {
		return kgo.Record{}, err
	}
	value, err := json.Marshal(env)
	if err != nil {
		return kgo.Record{}, err
	}
	return kgo.Record{Topic: eventbus.TopicProfit, Key: []byte(strconv.FormatInt(pf.id, 10)), Value: value,
		Headers: []kgo.RecordHeader{
			{Key: eventbus.HeaderContentType, Value: []byte(eventbus.ContentTypeJSON)},
			{Key: eventbus.HeaderEventType, Value: []byte(eventbus.TypeProfitAllocated)},
		}}, nil
}

func allocationsApplied(ctx context.Context, c *client) (int64, error) {
	var o struct {
		Counts struct {
			Allocations int64 `json:"allocations"`
		} `json:"counts"`
	}
	_, err := c.do(ctx, "GET", "/api/v1/stats/overview", nil, 200, &o)
	return o.Counts.Allocations, err
}

// statsConfig sizes scenario (c).
type statsConfig struct {
	Allocations int           // the read model's target size
	Budget      time.Duration // how long the stats consumer may take
	Chunk       int           // events produced before waiting for them
	Shortcut    bool          // bulk-write what the consumer had no time for
	QueryFor    time.Duration
	Workers     int
}

// loadAllocations produces profit.allocated events to the broker in
// chunks, each once the stats consumer has applied the previous one, for
// as long as the budget allows. (The withdrawal service consumes them too
// and credits the ledger, as it would real allocations.)
func loadAllocations(ctx context.Context, p *progress, f *fixture, brokers []string, cfg statsConfig, out *statsResult) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	before, err := allocationsApplied(ctx, f.admin)
	if err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(cfg.Budget)
	produced := 0
	lastReport := time.Now()
	for produced < cfg.Allocations && time.Now().Before(deadline) {
		n := min(cfg.Chunk, cfg.Allocations-produced)
		recs := make([]*kgo.Record, 0, n)
		for i := produced; i < produced+n; i++ {
			r, err := injectedEvent(f, i)
			if err != nil {
				return err
			}
			recs = append(recs, &r)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		produced += n
		// Wait for this chunk (the last one may overrun the budget a little).
		for {
			applied, err := allocationsApplied(ctx, f.admin)
			if err != nil {
				return err
			}
			if applied-before >= int64(produced) {
				break
			}
			if time.Since(lastReport) > 5*time.Second {
				rate := float64(applied-before) / time.Since(start).Seconds()
				p.stepf("stats: %d/%d allocations applied via Kafka (%.0f/s)", applied-before, cfg.Allocations, rate)
				lastReport = time.Now()
			}
			if time.Now().After(deadline.Add(2 * time.Minute)) {
				return fmt.Errorf("stats consumer stalled at %d of %d produced", applied-before, produced)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	out.ViaKafka = produced
	out.ConsumeFor = time.Since(start)
	out.ConsumeRate = float64(produced) / out.ConsumeFor.Seconds()
	p.stepf("stats: %d allocations via Kafka in %s (%.0f/s)", produced, out.ConsumeFor.Round(time.Second), out.ConsumeRate)
	return nil
}

// shortcutSQL writes allocations [$1, $2) of the injection straight into
// the stats service's read-model tables, with the same effect as its
// handler applying their profit.allocated events (internal/store
// Apply of an Allocation): applied_allocations, overview, portfolio_totals,
// hourly_owner_profit and summary_hourly, whose roll-ups (summary_daily,
// summary_totals) are then rebuilt from it; then the tables keyed by
// currency (stats migration 00006) are rebuilt from those, every amount
// the benchmark books being USD (the transaction is marked as the
// consumer marks its own, so the row triggers that carry another writer's
// changes to them stand down). It does not write the inbox's
// processed_events rows, which no query reads.
const shortcutSQL = `
CREATE TEMP TABLE bench_alloc ON COMMIT DROP AS
SELECT $3::bigint + g AS allocation_id, pf.id AS portfolio_id, pf.user_id, pf.team_id,
       timestamptz '2020-01-01 00:00:00Z' + (g / cardinality($4::bigint[])) * interval '1 day' AS hour
  FROM generate_series($1::bigint, $2::bigint - 1) g
  JOIN unnest($4::bigint[], $5::bigint[], $6::bigint[]) WITH ORDINALITY AS pf(id, user_id, team_id, ord)
    ON pf.ord = g % cardinality($4::bigint[]) + 1;
SELECT set_config('stats.currencies', 'app', true);
INSERT INTO applied_allocations (allocation_id) SELECT allocation_id FROM bench_alloc;
UPDATE overview SET allocations = allocations + n, events_applied = events_applied + n,
       total_distributed = total_distributed + n, to_team_total = to_team_total + 0.05 * n,
       to_platform_total = to_platform_total + 0.05 * n, to_user_total = to_user_total + 0.9 * n,
       last_event_at = now()
  FROM (SELECT count(*) AS n FROM bench_alloc) c WHERE id = 1;
INSERT INTO portfolio_totals AS t (portfolio_id, distributed, to_team_total, to_platform_total, to_user_total, updated_at)
SELECT portfolio_id, count(*), 0.05 * count(*), 0.05 * count(*), 0.9 * count(*), now() FROM bench_alloc GROUP BY portfolio_id
ON CONFLICT (portfolio_id) DO UPDATE SET distributed = t.distributed + EXCLUDED.distributed,
       to_team_total = t.to_team_total + EXCLUDED.to_team_total, to_platform_total = t.to_platform_total + EXCLUDED.to_platform_total,
       to_user_total = t.to_user_total + EXCLUDED.to_user_total, updated_at = EXCLUDED.updated_at;
INSERT INTO hourly_owner_profit AS h (owner_type, owner_id, hour, profit)
SELECT o.owner_type, o.owner_id, a.hour, sum(o.share) FROM bench_alloc a
 CROSS JOIN LATERAL (VALUES ('user', a.user_id, 0.9), ('team', a.team_id, 0.05), ('platform', 0::bigint, 0.05)) o(owner_type, owner_id, share)
 GROUP BY 1, 2, 3
ON CONFLICT (owner_type, owner_id, hour) DO UPDATE SET profit = h.profit + EXCLUDED.profit;
-- A bulk load: the roll-up trigger is off for this insert (one row at a
-- time would take minutes) and the roll-ups are rebuilt from the hours
-- below, as the migration that created them does.
SET LOCAL session_replication_role = replica;
INSERT INTO summary_hourly AS s (dimension, key, hour, distributed, to_team, to_platform, to_user)
SELECT k.dimension, k.key, a.hour, count(*), 0.05 * count(*), 0.05 * count(*), 0.9 * count(*) FROM bench_alloc a
 CROSS JOIN LATERAL (VALUES ('portfolio', a.portfolio_id::text), ('team', a.team_id::text), ('user', a.user_id::text), ('all', '')) k(dimension, key)
 GROUP BY 1, 2, 3
ON CONFLICT (dimension, key, hour) DO UPDATE SET distributed = s.distributed + EXCLUDED.distributed,
       to_team = s.to_team + EXCLUDED.to_team, to_platform = s.to_platform + EXCLUDED.to_platform, to_user = s.to_user + EXCLUDED.to_user;
SET LOCAL session_replication_role = origin;
DELETE FROM summary_daily;
DELETE FROM summary_totals;
INSERT INTO summary_daily (dimension, key, day, profit, distributed, to_team, to_platform, to_user, withdrawn)
SELECT dimension, key, date_trunc('day', hour, 'UTC'), sum(profit), sum(distributed), sum(to_team), sum(to_platform),
       sum(to_user), sum(withdrawn)
  FROM summary_hourly GROUP BY dimension, key, date_trunc('day', hour, 'UTC');
INSERT INTO summary_totals (dimension, key, profit, distributed, to_team, to_platform, to_user, withdrawn)
SELECT dimension, key, sum(profit), sum(distributed), sum(to_team), sum(to_platform), sum(to_user), sum(withdrawn)
  FROM summary_hourly GROUP BY dimension, key;
DELETE FROM currency_totals;
INSERT INTO currency_totals (currency, total_profit, total_distributed, to_team_total, to_platform_total, to_user_total,
       loss_carryforward_total, reallocated_total, withdrawals_pending_amount, withdrawals_completed_amount, withdrawals_failed_amount)
SELECT 'USD', o.total_profit, o.total_distributed, o.to_team_total, o.to_platform_total, o.to_user_total,
       o.loss_carryforward_total, o.reallocated_total,
       (SELECT amount FROM withdrawals_by_status WHERE status = 'pending'),
       (SELECT amount FROM withdrawals_by_status WHERE status = 'completed'),
       (SELECT amount FROM withdrawals_by_status WHERE status = 'failed')
  FROM overview o WHERE o.id = 1;
DELETE FROM hourly_currency_profit;
INSERT INTO hourly_currency_profit (owner_type, owner_id, currency, hour, profit)
SELECT owner_type, owner_id, 'USD', hour, profit FROM hourly_owner_profit;
DELETE FROM summary_currency_hourly;
DELETE FROM summary_currency_daily;
DELETE FROM summary_currency_totals;
INSERT INTO summary_currency_hourly (dimension, key, currency, hour, profit, distributed, to_team, to_platform, to_user, withdrawn)
SELECT dimension, key, 'USD', hour, profit, distributed, to_team, to_platform, to_user, withdrawn FROM summary_hourly;
INSERT INTO summary_currency_daily (dimension, key, currency, day, profit, distributed, to_team, to_platform, to_user, withdrawn)
SELECT dimension, key, 'USD', day, profit, distributed, to_team, to_platform, to_user, withdrawn FROM summary_daily;
INSERT INTO summary_currency_totals (dimension, key, currency, profit, distributed, to_team, to_platform, to_user, withdrawn)
SELECT dimension, key, 'USD', profit, distributed, to_team, to_platform, to_user, withdrawn FROM summary_totals;
ANALYZE;
`

// bulkAllocations is the shortcut: the allocations from..to written into
// the stats database in one transaction.
func bulkAllocations(ctx context.Context, statsDB string, f *fixture, from, to int) error {
	conn, err := pgx.Connect(ctx, statsDB)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var ids, users, teams []int64
	for _, pf := range f.portfolios {
		ids, users, teams = append(ids, pf.id), append(users, pf.userID), append(teams, pf.teamID)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// One statement at a time: the extended protocol takes one per call.
	for _, stmt := range strings.Split(strings.TrimSpace(shortcutSQL), ";\n") {
		var args []any
		if strings.HasPrefix(stmt, "CREATE") {
			args = []any{from, to, allocationIDBase, ids, users, teams}
		}
		if _, err := tx.Exec(ctx, stmt, args...); err != nil {
			return fmt.Errorf("%.60s…: %w", stmt, err)
		}
	}
	return tx.Commit(ctx)
}

// vacuumAnalyze runs VACUUM ANALYZE on a database.
func vacuumAnalyze(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `VACUUM ANALYZE`)
	return err
}

// runStats loads the read model, then measures each query route with a
// closed loop; onQueries is called, with their total length, as the
// queries start (the bench profiles them).
func runStats(ctx context.Context, p *progress, f *fixture, brokers []string, statsDB string, cfg statsConfig, pipe *pipelineWatch, onQueries func(time.Duration)) statsResult {
	out := statsResult{Target: cfg.Allocations, Portfolios: len(f.portfolios)}
	if err := loadAllocations(ctx, p, f, brokers, cfg, &out); err != nil {
		out.ShortcutErr = "loading via Kafka: " + err.Error()
		p.stepf("stats: %s", out.ShortcutErr)
	} else if rest := cfg.Allocations - out.ViaKafka; rest > 0 && cfg.Shortcut {
		p.stepf("stats: writing the other %d allocations into the stats tables (shortcut)", rest)
		t0 := time.Now()
		if err := bulkAllocations(ctx, statsDB, f, out.ViaKafka, cfg.Allocations); err != nil {
			out.ShortcutErr = err.Error()
			p.stepf("stats: shortcut failed: %v", err)
		} else {
			out.Shortcut = rest
			p.stepf("stats: shortcut wrote %d allocations in %s", rest, time.Since(t0).Round(time.Second))
		}
	}
	out.Loaded, _ = allocationsApplied(ctx, f.admin)
	// The queries are measured on a quiet stack: the withdrawal service
	// credits the same allocations and may still be at it, and the tables
	// just loaded get the VACUUM ANALYZE autovacuum would give them.
	t0 := time.Now()
	for pipe.sample(ctx); pipe.summary(false) != "no backlog" && time.Since(t0) < 3*time.Minute && ctx.Err() == nil; pipe.sample(ctx) {
		time.Sleep(time.Second)
	}
	out.QuietAfter, out.Backlog = time.Since(t0), pipe.summary(false)
	p.stepf("stats: before the queries, waited %s for the backlog to clear (%s)", out.QuietAfter.Round(time.Second), out.Backlog)
	if err := vacuumAnalyze(ctx, statsDB); err != nil {
		p.stepf("stats: vacuum analyze: %v", err)
	}
	routes := []struct{ name, path string }{
		{"acc_profit (list, 100)", "/api/v1/stats/acc_profit"},
		{"acc_profit/{id}", "/api/v1/stats/acc_profit/{id}"},
		{"overview", "/api/v1/stats/overview"},
		{"summary?group_by=portfolio (page, 1000)", "/api/v1/stats/summary?group_by=portfolio&limit=1000"},
		{"summary?group_by=day (page, 1000)", "/api/v1/stats/summary?group_by=day&limit=1000"},
	}
	onQueries(time.Duration(len(routes)) * cfg.QueryFor)
	for _, rt := range routes {
		r := runClosed(ctx, cfg.Workers, cfg.QueryFor, func(ctx context.Context, _, _ int) error {
			path := rt.path
			if strings.HasSuffix(path, "{id}") {
				path = fmt.Sprintf("/api/v1/stats/acc_profit/%d", f.portfolios[rand.IntN(len(f.portfolios))].id)
			}
			_, err := f.admin.do(ctx, "GET", path, nil, 200, nil)
			return err
		})
		out.Queries = append(out.Queries, queryResult{Name: rt.name, Path: rt.path, result: r})
		p.stepf("stats: %s: p50 %.1f ms, p99 %.1f ms (%d requests, %d errors)", rt.name, r.P(50), r.P(99), r.OK, r.Errors)
	}
	return out
}
