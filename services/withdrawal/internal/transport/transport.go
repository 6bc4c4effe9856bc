// Package transport is the withdrawal service's HTTP transport: routes of
// docs/api.md#withdrawal-service, request decoding and the error mapping.
package transport

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/shopspring/decimal"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/services/withdrawal/api"
	"github.com/fundplatform/platform/services/withdrawal/internal/endpoint"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// NewHandler returns the service's routes. verifier checks the bearer token
// of every /api/v1 route; idempotent wraps the routes that take an
// Idempotency-Key (inside authentication, so keys are per caller); wrap
// instruments each route (metrics and access log).
func NewHandler(eps endpoint.Endpoints, verifier *libauth.Verifier, idempotent func(http.Handler) http.Handler,
	wrap func(string, http.Handler) http.Handler) *httpx.Router {
	r := httpx.NewRouter(wrap)
	protected := func(method, path string, ep kitEndpoint, dec kithttp.DecodeRequestFunc) {
		r.Handle(method, path, verifier.Require(httpx.NewServer(ep, dec, mapError)))
	}
	idem := func(path string, ep kitEndpoint, dec kithttp.DecodeRequestFunc) {
		r.Handle("POST", path, verifier.Require(idempotent(httpx.NewServer(ep, dec, mapError))))
	}

	protected("GET", "/api/v1/balances", eps.ListBalances, decodeListBalances)
	protected("GET", "/api/v1/balances/{owner_type}/{owner_id}", eps.Balance, decodeBalance)

	idem("/api/v1/withdrawals", eps.CreateWithdrawal, decodeCreateWithdrawal)
	protected("GET", "/api/v1/withdrawals", eps.ListWithdrawals, decodeListWithdrawals)
	protected("GET", "/api/v1/withdrawals/{id}", eps.GetWithdrawal, decodeID)
	idem("/api/v1/withdrawals/{id}/complete", eps.CompleteWithdrawal, decodeID)
	idem("/api/v1/withdrawals/{id}/fail", eps.FailWithdrawal, decodeFail)
	idem("/api/v1/withdrawals/{id}/cancel", eps.CancelWithdrawal, decodeID)

	idem("/api/v1/reallocations", eps.CreateReallocation, decodeCreateReallocation)
	protected("GET", "/api/v1/reallocations", eps.ListReallocations, decodeListReallocations)

	protected("GET", "/api/v1/ledger/entries", eps.ListEntries, decodeListEntries)
	protected("GET", "/api/v1/ledger/verify", eps.Verify, httpx.NoRequest)

	r.Handle("GET", "/openapi.json", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(api.OpenAPI)
	}))
	return r
}

type kitEndpoint = func(context.Context, any) (any, error)

func page(r *http.Request) (ledger.Page, error) { return httpx.ParsePagination(r) }

// amount parses a required amount field: 400 invalid_amount when missing
// or malformed (positivity is the service's rule).
func amount(field string, raw json.RawMessage) (decimal.Decimal, error) {
	if raw == nil {
		return decimal.Decimal{}, httpx.Validation("invalid_amount", field, "is required")
	}
	var a money.Amount
	if err := json.Unmarshal(raw, &a); err != nil {
		return decimal.Decimal{}, httpx.Validation("invalid_amount", field, strings.TrimPrefix(err.Error(), money.ErrInvalidAmount.Error()+": "))
	}
	return a.Decimal, nil
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
	} else if o.Type != ledger.OwnerPlatform {
		return ledger.Owner{}, httpx.Validation("validation_failed", idField, "is required")
	}
	return o, nil
}

func decodeListBalances(_ context.Context, r *http.Request) (any, error) {
	p, err := page(r)
	if err != nil {
		return nil, err
	}
	return endpoint.ListBalancesRequest{Filter: ledger.BalanceFilter{OwnerType: r.URL.Query().Get("owner_type")}, Page: p}, nil
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
	return endpoint.BalanceRequest{Owner: o, At: at}, nil
}

type withdrawalBody struct {
	FromType *string         `json:"from_type"`
	OwnerID  *int64          `json:"owner_id"`
	Amount   json.RawMessage `json:"amount"`
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
	a, err := amount("amount", b.Amount)
	if err != nil {
		return nil, err
	}
	return endpoint.CreateWithdrawalRequest{Owner: o, Amount: a}, nil
}

func decodeListWithdrawals(_ context.Context, r *http.Request) (any, error) {
	p, err := page(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	req := endpoint.ListWithdrawalsRequest{Page: p, Filter: ledger.WithdrawalFilter{Status: q.Get("status"), FromType: q.Get("from_type")}}
	if s := q.Get("owner_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, httpx.Validation("validation_failed", "owner_id", "must be an integer >= 0")
		}
		req.Filter.OwnerID = &n
	}
	if req.Filter.From, err = httpx.QueryTime(r, "from"); err != nil {
		return nil, err
	}
	if req.Filter.To, err = httpx.QueryTime(r, "to"); err != nil {
		return nil, err
	}
	return req, nil
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
	if req.Amount, err = amount("amount", b.Amount); err != nil {
		return nil, err
	}
	if b.Reason == nil {
		return nil, httpx.Validation("validation_failed", "reason", "is required")
	}
	req.Reason = *b.Reason
	return req, nil
}

func decodeListReallocations(_ context.Context, r *http.Request) (any, error) {
	p, err := page(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	req := endpoint.ListReallocationsRequest{Page: p, Filter: ledger.ReallocationFilter{FromType: q.Get("from_type"), ToType: q.Get("to_type")}}
	if req.Filter.From, err = httpx.QueryTime(r, "from"); err != nil {
		return nil, err
	}
	if req.Filter.To, err = httpx.QueryTime(r, "to"); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeListEntries(_ context.Context, r *http.Request) (any, error) {
	p, err := page(r)
	if err != nil {
		return nil, err
	}
	account, err := httpx.QueryText(r, "account")
	if err != nil {
		return nil, err
	}
	req := endpoint.ListEntriesRequest{Page: p, Filter: ledger.EntryFilter{Account: account}}
	if req.Filter.From, err = httpx.QueryTime(r, "from"); err != nil {
		return nil, err
	}
	if req.Filter.To, err = httpx.QueryTime(r, "to"); err != nil {
		return nil, err
	}
	return req, nil
}
