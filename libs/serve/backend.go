package serve

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Backend is the configuration shared by every service that owns a
// database, talks to Kafka and verifies access tokens against the auth
// service's JWKS; services embed it next to Config:
//
//	DATABASE_URL               PostgreSQL URL (required)
//	KAFKA_BROKERS              comma-separated Kafka bootstrap brokers, host:port (required)
//	JWKS_URL                   the auth service's JWKS (default http://127.0.0.1:8081/.well-known/jwks.json)
//	JWT_ISSUER, JWT_AUDIENCE   iss and aud access tokens must carry (fund-auth, fund-api)
type Backend struct {
	DatabaseURL  string   `env:"DATABASE_URL"`
	KafkaBrokers []string `env:"KAFKA_BROKERS" envSeparator:","`
	JWKSURL      string   `env:"JWKS_URL" envDefault:"http://127.0.0.1:8081/.well-known/jwks.json"`
	JWTIssuer    string   `env:"JWT_ISSUER" envDefault:"fund-auth"`
	JWTAudience  string   `env:"JWT_AUDIENCE" envDefault:"fund-api"`
}

// Check cleans the broker list (a trailing or doubled comma leaves empty
// entries) and fails fast on a configuration the service must not run with.
func (b *Backend) Check() error {
	var brokers []string
	for _, s := range b.KafkaBrokers {
		if s = strings.TrimSpace(s); s != "" {
			brokers = append(brokers, s)
		}
	}
	b.KafkaBrokers = brokers
	var errs []error
	if b.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL is required"))
	}
	if len(b.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is required"))
	}
	for _, s := range b.KafkaBrokers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			errs = append(errs, fmt.Errorf("KAFKA_BROKERS: %q is not host:port", s))
		}
	}
	if u, err := url.Parse(b.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("JWKS_URL %q must be an http(s) URL", b.JWKSURL))
	}
	if b.JWTIssuer == "" || b.JWTAudience == "" {
		errs = append(errs, errors.New("JWT_ISSUER and JWT_AUDIENCE must not be empty"))
	}
	return errors.Join(errs...)
}

// BackendConfig is the whole configuration of a service that needs nothing
// beyond Config and Backend.
type BackendConfig struct {
	Config
	Backend
}

// LoadBackendConfig reads a BackendConfig from the environment, with
// defaultAddr as the listen address unless HTTP_ADDR is set, and checks it.
func LoadBackendConfig(defaultAddr string) (BackendConfig, error) {
	cfg := BackendConfig{Config: Config{HTTPAddr: defaultAddr}}
	if err := env.Parse(&cfg); err != nil {
		return cfg, err
	}
	return cfg, errors.Join(cfg.Config.Validate(), cfg.Backend.Check())
}
