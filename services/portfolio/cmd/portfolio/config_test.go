package main

import (
	"slices"
	"testing"

	"github.com/fundplatform/platform/libs/serve/configtest"
)

func TestConfig(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1/portfolio", "KAFKA_BROKERS": "k1:9092, k2:9092,"}
	configtest.Run(t, base, map[string]configtest.Case{
		"complete":                   {},
		"no database":                {Change: map[string]string{"DATABASE_URL": ""}, Want: "DATABASE_URL"},
		"no brokers":                 {Change: map[string]string{"KAFKA_BROKERS": " , "}, Want: "KAFKA_BROKERS"},
		"migrations need no brokers": {Change: map[string]string{"KAFKA_BROKERS": ""}, MigrateOnly: true},
		"migrations need a database": {Change: map[string]string{"DATABASE_URL": ""}, MigrateOnly: true, Want: "DATABASE_URL"},
		"bad auth url":               {Change: map[string]string{"AUTH_URL": "auth:8081"}, Want: "AUTH_URL"},
		"bad jwks url":               {Change: map[string]string{"JWKS_URL": "ftp://auth/jwks"}, Want: "JWKS_URL"},
		"no issuer":                  {Change: map[string]string{"JWT_ISSUER": ""}}, // empty means the default
		"bad env":                    {Change: map[string]string{"APP_ENV": "prod"}, Want: "APP_ENV"},
		"bad addr":                   {Change: map[string]string{"HTTP_ADDR": "8082"}, Want: "HTTP_ADDR"},
	}, func(migrateOnly bool) error {
		_, err := loadConfig(migrateOnly)
		return err
	})
}

func TestConfigDefaults(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/portfolio")
	t.Setenv("KAFKA_BROKERS", "k1:9092, k2:9092,")
	cfg, err := loadConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8082" || cfg.AuthURL != "http://127.0.0.1:8081" ||
		cfg.JWKSURL != "http://127.0.0.1:8081/.well-known/jwks.json" || cfg.JWTIssuer != "fund-auth" ||
		cfg.JWTAudience != "fund-api" || !slices.Equal(cfg.KafkaBrokers, []string{"k1:9092", "k2:9092"}) {
		t.Fatalf("defaults = %+v", cfg)
	}
}
