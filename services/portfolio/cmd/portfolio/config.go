package main

import (
	"github.com/fundplatform/platform/libs/serve"
)

// defaultAddr is the listen address unless HTTP_ADDR is set.
const defaultAddr = "127.0.0.1:8082"

// config is the portfolio service's environment: serve.BackendConfig
// (HTTP_ADDR, DATABASE_URL, KAFKA_BROKERS — the brokers the outbox relay
// publishes to, not needed with -migrate-only —, JWKS_URL, AUTH_URL — the
// auth service, asked whether a write's token is current and whether
// owners exist —, JWT_ISSUER, JWT_AUDIENCE, APP_ENV, LOG_*, SHUTDOWN_*,
// DEBUG_ADDR).
type config struct {
	serve.BackendConfig
}

// options are how serve.LoadBackend reads config.
var options = []serve.BackendOption{serve.MigrateWithoutBrokers()}

// loadConfig reads the environment as main does; with migrateOnly,
// KAFKA_BROKERS may be unset (migrations connect to the database only).
func loadConfig(migrateOnly bool) (config, error) {
	return serve.LoadBackend[config](defaultAddr, migrateOnly, options...)
}
