package portfolios_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/testkit"
	"github.com/fundplatform/platform/services/profit/internal/portfolios"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// TestOwners: what each answer of GET /api/v1/portfolios/{id} means, and
// that the caller's Authorization header and request id are passed on.
func TestOwners(t *testing.T) {
	var gotAuth, gotRequestID, gotPath string
	answer := func(w http.ResponseWriter) {
		httpx.WriteOK(w, 200, map[string]any{"id": 42, "user_id": 7, "team_id": 3, "currency": "JPY"})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotRequestID, gotPath = r.Header.Get("Authorization"), r.Header.Get(httpx.RequestIDHeader), r.URL.Path
		answer(w)
	}))
	defer srv.Close()
	c := portfolios.New(srv.URL+"/", nil)
	ctx := httpx.WithRequestID(context.Background(), "req-1")

	o, err := c.Owners(ctx, "Bearer tok", 42)
	if err != nil || o != (profit.Owners{PortfolioID: 42, UserID: 7, TeamID: 3, Currency: "JPY"}) {
		t.Fatalf("owners = %+v, %v", o, err)
	}
	if gotAuth != "Bearer tok" || gotRequestID != "req-1" || gotPath != "/api/v1/portfolios/42" {
		t.Fatalf("request: Authorization %q, request id %q, path %q", gotAuth, gotRequestID, gotPath)
	}

	for name, c2 := range map[string]struct {
		answer func(http.ResponseWriter)
		want   error
	}{
		"404":      {func(w http.ResponseWriter) { w.WriteHeader(404) }, profit.ErrPortfolioNotFound},
		"503":      {func(w http.ResponseWriter) { w.WriteHeader(503) }, profit.ErrDependencyUnavailable},
		"500":      {func(w http.ResponseWriter) { w.WriteHeader(500) }, profit.ErrDependencyUnavailable},
		"401":      {func(w http.ResponseWriter) { w.WriteHeader(401) }, profit.ErrDependencyUnavailable},
		"not json": {func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>")) }, profit.ErrDependencyUnavailable},
		"another id": {func(w http.ResponseWriter) {
			httpx.WriteOK(w, 200, map[string]any{"id": 43, "user_id": 7, "team_id": 3})
		}, profit.ErrDependencyUnavailable},
		"no owners": {func(w http.ResponseWriter) { httpx.WriteOK(w, 200, map[string]any{"id": 42}) }, profit.ErrDependencyUnavailable},
		"not an owner": {func(w http.ResponseWriter) {
			httpx.WriteOK(w, 200, map[string]any{"id": 42, "user_id": 0, "team_id": 3})
		}, profit.ErrDependencyUnavailable},
	} {
		t.Run(name, func(t *testing.T) {
			answer = c2.answer
			if _, err := c.Owners(ctx, "Bearer tok", 42); !errors.Is(err, c2.want) {
				t.Fatalf("err = %v, want %v", err, c2.want)
			}
		})
	}

	// Nothing listening.
	down := portfolios.New("http://"+testkit.FreeAddr(t), nil)
	if _, err := down.Owners(ctx, "Bearer tok", 42); !errors.Is(err, profit.ErrDependencyUnavailable) {
		t.Fatalf("unreachable: %v", err)
	}
}
