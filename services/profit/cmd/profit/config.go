package main

import (
	"github.com/fundplatform/platform/libs/serve"
)

// defaultAddr is the listen address unless HTTP_ADDR is set.
const defaultAddr = "127.0.0.1:8083"

// config is the profit service's environment: serve.BackendConfig
// (HTTP_ADDR, DATABASE_URL, KAFKA_BROKERS — the brokers of the outbox relay
// and the consumer —, JWKS_URL, JWT_ISSUER, JWT_AUDIENCE, APP_ENV, LOG_*,
// SHUTDOWN_*, DEBUG_ADDR) and
//
//	PORTFOLIO_URL   the portfolio service, asked about portfolios the read
//	                model does not have yet (default http://127.0.0.1:8082,
//	                the portfolio service's own default address)
type config struct {
	serve.BackendConfig
	PortfolioURL string `env:"PORTFOLIO_URL" envDefault:"http://127.0.0.1:8082"`
}

// loadConfig reads the environment as main does.
func loadConfig(migrateOnly bool) (config, error) {
	return serve.LoadBackend[config](defaultAddr, migrateOnly)
}

// CheckExtension checks PORTFOLIO_URL (serve.LoadBackend checks the rest).
func (c config) CheckExtension() error {
	return serve.CheckServiceURL("PORTFOLIO_URL", c.PortfolioURL)
}
