package transport_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/openapitest"
	"github.com/fundplatform/platform/libs/servicetest"
	"github.com/fundplatform/platform/services/portfolio/api"
	"github.com/fundplatform/platform/services/portfolio/internal/endpoint"
	"github.com/fundplatform/platform/services/portfolio/internal/transport"
)

// openAPI is the hand-written document (api/openapi.json) and what the
// kit's checks must know of the service (see servicetest.OpenAPI).
var openAPI = servicetest.OpenAPI{
	Raw: api.OpenAPI,
	Document: openapitest.Document{
		Title: "Fund platform — portfolio service",
		Schemas: []string{"Portfolio", "NewPortfolio", "PortfolioPatch", "NAVSnapshot", "NewNAVSnapshot",
			"PortfolioEnvelope", "PortfolioListEnvelope", "NAVSnapshotEnvelope", "NAVSnapshotListEnvelope", "ErrorEnvelope", "ErrorData"},
	},
	// NewHandler only registers routes; nil endpoints are never called.
	Routes: transport.NewHandler(endpoint.Endpoints{}, nil, nil, nil).Routes,
}

// TestOpenAPI checks the document's frame, routes and operations
// (servicetest.OpenAPI.Test).
func TestOpenAPI(t *testing.T) { openAPI.Test(t) }

// TestOpenAPIAmounts: amounts in responses are the contract's 8-decimal
// strings.
func TestOpenAPIAmounts(t *testing.T) {
	snap := openAPI.Load(t).Components.Schemas["NAVSnapshot"].Value
	for _, prop := range []string{"nav", "net_flow", "units", "nav_per_unit", "profit", "period_return"} {
		s := snap.Properties[prop].Value
		if !s.Type.Is("string") || !strings.HasSuffix(s.Pattern, `\.[0-9]{8}$`) {
			t.Errorf("NAVSnapshot.%s is not an 8-decimal string", prop)
		}
	}
}

// TestOpenAPIServed checks /openapi.json serves the document, and that what
// the running service answers matches what the document says.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	openAPI.CheckServed(t, e.Server)

	// A tour of the API as its callers use it; every answer must match the
	// document.
	var p portfolioJSON
	e.Do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "Tour", "description": "d", "user_id": aliceID,
		"team_id": alphaID, "currency": "EUR"}).OK(t, 201, &p)
	one := fmt.Sprintf("/api/v1/portfolios/%d", p.ID)
	nav := navPath(p.ID)
	call := servicetest.Call
	e.Tour(t,
		call("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "x", "user_id": 999, "team_id": alphaID}, 404),
		call("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "x", "user_id": aliceID, "team_id": 999}, 404),
		call("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "x", "user_id": aliceID, "team_id": alphaID, "currency": "usd"}, 400),
		call("POST", "/api/v1/portfolios", e.admin, `{"name":"x","size":1}`, 400),
		call("POST", "/api/v1/portfolios", e.admin, `{"name":"`+strings.Repeat("a", httpx.MaxBodyBytes)+`"}`, 413),
		call("POST", "/api/v1/portfolios", e.admin, `{}`, 415).With("Content-Type", "text/plain"),
		call("POST", "/api/v1/portfolios", e.viewer, map[string]any{"name": "x", "user_id": aliceID, "team_id": alphaID}, 403),
		call("GET", "/api/v1/portfolios?user_id=10&team_id=100&limit=10&offset=0", e.alice, nil, 200),
		call("GET", "/api/v1/portfolios?limit=0", e.admin, nil, 400),
		call("GET", one, e.viewer, nil, 200),
		call("GET", one, e.bob, nil, 404),
		call("PATCH", one, e.admin, map[string]any{"name": "Tour II", "user_id": bobID}, 200),
		call("PATCH", one, e.admin, map[string]any{}, 400),
		call("PATCH", one, e.admin, map[string]any{"team_id": 999}, 404),
		call("PATCH", one, e.bob, map[string]any{"name": "y"}, 403),
		call("PATCH", "/api/v1/portfolios/999999", e.admin, map[string]any{"name": "y"}, 404),
		call("POST", nav, e.admin, map[string]any{"as_of": day(1), "nav": "1000", "units": "10"}, 201).With("Idempotency-Key", "tour-1"),
		call("POST", nav, e.admin, map[string]any{"as_of": day(1), "nav": "1000", "units": "10"}, 201).With("Idempotency-Key", "tour-1"),
		call("POST", nav, e.admin, map[string]any{"as_of": day(2), "nav": "1000"}, 409).With("Idempotency-Key", "tour-1"),
		call("POST", nav, e.admin, map[string]any{"as_of": day(2), "nav": "1100.5", "net_flow": -50}, 201),
		call("POST", nav, e.admin, map[string]any{"as_of": day(2), "nav": "1"}, 409),
		call("POST", nav, e.admin, map[string]any{"as_of": day(3), "nav": "1000000", "units": "0.00000001"}, 422),
		call("POST", nav, e.admin, `{"as_of":"`+day(3)+`","nav":1e3}`, 400),
		call("POST", nav, e.admin, map[string]any{"as_of": day(3), "nav": "1"}, 400).With("Idempotency-Key", ""),
		call("POST", nav, e.viewer, map[string]any{"as_of": day(3), "nav": "1"}, 403),
		call("POST", navPath(999999), e.admin, map[string]any{"as_of": day(3), "nav": "1"}, 404),
		call("POST", nav, e.admin, `{"as_of":"x","nav":"`+strings.Repeat("1", httpx.MaxBodyBytes)+`"}`, 413),
		call("POST", nav, e.admin, `{}`, 415).With("Content-Type", "text/xml"),
		call("GET", nav+"?from="+day(1)+"&to="+day(2)+"&limit=5&offset=0", e.bob, nil, 200),
		call("GET", nav+"?from=tomorrow", e.admin, nil, 400),
		call("GET", navPath(999999), e.admin, nil, 404),
	)

	// The auth service down: 503, as documented.
	e.auth.down.Store(true)
	e.Do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "x", "user_id": aliceID, "team_id": alphaID}).
		Fails(t, 503, "dependency_unavailable")
	e.Do("PATCH", one, e.admin, map[string]any{"user_id": aliceID}).Fails(t, 503, "dependency_unavailable")
}
