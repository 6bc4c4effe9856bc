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

// TestMeasureHops: each hop is timed from the rows of its own events, and
// rows from before the step, or of other types, are left out.
func TestMeasureHops(t *testing.T) {
	ctx := context.Background()
	migrations := fstest.MapFS{
		"00001_outbox.sql": {Data: []byte(outbox.Migration)},
		"00002_inbox.sql":  {Data: []byte(inbox.Migration)},
	}
	dbs := map[string]string{}
	pools := map[string]*pgxpool.Pool{}
	for _, name := range []string{"portfolio", "profit", "stats"} {
		pools[name], dbs[name] = pgtest.NewWithURL(t, migrations)
	}
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	at := func(msec int) time.Time { return t0.Add(time.Duration(msec) * time.Millisecond) }
	exec := func(db, sql string, args ...any) {
		t.Helper()
		if _, err := pools[db].Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", db, err)
		}
	}
	const addOutbox = `INSERT INTO outbox (event_id, topic, key, type, payload, created_at, published_at)
		VALUES ($1, 't', 'k', $2, '{}', $3, $4)`
	const addProcessed = `INSERT INTO processed_events (group_id, event_id, topic, partition, "offset", processed_at)
		VALUES ('g', $1, $2, 0, 0, $3)`
	const (
		e0 = "00000000-0000-0000-0000-000000000000" // before the step
		e1 = "00000000-0000-0000-0000-000000000001"
		e2 = "00000000-0000-0000-0000-000000000002"
		a1 = "00000000-0000-0000-0000-0000000000a1"
		r1 = "00000000-0000-0000-0000-0000000000b1" // another type
	)
	exec("portfolio", addOutbox, e0, eventbus.TypePortfolioProfitRecorded, at(-1000), at(-500))
	exec("portfolio", addOutbox, e1, eventbus.TypePortfolioProfitRecorded, at(0), at(5))
	exec("portfolio", addOutbox, e2, eventbus.TypePortfolioProfitRecorded, at(1), at(21))
	exec("profit", addProcessed, e0, eventbus.TopicPortfolio, at(-400))
	exec("profit", addProcessed, e1, eventbus.TopicPortfolio, at(15))
	exec("profit", addProcessed, e2, eventbus.TopicPortfolio, at(41))
	exec("profit", addOutbox, a1, eventbus.TypeProfitAllocated, at(15), at(30))
	exec("profit", addOutbox, r1, eventbus.TypeProfitRatioChanged, at(15), at(900))
	exec("stats", addProcessed, a1, eventbus.TopicProfit, at(50))

	hops, err := measureHops(ctx, dbs, t0)
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	want := []hop{
		{Name: "portfolio write → its relay's pickup", N: 2, P50: ms(5), P99: ms(20)},
		{Name: "→ profit consumer", N: 2, P50: ms(10), P99: ms(20)},
		{Name: "profit write → its relay's pickup", N: 1, P50: ms(15), P99: ms(15)},
		{Name: "→ stats consumer", N: 1, P50: ms(20), P99: ms(20)},
	}
	if len(hops) != len(want) {
		t.Fatalf("hops = %+v", hops)
	}
	for i := range want {
		if hops[i] != want[i] {
			t.Errorf("hop %d = %+v, want %+v", i, hops[i], want[i])
		}
	}
}
