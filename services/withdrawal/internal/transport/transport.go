// Package transport is the withdrawal service's HTTP transport: routes of
// docs/api.md#withdrawal-service, request decoding and the error mapping.
package transport

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/withdrawal/api"
	"github.com/fundplatform/platform/services/withdrawal/internal/endpoint"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// NewHandler returns the service's routes. verifier checks the bearer token
// of every /api/v1 route; idempotent wraps the routes that take an
// Idempotency-Key (inside authentication, so keys are per caller); wrap
// instruments each route (metrics and access log).
func NewHandler(eps endpoint.Endpoints, verifier *libauth.Verifier, idempotent httpx.Middleware,
	wrap func(string, http.Handler) http.Handler) *httpx.Router {
	r := httpx.Routes{Router: httpx.NewRouter(wrap), MapError: codes.Map, Auth: verifier.Require}

	r.Protected("GET", "/api/v1/balances", eps.ListBalances, decodeListBalances)
	r.Protected("GET", "/api/v1/balances/{owner_type}/{owner_id}", eps.Balance, decodeBalance)

	r.Protected("POST", "/api/v1/withdrawals", eps.CreateWithdrawal, decodeCreateWithdrawal, idempotent)
	r.Protected("GET", "/api/v1/withdrawals", eps.ListWithdrawals, decodeListWithdrawals)
	r.Protected("GET", "/api/v1/withdrawals/{id}", eps.GetWithdrawal, decodeID)
	r.Protected("POST", "/api/v1/withdrawals/{id}/complete", eps.CompleteWithdrawal, decodeID, idempotent)
	r.Protected("POST", "/api/v1/withdrawals/{id}/fail", eps.FailWithdrawal, decodeFail, idempotent)
	r.Protected("POST", "/api/v1/withdrawals/{id}/cancel", eps.CancelWithdrawal, decodeID, idempotent)

	r.Protected("POST", "/api/v1/reallocations", eps.CreateReallocation, decodeCreateReallocation, idempotent)
	r.Protected("GET", "/api/v1/reallocations", eps.ListReallocations, decodeListReallocations)

	r.Protected("GET", "/api/v1/ledger/entries", eps.ListEntries, decodeListEntries)
	r.Protected("GET", "/api/v1/ledger/verify", eps.Verify, httpx.NoRequest)
	r.Protected("GET", "/api/v1/ledger/parked", eps.ListParked, decodeListParked)
	r.Protected("POST", "/api/v1/ledger/parked/{id}/apply", eps.ApplyParked, decodeID, idempotent)

	r.Document(api.OpenAPI)
	return r.Router
}

// owner reads an owner type and id of a body; the id may be omitted for
// the platform.
func owner(typeField, idField string, typ *string, id *int64) (ledger.Owner, error) {
	if typ == nil {
		return ledger.Owner{}, httpx.Validation("validation_failed", typeField, "is required")
	}
	o := ledger.Owner{Type: *typ}
	if id != nil {
		o.ID = *id
	} else if o.Type != libauth.OwnerPlatform {
		return ledger.Owner{}, httpx.Validation("validation_failed", idField, "is required")
	}
	return o, nil
}

func decodeListBalances(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	return endpoint.ListBalancesRequest{Filter: ledger.BalanceFilter{OwnerType: q.Get("owner_type"), Currency: q.Get("currency")}, Page: p}, nil
}

// decodeBalance: an owner type or id that names no account is 404.
func decodeBalance(_ context.Context, r *http.Request) (any, error) {
	id, err := strconv.ParseInt(r.PathValue("owner_id"), 10, 64)
	o := ledger.Owner{Type: r.PathValue("owner_type"), ID: id}
	if err != nil || !o.Valid() {
		return nil, httpx.ErrNotFound
	}
	at, err := httpx.QueryTime(r, "at")
	if err != nil {
		return nil, err
	}
	return endpoint.BalanceRequest{Owner: o, Currency: r.URL.Query().Get("currency"), At: at}, nil
}

type withdrawalBody struct {
	FromType *string         `json:"from_type"`
	OwnerID  *int64          `json:"owner_id"`
	Currency *string         `json:"currency"`
	Amount   json.RawMessage `json:"amount"`
}

