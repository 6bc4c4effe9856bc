package main

import (
	"context"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestTraceNAVs follows NAVs through three databases laid out as the
// services' (the tables and columns the trace reads), each step its own
// transaction as in the services: every time of the trace is the commit
// or the start of the transaction it names, and a NAV whose allocation
// has not reached stats is left out.
func TestTraceNAVs(t *testing.T) {
	ctx := context.Background()
	schema := func(extra string) fstest.MapFS {
		fs := fstest.MapFS{
			"00001_outbox.sql": {Data: []byte(outbox.Migration)},
			"00002_inbox.sql":  {Data: []byte(inbox.Migration)},
		}
		if extra != "" {
			fs["00003_tables.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\n" + extra)}
		}
		return fs
	}
	dbs := map[string]string{}
	pools := map[string]*pgxpool.Pool{}
	for name, extra := range map[string]string{
		"portfolio": `CREATE TABLE nav_snapshots (id bigint PRIMARY KEY);`,
		"profit":    `CREATE TABLE allocations (id bigint PRIMARY KEY, snapshot_id bigint, source_event_id uuid);`,
		"stats":     "",
	} {
		pools[name], dbs[name] = pgtest.NewWithURL(t, schema(extra))
	}
	// step runs sql in a transaction of its own and returns the times
	// just before it began and just after it committed.
	step := func(db, sql string, args ...any) (before, after time.Time) {
		t.Helper()
		before = time.Now()
		if _, err := pools[db].Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		return before, time.Now()
	}
	const (
		ev1 = "00000000-0000-0000-0000-000000000001" // portfolio.profit_recorded of snapshot 1
		al1 = "00000000-0000-0000-0000-0000000000a1" // profit.allocated of allocation 11
		ev2 = "00000000-0000-0000-0000-000000000002" // snapshot 2: its allocation never reaches stats
		al2 = "00000000-0000-0000-0000-0000000000a2"
	)
	envelope := func(data string) string { return `{"id":"x","data":` + data + `}` }
	type window struct{ before, after time.Time }
	var w [9]window
	sent := time.Now()
	w[0].before, w[0].after = step("portfolio", `
		INSERT INTO nav_snapshots VALUES (1), (2);
		INSERT INTO outbox (event_id, topic, key, type, payload) VALUES
			('`+ev1+`', 'portfolio.events', '1', '`+eventbus.TypePortfolioProfitRecorded+`', '`+envelope(`{"snapshot_id":1}`)+`'),
			('`+ev2+`', 'portfolio.events', '2', '`+eventbus.TypePortfolioProfitRecorded+`', '`+envelope(`{"snapshot_id":2}`)+`')`)
	w[1].before, w[1].after = step("portfolio", `UPDATE outbox SET published_at = now()`)
	w[2].before, w[2].after = step("profit", `
		INSERT INTO processed_events (group_id, event_id, topic, partition, "offset") VALUES
			('profit', '`+ev1+`', 'portfolio.events', 0, 0), ('profit', '`+ev2+`', 'portfolio.events', 0, 1);
		INSERT INTO allocations VALUES (11, 1, '`+ev1+`'), (12, 2, '`+ev2+`');
		INSERT INTO outbox (event_id, topic, key, type, payload) VALUES
			('`+al1+`', 'profit.events', '1', '`+eventbus.TypeProfitAllocated+`', '`+envelope(`{"allocation_id":11}`)+`'),
			('`+al2+`', 'profit.events', '2', '`+eventbus.TypeProfitAllocated+`', '`+envelope(`{"allocation_id":12}`)+`')`)
	w[3].before, w[3].after = step("profit", `UPDATE outbox SET published_at = now()`)
	w[4].before, w[4].after = step("stats", `INSERT INTO processed_events (group_id, event_id, topic, partition, "offset")
		VALUES ('stats', '`+al1+`', 'profit.events', 0, 0)`)

	traces, err := traceNAVs(ctx, dbs, []sentNAV{{Snapshot: 1, Sent: sent}, {Snapshot: 2, Sent: sent}})
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != 1 {
		t.Fatalf("%d traces, want 1 (snapshot 2's allocation is not in stats): %+v", len(traces), traces)
	}
	tr := traces[0]
	in := func(name string, at time.Time, w window) {
		t.Helper()
		// PostgreSQL keeps microseconds.
		if at.Before(w.before.Truncate(time.Microsecond)) || at.After(w.after) {
			t.Errorf("%s = %s, not within its transaction [%s, %s]", name, at, w.before, w.after)
		}
	}
	if !tr.Sent.Equal(sent) {
		t.Errorf("Sent = %s, want %s", tr.Sent, sent)
	}
	in("PortfolioCommit", tr.PortfolioCommit, w[0])
	in("Relay1Pickup", tr.Relay1Pickup, w[1])
	in("Relay1Commit", tr.Relay1Commit, w[1])
	in("ProfitStart", tr.ProfitStart, w[2])
	in("ProfitCommit", tr.ProfitCommit, w[2])
	in("Relay2Pickup", tr.Relay2Pickup, w[3])
	in("Relay2Commit", tr.Relay2Commit, w[3])
	in("StatsStart", tr.StatsStart, w[4])
	in("StatsCommit", tr.StatsCommit, w[4])
	// Each step began after the one before committed, and a
	// transaction's start comes before its commit.
	order := []time.Time{tr.Sent, tr.PortfolioCommit, tr.Relay1Pickup, tr.Relay1Commit, tr.ProfitStart, tr.ProfitCommit,
		tr.Relay2Pickup, tr.Relay2Commit, tr.StatsStart, tr.StatsCommit}
	for i := 1; i < len(order); i++ {
		if order[i].Before(order[i-1]) {
			t.Errorf("time %d of the trace (%s) is before time %d (%s)", i, order[i], i-1, order[i-1])
		}
	}
	if lags := commitLags(traces); len(lags) != 1 || lags[0] != tr.StatsCommit.Sub(sent) {
		t.Errorf("commitLags = %v, want [%s]", lags, tr.StatsCommit.Sub(sent))
	}
}

