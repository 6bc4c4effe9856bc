package transport_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/openapitest"
	"github.com/fundplatform/platform/libs/servicetest"
	"github.com/fundplatform/platform/services/profit/api"
	"github.com/fundplatform/platform/services/profit/internal/endpoint"
	"github.com/fundplatform/platform/services/profit/internal/transport"
)

// openAPI is the hand-written document (api/openapi.json) and what the
// kit's checks must know of the service (see servicetest.OpenAPI).
var openAPI = servicetest.OpenAPI{
	Raw: api.OpenAPI,
	Document: openapitest.Document{
		Title: "Fund platform — profit service",
		Schemas: []string{"Ratio", "Allocation", "NewRatio", "ManualProfit", "ErrorEnvelope", "ErrorData",
			"RatioEnvelope", "RatioListEnvelope", "AllocationEnvelope", "AllocationListEnvelope"},
		// The resources have exactly the documented fields
		// (docs/api.md#profit-service), all required.
		Fields: map[string][]string{
			"Ratio": {"id", "portfolio_id", "version", "to_team", "to_platform", "to_user", "created_by", "created_at", "effective_from"},
			"Allocation": {"id", "allocation_key", "portfolio_id", "source", "snapshot_id", "period_end", "profit_amount", "loss_carryforward_before",
				"loss_carryforward_after", "distributable", "ratio_id", "ratio_version", "to_team_amount", "to_platform_amount",
				"to_user_amount", "user_id", "team_id", "currency", "status", "created_at", "corrects", "correction_id", "reversed_by_correction"},
		},
	},
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

	// A tour of the API as its callers use it; every answer matches the document.
	admin, viewer, owner := e.Token(1, "admin"), e.Token(2, "viewer"), e.Token(7, "user", 3)
	e.portfolio(42, 7, 3)
	e.portfolio(43, 10, 5)
	var a allocation
	key := func(k string) []string { return []string{"Idempotency-Key", k} }
	e.Tour(t,
		servicetest.Step{Method: "GET", Path: ratiosPath + "/current?portfolio_id=42", Token: admin, Status: 404},
		servicetest.Step{Method: "POST", Path: allocationsPath, Token: admin, Body: manual(42, "-25", day(1)), Headers: key("tour-1"), Status: 201},
		servicetest.Step{Method: "POST", Path: allocationsPath, Token: admin, Body: manual(42, "-25", day(1)), Headers: key("tour-1"), Status: 201},
		servicetest.Step{Method: "POST", Path: allocationsPath, Token: admin, Body: manual(42, "-26", day(1)), Headers: key("tour-1"), Status: 409},
		servicetest.Step{Method: "POST", Path: allocationsPath, Token: admin, Body: manual(42, "100", day(2)), Status: 201, Data: &a},
		servicetest.Step{Method: "POST", Path: allocationsPath, Token: admin, Body: manual(42, "1", day(0)), Status: 409},
		servicetest.Step{Method: "POST", Path: allocationsPath, Token: admin, Body: manual(42, "0.123456789", day(3)), Status: 400},
		servicetest.Step{Method: "POST", Path: allocationsPath, Token: admin, Body: manual(999, "1", day(3)), Status: 404},
		servicetest.Step{Method: "POST", Path: allocationsPath, Token: viewer, Body: manual(42, "1", day(3)), Status: 403},
		servicetest.Step{Method: "POST", Path: allocationsPath, Token: admin, Body: `{"portfolio_id":42,"profit_amount":"` + strings.Repeat("1", httpx.MaxBodyBytes) + `"}`, Status: 413},
		servicetest.Step{Method: "POST", Path: ratiosPath, Token: admin, Body: shares(42, "0.2", "0.1", "0.6999"), Status: 400},
		servicetest.Step{Method: "POST", Path: ratiosPath, Token: admin, Body: shares(42, "0.2", "0.1", "0.7"), Status: 201},
		servicetest.Step{Method: "POST", Path: ratiosPath, Token: admin, Body: shares(43, 0.5, 0.5, 0), Status: 201},
		servicetest.Step{Method: "POST", Path: ratiosPath, Token: owner, Body: shares(42, "1", "0", "0"), Status: 403},
		servicetest.Step{Method: "POST", Path: ratiosPath, Token: admin, Body: shares(999, "1", "0", "0"), Status: 404},
		servicetest.Step{Method: "GET", Path: ratiosPath + "/current?portfolio_id=42", Token: owner, Status: 200},
		servicetest.Step{Method: "GET", Path: ratiosPath + "/current", Token: owner, Status: 400},
		servicetest.Step{Method: "GET", Path: ratiosPath + "/current?portfolio_id=43", Token: owner, Status: 404},
		servicetest.Step{Method: "GET", Path: ratiosPath + "?portfolio_id=42&limit=10&offset=0", Token: owner, Status: 200},
		servicetest.Step{Method: "GET", Path: ratiosPath, Token: viewer, Status: 200},
		servicetest.Step{Method: "GET", Path: ratiosPath, Token: owner, Status: 400},
		servicetest.Step{Method: "GET", Path: ratiosPath + "?limit=0", Token: viewer, Status: 400},
		servicetest.Step{Method: "GET", Path: allocationsPath + "?portfolio_id=42&from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z&limit=5", Token: owner, Status: 200},
		servicetest.Step{Method: "GET", Path: allocationsPath, Token: viewer, Status: 200},
		servicetest.Step{Method: "GET", Path: allocationsPath + "?portfolio_id=43", Token: owner, Status: 404},
		servicetest.Step{Method: "GET", Path: allocationsPath + "?from=nope", Token: viewer, Status: 400},
		servicetest.Step{Method: "GET", Path: allocationsPath + "/999999", Token: admin, Status: 404},
	)
	for _, tok := range []string{admin, owner} {
		e.Do("GET", fmt.Sprintf("%s/%d", allocationsPath, a.ID), tok, nil).OK(t, 200, nil)
	}

	// A portfolio not known here yet: looked up in the portfolio service,
	// which knows 44 and then stops answering.
	e.portfolios.create(44, 7, 3)
	e.Tour(t, servicetest.Step{Method: "POST", Path: ratiosPath, Token: admin, Body: shares(44, "1", "0", "0"), Status: 201})
	e.portfolios.set(true, false)
	e.Tour(t,
		servicetest.Step{Method: "POST", Path: ratiosPath, Token: admin, Body: shares(45, "1", "0", "0"), Status: 503},
		servicetest.Step{Method: "GET", Path: ratiosPath + "?portfolio_id=45", Token: owner, Status: 503},
		servicetest.Step{Method: "GET", Path: ratiosPath + "/current?portfolio_id=45", Token: owner, Status: 503},
		servicetest.Step{Method: "POST", Path: allocationsPath, Token: admin, Body: manual(45, "1", day(3)), Status: 503},
		servicetest.Step{Method: "GET", Path: allocationsPath + "?portfolio_id=45", Token: owner, Status: 503},
	)
}
