package outbox_test

import (
	"context"
	"log"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg"
)

// A service writes its change and the event in one transaction, and runs
// the relay for as long as the process lives.
func Example() {
	ctx := context.Background()
	var pool *pgxpool.Pool // pg.Connect, then pg.Migrate with outbox.Migration among the migrations
	reg := prometheus.NewRegistry()

	relay, err := outbox.NewRelay(pool, outbox.Config{Brokers: []string{"127.0.0.1:9092"}}, reg)
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = relay.Run(ctx) }() // and relay.Ready in /readyz

	err = pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// ... INSERT the portfolio ...
		env, err := eventbus.NewEnvelope("portfolio", eventbus.TypePortfolioCreated, "portfolio/42",
			map[string]any{"portfolio_id": 42, "name": "Growth", "user_id": 7, "team_id": 3, "currency": "USD"})
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, eventbus.TopicPortfolio, "42", env)
	})
	if err != nil {
		log.Print(err)
	}
}
