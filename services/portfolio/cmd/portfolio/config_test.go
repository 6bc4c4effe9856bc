package main

import (
	"slices"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1/portfolio", "KAFKA_BROKERS": "k1:9092, k2:9092,"}
	cases := map[string]struct {
		change      map[string]string
		migrateOnly bool
		want        string // "" = accepted
	}{
		"complete":                   {nil, false, ""},
		"no database":                {map[string]string{"DATABASE_URL": ""}, false, "DATABASE_URL"},
		"no brokers":                 {map[string]string{"KAFKA_BROKERS": " , "}, false, "KAFKA_BROKERS"},
		"migrations need no brokers": {map[string]string{"KAFKA_BROKERS": ""}, true, ""},
		"migrations need a database": {map[string]string{"DATABASE_URL": ""}, true, "DATABASE_URL"},
		"bad auth url":               {map[string]string{"AUTH_URL": "auth:8081"}, false, "AUTH_URL"},
		"bad jwks url":               {map[string]string{"JWKS_URL": "ftp://auth/jwks"}, false, "JWKS_URL"},
		"no issuer":                  {map[string]string{"JWT_ISSUER": ""}, false, ""}, // empty means the default
		"bad env":                    {map[string]string{"APP_ENV": "prod"}, false, "APP_ENV"},
		"bad addr":                   {map[string]string{"HTTP_ADDR": "8082"}, false, "HTTP_ADDR"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for k, v := range base {
				t.Setenv(k, v)
			}
			for k, v := range c.change {
				t.Setenv(k, v)
			}
			_, err := loadConfig(c.migrateOnly)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
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
