package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/fundplatform/platform/libs/serve"
)

// config is the portfolio service's environment.
//
//	HTTP_ADDR                  listen address (default 127.0.0.1:8082)
//	DATABASE_URL               PostgreSQL URL (required)
//	KAFKA_BROKERS              comma-separated Kafka brokers the outbox relay publishes to (required)
//	AUTH_URL                   the auth service, asked whether owners exist (default http://127.0.0.1:8081)
//	JWKS_URL                   the auth service's public keys (default http://127.0.0.1:8081/.well-known/jwks.json)
//	JWT_ISSUER, JWT_AUDIENCE   iss and aud that access tokens must carry (fund-auth, fund-api)
//	APP_ENV, LOG_LEVEL, LOG_FORMAT, OTEL_EXPORTER_OTLP_ENDPOINT, SHUTDOWN_DRAIN_DELAY, SHUTDOWN_TIMEOUT
type config struct {
	serve.Config
	DatabaseURL  string   `env:"DATABASE_URL"`
	KafkaBrokers []string `env:"KAFKA_BROKERS" envSeparator:","`
	AuthURL      string   `env:"AUTH_URL" envDefault:"http://127.0.0.1:8081"`
	JWKSURL      string   `env:"JWKS_URL" envDefault:"http://127.0.0.1:8081/.well-known/jwks.json"`
	JWTIssuer    string   `env:"JWT_ISSUER" envDefault:"fund-auth"`
	JWTAudience  string   `env:"JWT_AUDIENCE" envDefault:"fund-api"`
}

// loadConfig reads the environment; with migrateOnly, KAFKA_BROKERS may be
// unset (migrations connect to the database only).
func loadConfig(migrateOnly bool) (config, error) {
	cfg := config{Config: serve.Config{HTTPAddr: "127.0.0.1:8082"}}
	if err := env.Parse(&cfg); err != nil {
		return cfg, err
	}
	cfg.KafkaBrokers = brokers(cfg.KafkaBrokers)
	return cfg, cfg.validate(!migrateOnly)
}

// brokers drops the blanks of a comma-separated list ("a:9092, b:9092,").
func brokers(in []string) []string {
	var out []string
	for _, b := range in {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Validate fails fast on a configuration the service must not run with.
func (c config) Validate() error { return c.validate(true) }

func (c config) validate(needBrokers bool) error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL is required"))
	}
	if needBrokers && len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is required"))
	}
	for _, v := range []struct{ name, url string }{{"AUTH_URL", c.AuthURL}, {"JWKS_URL", c.JWKSURL}} {
		u, err := url.Parse(v.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s must be an http(s) URL, is %q", v.name, v.url))
		}
	}
	if c.JWTIssuer == "" || c.JWTAudience == "" {
		errs = append(errs, errors.New("JWT_ISSUER and JWT_AUDIENCE must not be empty"))
	}
	return errors.Join(errs...)
}
