package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/fundplatform/platform/libs/serve"
)

// config is the withdrawal service's environment.
//
//	HTTP_ADDR                  listen address (default 127.0.0.1:8084)
//	DATABASE_URL               PostgreSQL URL (required)
//	KAFKA_BROKERS              comma-separated Kafka bootstrap brokers, host:port (required)
//	JWKS_URL                   the auth service's JWKS (default http://127.0.0.1:8081/.well-known/jwks.json)
//	JWT_ISSUER, JWT_AUDIENCE   iss and aud access tokens must carry (fund-auth, fund-api)
//	APP_ENV                    development | production
//	LOG_LEVEL, LOG_FORMAT, OTEL_EXPORTER_OTLP_ENDPOINT, SHUTDOWN_DRAIN_DELAY, SHUTDOWN_TIMEOUT
type config struct {
	serve.Config
	DatabaseURL  string   `env:"DATABASE_URL"`
	KafkaBrokers []string `env:"KAFKA_BROKERS" envSeparator:","`
	JWKSURL      string   `env:"JWKS_URL" envDefault:"http://127.0.0.1:8081/.well-known/jwks.json"`
	JWTIssuer    string   `env:"JWT_ISSUER" envDefault:"fund-auth"`
	JWTAudience  string   `env:"JWT_AUDIENCE" envDefault:"fund-api"`
}

func loadConfig() (config, error) {
	cfg := config{Config: serve.Config{HTTPAddr: "127.0.0.1:8084"}}
	if err := env.Parse(&cfg); err != nil {
		return cfg, err
	}
	cfg.KafkaBrokers = brokers(cfg.KafkaBrokers)
	return cfg, cfg.Validate()
}

// brokers drops the empty entries a trailing or doubled comma leaves.
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
func (c config) Validate() error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL is required"))
	}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is required"))
	}
	for _, b := range c.KafkaBrokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("KAFKA_BROKERS: %q is not host:port", b))
		}
	}
	if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("JWKS_URL %q must be an http(s) URL", c.JWKSURL))
	}
	if c.JWTIssuer == "" || c.JWTAudience == "" {
		errs = append(errs, errors.New("JWT_ISSUER and JWT_AUDIENCE must not be empty"))
	}
	return errors.Join(errs...)
}
