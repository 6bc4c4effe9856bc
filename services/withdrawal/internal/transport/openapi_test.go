package transport_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/openapitest"
	"github.com/fundplatform/platform/libs/servicetest"
	"github.com/fundplatform/platform/services/withdrawal/api"
	"github.com/fundplatform/platform/services/withdrawal/internal/endpoint"
	"github.com/fundplatform/platform/services/withdrawal/internal/transport"
)

// openAPI is the hand-written document (api/openapi.json) and what the
// kit's checks must know of the service (see servicetest.OpenAPI).
var openAPI = servicetest.OpenAPI{
	Raw: api.OpenAPI,
	Document: openapitest.Document{
		Title: "Fund platform — withdrawal service",
		Schemas: []string{"Balance", "CurrencyBalance", "OwnerBalances", "CurrencyVerification", "CheckpointVerification", "Withdrawal", "Reallocation", "Entry", "Verification", "NewWithdrawal",
			"NewReallocation", "FailWithdrawal", "ErrorEnvelope", "ErrorData", "BalanceEnvelope", "BalanceListEnvelope",
			"WithdrawalEnvelope", "WithdrawalListEnvelope", "ReallocationListEnvelope", "EntryListEnvelope", "VerificationEnvelope"},
		// The resources have exactly the documented fields
		// (docs/api.md#withdrawal-service), all required.
		Fields: map[string][]string{
			"Balance":                {"owner_type", "owner_id", "currency", "credited", "reallocated_in", "reallocated_out", "held", "withdrawn", "available"},
			"CurrencyBalance":        {"currency", "credited", "reallocated_in", "reallocated_out", "held", "withdrawn", "available"},
			"OwnerBalances":          {"owner_type", "owner_id", "balances"},
			"Withdrawal":             {"id", "from_type", "owner_id", "currency", "amount", "status", "reason", "requested_by", "created_at", "completed_at"},
			"Entry":                  {"id", "transfer_id", "account", "currency", "amount", "kind", "ref_type", "ref_id", "allocation_key", "created_at", "hash"},
			"Verification":           {"ok", "accounts", "entries", "first_bad_entry_id", "first_bad_account", "first_bad_currency", "currencies", "checkpoint"},
			"CurrencyVerification":   {"currency", "ok", "accounts", "entries", "first_bad_entry_id", "first_bad_account"},
			"CheckpointVerification": {"status", "ok", "key_id", "taken_at", "max_entry_id", "first_divergent_account"},
		},
	},
	// NewHandler only registers routes; nil endpoints are never called.
	Routes: transport.NewHandler(endpoint.Endpoints{}, nil, nil, nil).Routes,
	Params: map[string]string{"owner_type": "user"},
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
	e.credit(7, 3, "100", "50", "10")
	var w withdrawal
	call, key := servicetest.Call, "Idempotency-Key"
	e.Tour(t,
		call("GET", "/api/v1/balances?owner_type=user&limit=10&offset=0", viewer, nil, 200),
		call("GET", "/api/v1/balances?limit=0", viewer, nil, 400),
		call("GET", "/api/v1/balances/user/7", owner, nil, 200),
		call("GET", "/api/v1/balances/user/7?at=2026-01-01T00:00:00Z", owner, nil, 200),
		call("GET", "/api/v1/balances/user/8", owner, nil, 404),
		call("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "10"), 201).With(key, "tour-1").Decode(&w),
		call("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "10"), 201).With(key, "tour-1"),
		call("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "11"), 409).With(key, "tour-1"),
		call("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "1000"), 422),
		call("POST", withdrawalsPath, owner, withdrawalBody("team", 3, "1"), 403),
		call("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "0"), 400),
		call("POST", withdrawalsPath, admin, `{"from_type":"user","owner_id":7,"amount":"`+strings.Repeat("1", httpx.MaxBodyBytes)+`"}`, 413),
		call("GET", withdrawalsPath+"?status=pending&from_type=user&owner_id=7&from=2026-01-01T00:00:00Z", viewer, nil, 200),
	)
	wpath := func(action string) string { return fmt.Sprintf("%s/%d/%s", withdrawalsPath, w.ID, action) }
	e.Tour(t,
		call("GET", fmt.Sprintf("%s/%d", withdrawalsPath, w.ID), owner, nil, 200),
		call("POST", wpath("complete"), owner, nil, 403),
		call("POST", wpath("fail"), admin, map[string]any{}, 400),
		call("POST", wpath("complete"), admin, nil, 200).With(key, "tour-2"),
		call("POST", wpath("fail"), admin, map[string]any{"reason": "x"}, 409),
		call("POST", wpath("cancel"), e.Token(8, "user"), nil, 404),
		call("POST", withdrawalsPath+"/999999/cancel", admin, nil, 404),
	)
	fee := func(amount string) map[string]any {
		return map[string]any{"from_type": "team", "from_id": 3, "to_type": "platform", "currency": "USD", "amount": amount, "reason": "fee"}
	}
	e.Tour(t,
		call("POST", reallocationsPath, admin, fee("5"), 201),
		call("POST", reallocationsPath, admin, fee("500"), 422),
		call("POST", reallocationsPath, viewer, fee("5"), 403),
		call("GET", reallocationsPath+"?from_type=team&to_type=platform", viewer, nil, 200),
		call("GET", reallocationsPath, owner, nil, 403),
		call("GET", "/api/v1/ledger/entries?account=user:7&limit=5", viewer, nil, 200),
		call("GET", "/api/v1/ledger/entries?from=nope", viewer, nil, 400),
		call("GET", "/api/v1/ledger/verify", admin, nil, 200),
		call("GET", "/api/v1/ledger/verify", owner, nil, 403),
	)
}