// currency reads the required currency of a body (its form is the
// domain's rule, ledger.ValidCurrency).
func currency(c *string) (string, error) {
	if c == nil {
		return "", httpx.Validation("validation_failed", "currency", "is required")
	}
	return *c, nil
}

func decodeCreateWithdrawal(_ context.Context, r *http.Request) (any, error) {
	var b withdrawalBody
	if err := httpx.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	o, err := owner("from_type", "owner_id", b.FromType, b.OwnerID)
	if err != nil {
		return nil, err
	}
	c, err := currency(b.Currency)
	if err != nil {
		return nil, err
	}
	a, err := httpx.RequiredAmount("amount", b.Amount)
	if err != nil {
		return nil, err
	}
	return endpoint.CreateWithdrawalRequest{Owner: o, Currency: c, Amount: a}, nil
}

func decodeListWithdrawals(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	req := endpoint.ListWithdrawalsRequest{Page: p, Filter: ledger.WithdrawalFilter{Status: q.Get("status"), FromType: q.Get("from_type"),
		Currency: q.Get("currency")}}
	if s := q.Get("owner_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, httpx.Validation("validation_failed", "owner_id", "must be an integer >= 0")
		}
		req.Filter.OwnerID = &n
	}
	req.Filter.From, req.Filter.To, err = httpx.QueryRange(r)
	return req, err
}

func decodeID(_ context.Context, r *http.Request) (any, error) {
	id, err := httpx.PathID(r, "id")
	return endpoint.IDRequest{ID: id}, err
}

func decodeFail(_ context.Context, r *http.Request) (any, error) {
	id, err := httpx.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	var b struct {
		Reason *string `json:"reason"`
	}
	if err := httpx.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	if b.Reason == nil || strings.TrimSpace(*b.Reason) == "" {
		return nil, httpx.Validation("validation_failed", "reason", "is required")
	}
	return endpoint.FailRequest{ID: id, Reason: *b.Reason}, nil
}

type reallocationBody struct {
	FromType *string         `json:"from_type"`
	FromID   *int64          `json:"from_id"`
	ToType   *string         `json:"to_type"`
	ToID     *int64          `json:"to_id"`
	Currency *string         `json:"currency"`
	Amount   json.RawMessage `json:"amount"`
	Reason   *string         `json:"reason"`
}

func decodeCreateReallocation(_ context.Context, r *http.Request) (any, error) {
	var b reallocationBody
	if err := httpx.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	var req endpoint.CreateReallocationRequest
	var err error
	if req.From, err = owner("from_type", "from_id", b.FromType, b.FromID); err != nil {
		return nil, err
	}
	if req.To, err = owner("to_type", "to_id", b.ToType, b.ToID); err != nil {
		return nil, err
	}
	if req.Currency, err = currency(b.Currency); err != nil {
		return nil, err
	}
	if req.Amount, err = httpx.RequiredAmount("amount", b.Amount); err != nil {
		return nil, err
	}
	if b.Reason == nil {
		return nil, httpx.Validation("validation_failed", "reason", "is required")
	}
	req.Reason = *b.Reason
	return req, nil
}

func decodeListReallocations(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	req := endpoint.ListReallocationsRequest{Page: p, Filter: ledger.ReallocationFilter{FromType: q.Get("from_type"), ToType: q.Get("to_type"),
		Currency: q.Get("currency")}}
	req.Filter.From, req.Filter.To, err = httpx.QueryRange(r)
	return req, err
}

func decodeListEntries(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
	if err != nil {
		return nil, err
	}
	account, err := httpx.QueryText(r, "account")
	if err != nil {
		return nil, err
	}
	req := endpoint.ListEntriesRequest{Page: p, Filter: ledger.EntryFilter{Account: account, Currency: r.URL.Query().Get("currency")}}
	req.Filter.From, req.Filter.To, err = httpx.QueryRange(r)
	return req, err
}

func decodeListParked(_ context.Context, r *http.Request) (any, error) {
	p, err := httpx.ParsePagination(r)
	if err != nil {
		return nil, err
	}
	req := endpoint.ListParkedRequest{Page: p}
	if req.Filter.Status, err = httpx.QueryText(r, "status"); err != nil {
		return nil, err
	}
	if req.Filter.Currency, err = httpx.QueryText(r, "currency"); err != nil {
		return nil, err
	}
	return req, nil
}
