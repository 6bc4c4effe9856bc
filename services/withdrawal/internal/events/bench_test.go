package events

// BenchmarkLedgerReplay replays a topic of profit.allocated events into
// the ledger through the service's consumer, wired as cmd/withdrawal wires
// it (ConsumerConfig: the inbox in batch mode, BatchHandler and Handler,
// the store), against a fresh migrated database (pgtest) and an
// in-process Kafka-protocol broker (kafkatest):
//
//	go test -run '^$' -bench '^BenchmarkLedgerReplay$' -benchtime 1x ./internal/events/
//
// Each iteration of b.N fills a fresh topic, starts the consumer at offset
// 0 on a fresh database and times it from its start (the group join
// included) until every message's offset is stored, polling the database;
// -benchtime 1x is the intended setting, and the metrics (credits/s,
// events/s) are over the timed spans of all iterations. Knobs (environment):
//
//	BENCH_EVENTS      profit.allocated events on the topic (default 100000)
//	BENCH_PORTFOLIOS  portfolios, and as many users and teams (default 1000)
//
// Every event credits its user, its team and platform (three credits, so a
// third of all credits go to the one platform account) and debits
// system:profit. After the run the ledger is checked: one transfer and four
// entries per event, postings summing to zero, each owner's balance equal
// to the sum of its shares, and every account's hash chain intact.

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

// replayTopic is the messages of the benchmark's topic and what applying
// them must add up to, in units of 1e-8.
type replayTopic struct {
	msgs              []kafka.Message
	credits           int
	toPlatform, total int64
	toUser, toTeam    map[int64]int64
}

// units is an amount of 1e-8 units as an API amount (docs/api.md#money-and-rounding).
func units(u int64) money.Amount { return money.NewAmount(decimal.New(u, -8)) }

// buildReplayTopic makes n profit.allocated events, as the profit service
// publishes them (keyed by portfolio), over the given number of
// portfolios; portfolio p belongs to user p and team 1 + (p*7) % portfolios.
func buildReplayTopic(b *testing.B, n, portfolios int) *replayTopic {
	b.Helper()
	ctx := context.Background()
	t := &replayTopic{toUser: map[int64]int64{}, toTeam: map[int64]int64{}}
	period := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		p := int64(1 + (i-1)%portfolios)
		user, team := p, 1+(p*7)%int64(portfolios)
		dist := 100_000_000 + int64(i%9973)*12_345 // 1 .. ~2.23 in units of 1e-8
		toTeam, toPlatform := dist*2/10, dist/10
		toUser := dist - toTeam - toPlatform
		snapshot := int64(i)
		env, err := eventbus.NewEnvelope("profit", eventbus.TypeProfitAllocated, "portfolio/"+strconv.FormatInt(p, 10), eventbus.AllocatedData{
			AllocationID: int64(i), PortfolioID: p, Source: "nav", SnapshotID: &snapshot,
			PeriodEnd:    period.Add(time.Duration(i) * time.Minute),
			ProfitAmount: units(dist), Distributable: units(dist),
			ToTeamAmount: units(toTeam), ToPlatformAmount: units(toPlatform), ToUserAmount: units(toUser),
			UserID: user, TeamID: team, RatioID: 1, RatioVersion: 1,
		})
		if err != nil {
			b.Fatal(err)
		}
		m, err := eventbus.NewMessage(ctx, strconv.FormatInt(p, 10), env)
		if err != nil {
			b.Fatal(err)
		}
		t.msgs = append(t.msgs, m)
		t.credits += 3
		t.toPlatform += toPlatform
		t.total += dist
		t.toUser[user] += toUser
		t.toTeam[team] += toTeam
	}
	if err := eventbus.Validate(eventbus.TypeProfitAllocated, t.msgs[0].Value); err != nil {
		b.Fatalf("the benchmark's events break their schema: %v", err)
	}
	return t
}

// fill writes the topic's messages to the broker.
func (t *replayTopic) fill(b *testing.B, brokers []string) {
	b.Helper()
	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: eventbus.TopicProfit, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchTimeout: 5 * time.Millisecond,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := 0; i < len(t.msgs); i += 10_000 {
		if err := w.WriteMessages(ctx, t.msgs[i:min(i+10_000, len(t.msgs))]...); err != nil {
			b.Fatalf("fill %s: %v", eventbus.TopicProfit, err)
		}
	}
}

