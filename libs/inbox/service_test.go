package inbox_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
)

func TestServiceConfig(t *testing.T) {
	log := slog.Default()
	cfg := inbox.ServiceConfig([]string{"k:9092"}, inbox.Service{
		GroupID:      "g",
		Topics:       []string{eventbus.TopicProfit},
		Handler:      func(context.Context, pgx.Tx, eventbus.Envelope) error { return nil },
		BatchHandler: func(context.Context, pgx.Tx, []eventbus.Envelope) error { return nil },
	}, log)
	if !slices.Equal(cfg.Brokers, []string{"k:9092"}) || cfg.GroupID != "g" || !slices.Equal(cfg.Topics, []string{eventbus.TopicProfit}) ||
		cfg.Handler == nil || cfg.BatchHandler == nil || cfg.BatchSize != 100 || cfg.Logger != log {
		t.Fatalf("config = %+v", cfg)
	}
	if cfg.MaxAttempts != 0 || cfg.RetryBackoff != 0 || cfg.MaxBackoff != 0 || cfg.BatchWait != 0 || cfg.CommitInterval != 0 || cfg.ValidateSchema {
		t.Fatalf("config changes a default: %+v", cfg)
	}
}