// TestLegHops: the legs of a trace follow one another and add up to its
// lag; each leg's percentiles are over the traces.
func TestLegHops(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	trace := func(steps ...int) navTrace {
		at := make([]time.Time, len(steps))
		ms := 0
		for i, s := range steps {
			ms += s
			at[i] = t0.Add(time.Duration(ms) * time.Millisecond)
		}
		return navTrace{Sent: at[0], PortfolioCommit: at[1], Relay1Pickup: at[2], Relay1Commit: at[3], ProfitStart: at[4],
			ProfitCommit: at[5], Relay2Pickup: at[6], Relay2Commit: at[7], StatsStart: at[8], StatsCommit: at[9]}
	}
	traces := []navTrace{
		trace(0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
		trace(0, 10, 20, 30, -1, 50, 60, 70, 80, 90),
	}
	hops := legHops(traces)
	if len(hops) != 9 {
		t.Fatalf("%d legs, want 9", len(hops))
	}
	for i, h := range hops {
		lo, hi := time.Duration(i+1)*time.Millisecond, time.Duration(10*(i+1))*time.Millisecond
		if i == 3 {
			lo, hi = -time.Millisecond, 4*time.Millisecond
		}
		if h.N != 2 || h.P50 != lo || h.P99 != hi {
			t.Errorf("leg %d (%s) = %+v, want p50 %s, p99 %s", i, h.Name, h, lo, hi)
		}
	}
	if lags := commitLags(traces); lags[0] != 45*time.Millisecond || lags[1] != 409*time.Millisecond {
		t.Errorf("commitLags = %v, want [45ms 409ms]", lags)
	}
}
