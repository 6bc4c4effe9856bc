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
//	AUTH_URL                   the auth service, asked whether the token of a write is still current (default http://127.0.0.1:8081)
//	JWT_ISSUER, JWT_AUDIENCE   iss and aud access tokens must carry (fund-auth, fund-api)
type Backend struct {
	DatabaseURL  string   `env:"DATABASE_URL"`
	KafkaBrokers []string `env:"KAFKA_BROKERS" envSeparator:","`
	JWKSURL      string   `env:"JWKS_URL" envDefault:"http://127.0.0.1:8081/.well-known/jwks.json"`
	AuthURL      string   `env:"AUTH_URL" envDefault:"http://127.0.0.1:8081"`
	JWTIssuer    string   `env:"JWT_ISSUER" envDefault:"fund-auth"`
	JWTAudience  string   `env:"JWT_AUDIENCE" envDefault:"fund-api"`
}

// Database returns DATABASE_URL.
func (b Backend) Database() string { return b.DatabaseURL }

// Check cleans the broker list (a trailing or doubled comma leaves empty
// entries) and fails fast on a configuration the service must not run with.
func (b *Backend) Check() error { return b.check(true) }

// check is Check; without needBrokers an empty KAFKA_BROKERS is accepted.
func (b *Backend) check(needBrokers bool) error {
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
	if needBrokers && len(b.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is required"))
	}
	for _, s := range b.KafkaBrokers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			errs = append(errs, fmt.Errorf("KAFKA_BROKERS: %q is not host:port", s))
		}
	}
	for name, u := range map[string]string{"JWKS_URL": b.JWKSURL, "AUTH_URL": b.AuthURL} {
		if err := CheckServiceURL(name, u); err != nil {
			errs = append(errs, err)
		}
	}
	if b.JWTIssuer == "" || b.JWTAudience == "" {
		errs = append(errs, errors.New("JWT_ISSUER and JWT_AUDIENCE must not be empty"))
	}
	return errors.Join(errs...)
}

// BackendConfig is the whole configuration of a service that needs nothing
// beyond Config and Backend (profit, withdrawal, stats); a service that
// reads more embeds it and loads it with LoadBackend.
type BackendConfig struct {
	Config
	Backend
}

// LoadBackendConfig reads a BackendConfig from the environment, with
// defaultAddr as the listen address unless HTTP_ADDR is set, and checks it.
func LoadBackendConfig(defaultAddr string) (BackendConfig, error) {
	return LoadBackend[BackendConfig](defaultAddr, false)
}

// backendConfigPtr is *C for a struct C that embeds BackendConfig.
type backendConfigPtr[C any] interface {
	*C
	backend() *BackendConfig
}

func (c *BackendConfig) backend() *BackendConfig { return c }

// Extension is implemented by a configuration that embeds BackendConfig
// and reads variables of its own: LoadBackend checks those with
// CheckExtension after BackendConfig's own checks.
type Extension interface {
	CheckExtension() error
}

// BackendOption changes what LoadBackend requires.
type BackendOption func(*backendOptions)

type backendOptions struct {
	migrateWithoutBrokers bool
}

// MigrateWithoutBrokers lets the service run -migrate-only without
// KAFKA_BROKERS: its migrations need the database only.
func MigrateWithoutBrokers() BackendOption {
	return func(o *backendOptions) { o.migrateWithoutBrokers = true }
}

// LoadBackend reads a configuration C — BackendConfig, or a struct that
// embeds it and adds variables of its own (checked by CheckExtension when
// C implements Extension) — from the environment, with defaultAddr as the
// listen address unless HTTP_ADDR is set, and checks it. migrateOnly is
// set when the process only applies migrations (see MigrateWithoutBrokers).
func LoadBackend[C any, P backendConfigPtr[C]](defaultAddr string, migrateOnly bool, opts ...BackendOption) (C, error) {
	var o backendOptions
	for _, opt := range opts {
		opt(&o)
	}
	var cfg C
	p := P(&cfg)
	p.backend().HTTPAddr = defaultAddr
	if err := env.Parse(&cfg); err != nil {
		return cfg, err
	}
	b := p.backend()
	errs := []error{b.Config.Validate(), b.Backend.check(!migrateOnly || !o.migrateWithoutBrokers)}
	if x, ok := any(p).(Extension); ok {
		errs = append(errs, x.CheckExtension())
	}
	return cfg, errors.Join(errs...)
}

// CheckServiceURL checks the setting name, the URL of another service: an
// http or https URL with a host.
func CheckServiceURL(name, value string) error {
	if u, err := url.Parse(value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q must be an http(s) URL", name, value)
	}
	return nil
}
