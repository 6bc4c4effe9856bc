package main

import (
	"testing"

	"github.com/fundplatform/platform/libs/serve/configtest"
)

func TestConfig(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1/profit", "KAFKA_BROKERS": "k1:9092"}
	configtest.Run(t, base, map[string]configtest.Case{
		"complete":                   {},
		"no database":                {Change: map[string]string{"DATABASE_URL": ""}, Want: "DATABASE_URL"},
		"no brokers":                 {Change: map[string]string{"KAFKA_BROKERS": " , "}, Want: "KAFKA_BROKERS"},
		"migrations need a database": {Change: map[string]string{"DATABASE_URL": ""}, MigrateOnly: true, Want: "DATABASE_URL"},
		"portfolio url":              {Change: map[string]string{"PORTFOLIO_URL": "https://portfolio.internal:8443/"}},
		"portfolio url, no scheme":   {Change: map[string]string{"PORTFOLIO_URL": "portfolio:8080"}, Want: "PORTFOLIO_URL"},
		"portfolio url, not http":    {Change: map[string]string{"PORTFOLIO_URL": "ftp://portfolio"}, Want: "PORTFOLIO_URL"},
		"portfolio url, no host":     {Change: map[string]string{"PORTFOLIO_URL": "http://"}, Want: "PORTFOLIO_URL"},
	}, func(migrateOnly bool) error {
		_, err := loadConfig(migrateOnly)
		return err
	})
}

func TestConfigDefaults(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/profit")
	t.Setenv("KAFKA_BROKERS", "k1:9092")
	cfg, err := loadConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8083" || cfg.PortfolioURL != "http://127.0.0.1:8082" {
		t.Fatalf("defaults = %+v", cfg)
	}
}
