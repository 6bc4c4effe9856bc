package store

import "github.com/fundplatform/platform/libs/pg"

// Gauges are the profit service's business metrics, read from its database
// when Prometheus scrapes (pg.Gauges; docs/operations.md#business-metrics).
// Every currency of a portfolio the service knows has a series, zero or
// not, so the dashboards and alerts have data from the first portfolio on.
// An allocation a NAV correction reversed no longer counts (standing).
func Gauges() []pg.Gauge {
	return []pg.Gauge{{
		Name:   "fund_profit_allocations",
		Help:   "Allocations (NAV and manual profits) by status — allocated, no_distribution, awaiting_ratio — and currency.",
		Labels: []string{"status", "currency"},
		SQL: `SELECT s.status, c.currency, count(a.id)::float8
			FROM (SELECT DISTINCT currency FROM portfolios) c
			CROSS JOIN (VALUES ('allocated'), ('no_distribution'), ('awaiting_ratio')) s(status)
			LEFT JOIN allocations a ON a.currency = c.currency AND a.status = s.status AND ` + standing + `
			GROUP BY 1, 2`,
	}, {
		Name:   "fund_profit_awaiting_ratio_amount",
		Help:   "Profit recorded and waiting for its portfolio's first ratio, by currency.",
		Labels: []string{"currency"},
		SQL: `SELECT c.currency, COALESCE(sum(a.profit_amount), 0)::float8
			FROM (SELECT DISTINCT currency FROM portfolios) c
			LEFT JOIN allocations a ON a.currency = c.currency AND a.status = 'awaiting_ratio' AND ` + standing + `
			GROUP BY 1`,
	}, {
		Name:   "fund_profit_distributed_amount",
		Help:   "Profit distributed so far, by currency and share (team, platform, user).",
		Labels: []string{"currency", "share"},
		SQL: `SELECT c.currency, s.share, COALESCE(sum(CASE s.share WHEN 'team' THEN a.to_team_amount
				WHEN 'platform' THEN a.to_platform_amount ELSE a.to_user_amount END), 0)::float8
			FROM (SELECT DISTINCT currency FROM portfolios) c
			CROSS JOIN (VALUES ('team'), ('platform'), ('user')) s(share)
			LEFT JOIN allocations a ON a.currency = c.currency AND a.status = 'allocated' AND ` + standing + `
			GROUP BY 1, 2`,
	}, {
		Name:   "fund_profit_loss_carryforward_amount",
		Help:   "Losses carried forward (not yet made good by later profits), summed over portfolios, by currency.",
		Labels: []string{"currency"},
		SQL:    `SELECT currency, sum(loss_carryforward)::float8 FROM portfolios GROUP BY 1`,
	}}
}
