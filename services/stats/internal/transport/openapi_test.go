package transport_test

import (
	"testing"

	"github.com/fundplatform/platform/libs/openapitest"
	"github.com/fundplatform/platform/libs/servicetest"
	"github.com/fundplatform/platform/services/stats/api"
	"github.com/fundplatform/platform/services/stats/internal/endpoint"
	"github.com/fundplatform/platform/services/stats/internal/transport"
)

// openAPI is the hand-written document (api/openapi.json) and what the
// kit's checks must know of the service (see servicetest.OpenAPI).
var openAPI = servicetest.OpenAPI{
	Raw: api.OpenAPI,
	Document: openapitest.Document{
		Title: "Fund platform — stats service",
		Schemas: []string{"Overview", "CurrencyTotals", "Counts", "AccProfit", "Hourly", "SummaryRow", "ErrorEnvelope", "ErrorData",
			"OverviewEnvelope", "AccProfitEnvelope", "AccProfitListEnvelope", "HourlyListEnvelope", "SummaryListEnvelope"},
		// The resources have exactly the documented fields
		// (docs/api.md#stats-service), all required.
		Fields: map[string][]string{
			"Overview": {"totals", "counts", "last_event_at"},
			"CurrencyTotals": {"currency", "total_profit", "total_distributed", "to_team_total", "to_platform_total", "to_user_total",
				"loss_carryforward_total", "withdrawals_pending_amount", "withdrawals_completed_amount", "withdrawals_failed_amount",
				"reallocated_total"},
			"Counts":     {"portfolios", "allocations", "withdrawals", "reallocations"},
			"AccProfit":  {"portfolio_id", "currency", "acc_profit", "distributed", "to_team_total", "to_platform_total", "to_user_total", "loss_carryforward", "updated_at"},
			"Hourly":     {"hour", "currency", "profit"},
			"SummaryRow": {"key", "currency", "profit", "distributed", "to_team", "to_platform", "to_user", "withdrawn"},
		},
	},
	// Every /api/v1/ answer says how fresh its data is.
	Options: openapitest.Options{APIHeaders: []string{"X-Data-Freshness"}},
	// NewHandler only registers routes; nil endpoints are never called.
	Routes: transport.NewHandler(endpoint.Endpoints{}, nil, nil, nil).Routes,
}

// TestOpenAPI checks the document's frame, routes and operations
// (servicetest.OpenAPI.Test).
func TestOpenAPI(t *testing.T) { openAPI.Test(t) }

// TestOpenAPIServed checks /openapi.json serves the document, and that what
// the running service answers matches what the document says.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	openAPI.CheckServed(t, e.Server)

	// A tour of the API as its callers use it, before and after events;
	// every answer matches the document.
	admin, viewer, owner := e.Token(1, "admin"), e.Token(2, "viewer"), e.Token(7, "user", 3)
	get := func(path, token string, status int) servicetest.Step {
		return servicetest.Call("GET", path, token, nil, status)
	}
	steps := []servicetest.Step{
		get("/api/v1/stats/overview", viewer, 200),
		get("/api/v1/stats/acc_profit/1", admin, 200),
		get("/api/v1/stats/acc_profit", owner, 200),
		get("/api/v1/stats/summary?group_by=hour", admin, 200),
	}
	e.Tour(t, steps...)
	e.seed()
	steps = append(steps,
		get("/api/v1/stats/overview", owner, 403),
		get("/api/v1/stats/acc_profit?limit=2&offset=0", admin, 200),
		get("/api/v1/stats/acc_profit?limit=0", admin, 400),
		get("/api/v1/stats/acc_profit/3", owner, 404),
		get("/api/v1/stats/acc_profit/x", owner, 404),
		get("/api/v1/stats/hourly?owner_type=user&owner_id=7&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", owner, 200),
		get("/api/v1/stats/hourly?owner_type=team&owner_id=5", owner, 404),
		get("/api/v1/stats/hourly?owner_type=nobody", owner, 400),
		get("/api/v1/stats/summary?group_by=portfolio", viewer, 200),
		get("/api/v1/stats/summary?group_by=day&from=2026-03-01T00:00:00Z", viewer, 200),
		get("/api/v1/stats/summary?group_by=week", viewer, 400),
		get("/api/v1/stats/summary?group_by=user&currency=USD", viewer, 200),
		get("/api/v1/stats/hourly?owner_type=platform&currency=usd", admin, 400),
		get("/api/v1/stats/summary?group_by=day", owner, 403),
	)
	e.Tour(t, steps...)
}
