package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/fundplatform/platform/libs/serve"
	"github.com/fundplatform/platform/services/auth/internal/identity"
)

// config is the auth service's environment.
//
//	HTTP_ADDR                  listen address (default 127.0.0.1:8081)
//	DATABASE_URL               PostgreSQL URL (required)
//	APP_ENV                    development | production
//	JWT_SIGNING_KEY_FILE       Ed25519 private key, PKCS#8 PEM file
//	JWT_SIGNING_KEY            the same PEM inline (when no file)
//	JWT_ISSUER, JWT_AUDIENCE   iss and aud of access tokens (fund-auth, fund-api)
//	ACCESS_TOKEN_TTL           default 15m
//	REFRESH_TOKEN_TTL          default 168h
//	BCRYPT_COST                default 12; production refuses less
//	BOOTSTRAP_ADMIN_EMAIL      first admin, created when there are no users (admin@fund.local)
//	BOOTSTRAP_ADMIN_PASSWORD   its password; development generates and logs one when unset
//	XFF_TRUSTED_HOPS           proxies in front of the edge appending to X-Forwarded-For (default 0)
//	LOG_LEVEL, LOG_FORMAT, OTEL_EXPORTER_OTLP_ENDPOINT, SHUTDOWN_DRAIN_DELAY, SHUTDOWN_TIMEOUT
type config struct {
	serve.Config
	DatabaseURL            string        `env:"DATABASE_URL"`
	SigningKeyFile         string        `env:"JWT_SIGNING_KEY_FILE"`
	SigningKey             string        `env:"JWT_SIGNING_KEY"`
	JWTIssuer              string        `env:"JWT_ISSUER" envDefault:"fund-auth"`
	JWTAudience            string        `env:"JWT_AUDIENCE" envDefault:"fund-api"`
	AccessTokenTTL         time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"15m"`
	RefreshTokenTTL        time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"168h"`
	BcryptCost             int           `env:"BCRYPT_COST" envDefault:"12"`
	BootstrapAdminEmail    string        `env:"BOOTSTRAP_ADMIN_EMAIL" envDefault:"admin@fund.local"`
	BootstrapAdminPassword string        `env:"BOOTSTRAP_ADMIN_PASSWORD"`
	XFFTrustedHops         int           `env:"XFF_TRUSTED_HOPS" envDefault:"0"`
}

// defaultPasswords are refused as the bootstrap admin's in production.
var defaultPasswords = []string{"admin", "password", "changeme", "change-me", "admin123", "adminadmin123",
	"password1234", "changemechangeme", "admin@fund.local"}

func loadConfig() (config, error) {
	cfg := config{Config: serve.Config{HTTPAddr: "127.0.0.1:8081"}}
	if err := env.Parse(&cfg); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Database returns DATABASE_URL (for serve.Main).
func (c config) Database() string { return c.DatabaseURL }

// Validate fails fast on a configuration the service must not run with.
func (c config) Validate() error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL is required"))
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("ACCESS_TOKEN_TTL must be between 1m and 24h, is %s", c.AccessTokenTTL))
	}
	if c.RefreshTokenTTL <= c.AccessTokenTTL {
		errs = append(errs, errors.New("REFRESH_TOKEN_TTL must be longer than ACCESS_TOKEN_TTL"))
	}
	if c.XFFTrustedHops < 0 || c.XFFTrustedHops > 10 {
		errs = append(errs, fmt.Errorf("XFF_TRUSTED_HOPS must be between 0 and 10, is %d", c.XFFTrustedHops))
	}
	if c.BcryptCost < 4 || c.BcryptCost > 31 {
		errs = append(errs, fmt.Errorf("BCRYPT_COST must be between 4 and 31, is %d", c.BcryptCost))
	}
	if c.Production() {
		if c.SigningKeyFile == "" && c.SigningKey == "" {
			errs = append(errs, errors.New("production: JWT_SIGNING_KEY_FILE or JWT_SIGNING_KEY is required"))
		}
		if c.BcryptCost < identity.DefaultBcryptCost {
			errs = append(errs, fmt.Errorf("production: BCRYPT_COST must be at least %d", identity.DefaultBcryptCost))
		}
		pw := c.BootstrapAdminPassword
		switch {
		case pw == "":
			errs = append(errs, errors.New("production: BOOTSTRAP_ADMIN_PASSWORD is required (it is only used when there are no users yet)"))
		case slices.Contains(defaultPasswords, strings.ToLower(pw)):
			errs = append(errs, errors.New("production: BOOTSTRAP_ADMIN_PASSWORD is a default password; choose another"))
		}
	}
	return errors.Join(errs...)
}
