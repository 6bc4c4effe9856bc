package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

// Several replicas of a service each run a relay on the same outbox. While
// writers keep adding events (per key, one after the other), two or three
// relays race to publish them, and are killed and replaced all along:
// cancelled (a graceful stop) or crashed between the Kafka write and the
// mark (the batch is published again). At the end every row is published,
// and a consumer that deduplicates on the event id sees each key's events
// in the order they were added, without a gap.
func TestRelaysRacingOnOneOutbox(t *testing.T) {
	for _, relays := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d relays", relays), func(t *testing.T) { raceRelays(t, relays) })
	}
}

const (
	raceKeys      = 6
	racePerKey    = 40
	raceBatchSize = 7 // small batches: many claims, each a chance to get the order wrong
)

func raceRelays(t *testing.T, n int) {
	pool := pgtest.New(t, migrations)
	brokers := kafkatest.Start(t, eventbus.TopicPortfolio)
	// A bound for a slow, shared machine; the test ends as soon as every row
	// is published.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The relays: each runs until killed, then a new one takes its place.
	var batches, crashes, kills atomic.Int64
	runCtx, stopRelays := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for gen := 0; runCtx.Err() == nil; gen++ {
				relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: brokers, BatchSize: raceBatchSize,
					PollInterval: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, prometheus.NewRegistry())
				if err != nil {
					t.Error(err)
					return
				}
				// Each life ends after a few batches of its own (2, 3, 4 by
				// relay), not after a time: on a loaded machine a relay
				// killed on a clock could die before publishing anything.
				life, kill := context.WithCancel(runCtx)
				var own atomic.Int64
				outbox.SetAfterPublish(relay, func() error {
					if own.Add(1) >= int64(2+i) {
						defer kill()
					}
					if batches.Add(1)%5 == 0 { // a crash after the write, before the mark
						crashes.Add(1)
						return errors.New("crashed before marking")
					}
					return nil
				})
				_ = relay.Run(life)
				kill()
				kills.Add(1)
			}
		})
	}

	// The writers: one per key, each adding its key's events in order.
	var writers sync.WaitGroup
	for k := range raceKeys {
		writers.Go(func() {
			for seq := 1; seq <= racePerKey; seq++ {
				env, err := eventbus.NewEnvelope("portfolio", eventbus.TypePortfolioCreated, fmt.Sprintf("portfolio/%d", k),
					map[string]any{"portfolio_id": k + 1, "name": strconv.Itoa(seq), "user_id": 7, "team_id": 3, "currency": "USD"})
				if err != nil {
					t.Error(err)
					return
				}
				if err := insert(ctx, pool, strconv.Itoa(k), env); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writers.Wait()
	waitDrained(t, ctx, pool)
	stopRelays()
	wg.Wait()
	t.Logf("%d relay lives ended, %d crashes between write and mark", kills.Load(), crashes.Load())
	if crashes.Load() == 0 {
		t.Fatal("no relay crashed between write and mark: the test proved nothing about re-publishing")
	}

	msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicPortfolio, messageCount(t, ctx, brokers), 10*time.Second)
	checkDedupedOrder(t, msgs)
}

// insert adds one event in a transaction of its own.
func insert(ctx context.Context, pool *pgxpool.Pool, key string, env eventbus.Envelope) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := outbox.Add(ctx, tx, eventbus.TopicPortfolio, key, env); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// waitDrained waits until the outbox has no unpublished row.
func waitDrained(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	t.Helper()
	for {
		var left int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d rows still unpublished", left)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// messageCount is how many messages the portfolio topic holds.
func messageCount(t *testing.T, ctx context.Context, brokers []string) int {
	t.Helper()
	total := 0
	for p := range kafkatest.Partitions {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], eventbus.TopicPortfolio, p)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := conn.ReadOffsets()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += int(last - first)
	}
	return total
}

// checkDedupedOrder keeps the first message of each event id and checks
// that each key's events then come in the order 1, 2, … racePerKey.
func checkDedupedOrder(t *testing.T, msgs []kafka.Message) {
	t.Helper()
	seen := map[string]bool{}
	next := map[string]int{}
	dups := 0
	for _, m := range msgs {
		var env eventbus.Envelope
		var data struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(m.Value, &env); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(env.Data, &data); err != nil {
			t.Fatal(err)
		}
		if seen[env.ID] {
			dups++
			continue
		}
		seen[env.ID] = true
		key := string(m.Key)
		seq, _ := strconv.Atoi(data.Name)
		if want := next[key] + 1; seq != want {
			t.Errorf("key %s: event %d after %d (want %d)", key, seq, next[key], want)
		}
		next[key] = seq
	}
	t.Logf("%d messages, %d duplicates dropped", len(msgs), dups)
	for k := range raceKeys {
		if got := next[strconv.Itoa(k)]; got != racePerKey {
			t.Errorf("key %d: last event %d, want %d", k, got, racePerKey)
		}
	}
	if len(seen) != raceKeys*racePerKey {
		t.Errorf("%d distinct events, want %d", len(seen), raceKeys*racePerKey)
	}
}