func BenchmarkLedgerReplay(b *testing.B) {
	n := eventtest.Knob(b, "BENCH_EVENTS", 100_000)
	topic := buildReplayTopic(b, n, eventtest.Knob(b, "BENCH_PORTFOLIOS", 1000))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		brokers := kafkatest.Start(b, eventbus.TopicProfit, eventbus.DLQTopic(eventbus.TopicProfit))
		topic.fill(b, brokers)
		pool := pgtest.New(b, store.Migrations())
		st := store.New(pool)
		consumer, err := inbox.NewConsumer(pool, ConsumerConfig(brokers, st, log), prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})

		b.StartTimer()
		began := time.Now()
		go func() { defer close(done); _ = consumer.Run(ctx) }()
		deadline := began.Add(15 * time.Minute)
		for {
			var applied int64
			if err := pool.QueryRow(ctx, `SELECT COALESCE(sum(next_offset), 0)::bigint FROM consumer_offsets
				WHERE group_id = $1 AND topic = $2`, GroupID, eventbus.TopicProfit).Scan(&applied); err != nil {
				b.Fatal(err)
			}
			if applied >= int64(n) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d events applied after %s", applied, n, time.Since(began))
			}
			time.Sleep(20 * time.Millisecond)
		}
		elapsed := time.Since(began)
		b.StopTimer()
		total += elapsed
		cancel()
		<-done
		topic.check(b, st, pool)
	}
	b.ReportMetric(float64(topic.credits*b.N)/total.Seconds(), "credits/s")
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
}

// check fails the benchmark unless the ledger holds each event's credit
// exactly once: a consumer that lost or double-counted events fails here.
func (t *replayTopic) check(b *testing.B, st *store.Store, pool *pgxpool.Pool) {
	b.Helper()
	ctx := context.Background()
	n := len(t.msgs)
	var processed, transfers, entries int
	var sum string
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM processed_events),
		(SELECT count(*) FROM transfers WHERE kind = 'profit_credit'),
		(SELECT count(*) FROM entries), (SELECT COALESCE(sum(amount), 0)::text FROM entries)`).
		Scan(&processed, &transfers, &entries, &sum); err != nil {
		b.Fatal(err)
	}
	if processed != n || transfers != n || entries != 4*n {
		b.Fatalf("%d events recorded, %d credit transfers, %d entries; want %d, %d, %d",
			processed, transfers, entries, n, n, 4*n)
	}
	if !decimal.RequireFromString(sum).IsZero() {
		b.Fatalf("the postings sum to %s, not 0", sum)
	}
	balance := func(account string) decimal.Decimal {
		b.Helper()
		var credited, posted string
		if err := pool.QueryRow(ctx, `SELECT a.credited::text, (SELECT COALESCE(sum(amount), 0)::text FROM entries e WHERE e.account = a.account)
			FROM accounts a WHERE a.account = $1`, account).Scan(&credited, &posted); err != nil {
			b.Fatalf("%s: %v", account, err)
		}
		c, p := decimal.RequireFromString(credited), decimal.RequireFromString(posted)
		if !c.Equal(p) {
			b.Fatalf("%s: credited %s but its postings sum to %s", account, c, p)
		}
		return c
	}
	want := func(account string, u int64) {
		b.Helper()
		if got := balance(account); !got.Equal(decimal.New(u, -8)) {
			b.Fatalf("%s: credited %s, want %s", account, got, decimal.New(u, -8))
		}
	}
	want(ledger.AccountPlatform, t.toPlatform)
	var profit, profitPosted string
	if err := pool.QueryRow(ctx, `SELECT balance::text, (SELECT sum(amount)::text FROM entries WHERE account = $1)
		FROM accounts WHERE account = $1`, ledger.AccountProfit).Scan(&profit, &profitPosted); err != nil ||
		!decimal.RequireFromString(profit).Equal(decimal.New(-t.total, -8)) || profit != profitPosted {
		b.Fatalf("%s: balance %s, postings %s (%v); want %s", ledger.AccountProfit, profit, profitPosted, err, decimal.New(-t.total, -8))
	}
	t.checkOwners(b, pool)
	var firsts, accounts int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM entries WHERE prev_hash IS NULL), (SELECT count(*) FROM accounts)`).
		Scan(&firsts, &accounts); err != nil || firsts != accounts {
		b.Fatalf("%d entries start a hash chain, want one per account (%d) (%v)", firsts, accounts, err)
	}
	v, err := st.Verify(ctx)
	if err != nil || !v.OK || v.Entries != int64(4*n) {
		b.Fatalf("verify = %+v, %v; want OK with %d entries", v, err, 4*n)
	}
}

// checkOwners fails the benchmark unless every user and team account, and
// only those, holds the sum of its shares.
func (t *replayTopic) checkOwners(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT account, credited::text FROM accounts WHERE owner_type IN ('user', 'team')`)
	if err != nil {
		b.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var a, c string
		if err := rows.Scan(&a, &c); err != nil {
			b.Fatal(err)
		}
		got[a] = c
	}
	if rows.Close(); rows.Err() != nil {
		b.Fatal(rows.Err())
	}
	if len(got) != len(t.toUser)+len(t.toTeam) {
		b.Fatalf("%d user and team accounts, want %d", len(got), len(t.toUser)+len(t.toTeam))
	}
	for typ, owners := range map[string]map[int64]int64{auth.OwnerUser: t.toUser, auth.OwnerTeam: t.toTeam} {
		for id, u := range owners {
			a := ledger.Owner{Type: typ, ID: id}.Account()
			if c, ok := got[a]; !ok || !decimal.RequireFromString(c).Equal(decimal.New(u, -8)) {
				b.Fatalf("%s: credited %s, want %s", a, c, decimal.New(u, -8))
			}
		}
	}
}
