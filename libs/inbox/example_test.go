package inbox_test

import (
	"context"
	"encoding/json"
	"log"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
)

// A service applies events in the transaction the consumer gives it; a
// redelivered event never reaches the handler twice.
func Example() {
	ctx := context.Background()
	var pool *pgxpool.Pool // pg.Connect, then pg.Migrate with inbox.Migration among the migrations

	handle := func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
		switch env.Type {
		case eventbus.TypeProfitAllocated:
			var data struct {
				AllocationID int64  `json:"allocation_id"`
				ToUserAmount string `json:"to_user_amount"`
			}
			if err := json.Unmarshal(env.Data, &data); err != nil {
				return inbox.Permanent(err) // retrying will not help
			}
			_, err := tx.Exec(ctx, `-- credit the accounts`)
			return err
		}
		return nil // types this service does not need
	}
	consumer, err := inbox.NewConsumer(pool, inbox.Config{
		Brokers: []string{"127.0.0.1:9092"},
		GroupID: "withdrawal",
		Topics:  []string{eventbus.TopicProfit},
		Handler: handle,
	}, prometheus.NewRegistry())
	if err != nil {
		log.Fatal(err)
	}
	_ = consumer.Run(ctx) // and consumer.Ready in /readyz
}
