package serve

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fundplatform/platform/libs/serve/configtest"
)

func TestLoadBackendConfig(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1/profit", "KAFKA_BROKERS": "127.0.0.1:9092"}
	configtest.Run(t, base, map[string]configtest.Case{
		"complete":        {},
		"no database":     {Change: map[string]string{"DATABASE_URL": ""}, Want: "DATABASE_URL"},
		"no brokers":      {Change: map[string]string{"KAFKA_BROKERS": ""}, Want: "KAFKA_BROKERS is required"},
		"only commas":     {Change: map[string]string{"KAFKA_BROKERS": " , ,"}, Want: "KAFKA_BROKERS is required"},
		"broker no port":  {Change: map[string]string{"KAFKA_BROKERS": "kafka"}, Want: "not host:port"},
		"bad JWKS_URL":    {Change: map[string]string{"JWKS_URL": "auth:8081/jwks"}, Want: "JWKS_URL"},
		"empty audience":  {Change: map[string]string{"JWT_AUDIENCE": ""}}, // empty means the default
		"bad env":         {Change: map[string]string{"APP_ENV": "prod"}, Want: "APP_ENV"},
		"bad listen addr": {Change: map[string]string{"HTTP_ADDR": "8083"}, Want: "HTTP_ADDR"},
	}, func(bool) error {
		_, err := LoadBackendConfig("127.0.0.1:8083")
		return err
	})
}

func TestLoadBackendConfigDefaults(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/profit")
	t.Setenv("KAFKA_BROKERS", "k1:9092, k2:9092,")
	cfg, err := LoadBackendConfig("127.0.0.1:8083")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8083" || cfg.JWKSURL != "http://127.0.0.1:8081/.well-known/jwks.json" ||
		cfg.JWTIssuer != "fund-auth" || cfg.JWTAudience != "fund-api" || cfg.AppEnv != "development" {
		t.Fatalf("defaults = %+v", cfg)
	}
	if !slices.Equal(cfg.KafkaBrokers, []string{"k1:9092", "k2:9092"}) {
		t.Fatalf("brokers = %q", cfg.KafkaBrokers)
	}
}

// extended is a configuration that embeds BackendConfig and reads more.
type extended struct {
	BackendConfig
	Extra string `env:"TEST_EXTRA" envDefault:"ok"`
}

func (e extended) CheckExtension() error {
	if e.Extra != "ok" {
		return errors.New("TEST_EXTRA must be ok")
	}
	return nil
}

func TestLoadBackendExtended(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/portfolio")
	t.Setenv("KAFKA_BROKERS", "k1:9092,")
	cfg, err := LoadBackend[extended]("127.0.0.1:8082", false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8082" || cfg.Extra != "ok" || !slices.Equal(cfg.KafkaBrokers, []string{"k1:9092"}) ||
		cfg.Database() != "postgres://x@127.0.0.1/portfolio" || cfg.Process().HTTPAddr != "127.0.0.1:8082" {
		t.Fatalf("cfg = %+v", cfg)
	}
	t.Setenv("TEST_EXTRA", "no")
	if _, err := LoadBackend[extended]("127.0.0.1:8082", false); err == nil || !strings.Contains(err.Error(), "TEST_EXTRA") {
		t.Fatalf("err = %v, want TEST_EXTRA refused", err)
	}
}

func TestMigrateWithoutBrokers(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/portfolio")
	t.Setenv("KAFKA_BROKERS", "")
	if _, err := LoadBackend[BackendConfig]("127.0.0.1:8082", true); err == nil {
		t.Fatal("-migrate-only without brokers accepted without MigrateWithoutBrokers")
	}
	if _, err := LoadBackend[BackendConfig]("127.0.0.1:8082", true, MigrateWithoutBrokers()); err != nil {
		t.Fatalf("-migrate-only without brokers: %v", err)
	}
	if _, err := LoadBackend[BackendConfig]("127.0.0.1:8082", false, MigrateWithoutBrokers()); err == nil {
		t.Fatal("serving without brokers accepted")
	}
}
