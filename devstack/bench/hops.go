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

// hop is one leg of NAV → profit → stats, timed from the rows the
// services' databases keep for every event: the outbox's created_at (the
// writing transaction's start) and published_at (the start of the relay's
// transaction that picked it up), and the consumer inbox's processed_at (the
// start of the transaction that applied it).
type hop struct {
	Name     string
	N        int
	P50, P99 time.Duration
}

func (h hop) String() string {
	return fmt.Sprintf("%s p50 %.1f / p99 %.1f ms", h.Name, ms(h.P50), ms(h.P99))
}

// eventTimes is an event's outbox times in the database that wrote it.
type eventTimes struct{ created, published time.Time }

// measureHops times the hops of the events written from `from` on: the
// portfolio relay's pickup, its event's arrival in the profit consumer, the
// profit relay's pickup of the allocations, and their arrival in the stats
// consumer. Each hop's percentiles are over its own events.
func measureHops(ctx context.Context, dbs map[string]string, from time.Time) ([]hop, error) {
	portfolio, err := outboxTimes(ctx, dbs["portfolio"], from, "")
	if err != nil {
		return nil, fmt.Errorf("portfolio outbox: %w", err)
	}
	profit, err := outboxTimes(ctx, dbs["profit"], from, eventbus.TypeProfitAllocated)
	if err != nil {
		return nil, fmt.Errorf("profit outbox: %w", err)
	}
	profitIn, err := processedTimes(ctx, dbs["profit"], from, eventbus.TopicPortfolio)
	if err != nil {
		return nil, fmt.Errorf("profit inbox: %w", err)
	}
	statsIn, err := processedTimes(ctx, dbs["stats"], from, eventbus.TopicProfit)
	if err != nil {
		return nil, fmt.Errorf("stats inbox: %w", err)
	}
	pickup := func(events map[string]eventTimes) []time.Duration {
		var d []time.Duration
		for _, e := range events {
			d = append(d, e.published.Sub(e.created))
		}
		return d
	}
	arrival := func(events map[string]eventTimes, processed map[string]time.Time) []time.Duration {
		var d []time.Duration
		for id, e := range events {
			if at, ok := processed[id]; ok {
				d = append(d, at.Sub(e.published))
			}
		}
		return d
	}
	out := []hop{
		summarise("portfolio write → its relay's pickup", pickup(portfolio)),
		summarise("→ profit consumer", arrival(portfolio, profitIn)),
		summarise("profit write → its relay's pickup", pickup(profit)),
		summarise("→ stats consumer", arrival(profit, statsIn)),
	}
	return out, nil
}

func summarise(name string, d []time.Duration) hop {
	slices.Sort(d)
	return hop{Name: name, N: len(d), P50: percentile(d, 50), P99: percentile(d, 99)}
}

// outboxTimes reads the published outbox rows created from `from` on (of
// one type, or all when typ is empty).
func outboxTimes(ctx context.Context, url string, from time.Time, typ string) (map[string]eventTimes, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT event_id::text, created_at, published_at FROM outbox
		WHERE created_at >= $1 AND published_at IS NOT NULL AND ($2 = '' OR type = $2)`, from, typ)
	if err != nil {
		return nil, err
	}
	out := map[string]eventTimes{}
	var id string
	var e eventTimes
	_, err = pgx.ForEachRow(rows, []any{&id, &e.created, &e.published}, func() error {
		out[id] = e
		return nil
	})
	return out, err
}

// processedTimes reads when a consumer applied the events of a topic it
// applied from `from` on.
func processedTimes(ctx context.Context, url string, from time.Time, topic string) (map[string]time.Time, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT event_id::text, processed_at FROM processed_events
		WHERE processed_at >= $1 AND topic = $2`, from, topic)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	var id string
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
		out[id] = at
		return nil
	})
	return out, err
}

// hopsSummary is the hops in one line.
func hopsSummary(hops []hop) string {
	parts := make([]string, len(hops))
	for i, h := range hops {
		parts[i] = h.String()
	}
	return strings.Join(parts, "; ")
}
