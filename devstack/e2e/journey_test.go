package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fundplatform/platform/devstack/invariants"
)

type idOnly struct {
	ID int64 `json:"id"`
}

// TestRoleJourneys walks every role through the platform, through the edge
// only: the admin sets up teams, users, portfolios and ratios; NAVs flow to
// allocations, balances and stats; users withdraw and cancel; the admin
// completes, fails and reallocates; the viewer reads everything and can
// change nothing; a user probing other users' ids gets 404 everywhere. It
// ends with the invariant checker.
func TestRoleJourneys(t *testing.T) {
	s, _ := runStack(t, repoRoot(t), nil)
	ready := s.Ready()
	edgeURL := ready.EdgeURL
	admin := login(t, edgeURL, ready.AdminEmail, ready.AdminPassword)

	// --- the admin sets up teams, users, portfolios and ratios ----------
	var alphaTeam, betaTeam, alice, bob, vic idOnly
	admin.must(201, "POST", "/api/v1/teams", map[string]string{"name": "Alpha", "description": "alice's desk"}, &alphaTeam)
	admin.must(201, "POST", "/api/v1/teams", map[string]string{"name": "Beta", "description": "bob's desk"}, &betaTeam)
	for _, u := range []struct {
		out  *idOnly
		name string
		role string
	}{{&alice, "alice", "user"}, {&bob, "bob", "user"}, {&vic, "vic", "viewer"}} {
		admin.must(201, "POST", "/api/v1/users", map[string]string{"email": u.name + "@example.com", "username": u.name,
			"password": u.name + "-password-123", "role": u.role}, u.out)
	}
	admin.must(200, "PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", alphaTeam.ID, alice.ID), nil, nil)
	admin.must(200, "PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", betaTeam.ID, bob.ID), nil, nil)
	aliceC := login(t, edgeURL, "alice@example.com", "alice-password-123")
	bobC := login(t, edgeURL, "bob@example.com", "bob-password-123")
	vicC := login(t, edgeURL, "vic@example.com", "vic-password-123")

	var alphaPF, betaPF idOnly
	admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Alpha growth", "user_id": alice.ID, "team_id": alphaTeam.ID}, &alphaPF)
	admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Beta income", "user_id": bob.ID, "team_id": betaTeam.ID, "currency": "EUR"}, &betaPF)
	ratio := func(pf int64, team, platform, user string) {
		eventually(t, fmt.Sprintf("portfolio %d known to the profit service", pf), func() (bool, string) {
			r := admin.call("POST", "/api/v1/profit/profit_allocation_ratios", map[string]any{"portfolio_id": pf,
				"to_team": team, "to_platform": platform, "to_user": user})
			return r.status == 201, fmt.Sprintf("%d %s", r.status, r.Data)
		})
	}
	ratio(alphaPF.ID, "0.2", "0.1", "0.7")
	ratio(betaPF.ID, "0.3", "0.2", "0.5")

	// --- NAVs flow to allocations, balances and stats ---------------------
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	nav := func(pf int64, day int, value string) {
		admin.must(201, "POST", fmt.Sprintf("/api/v1/portfolios/%d/nav", pf),
			map[string]any{"as_of": t0.AddDate(0, 0, day).Format(time.RFC3339), "nav": value}, nil,
			"Idempotency-Key", fmt.Sprintf("journey-nav-%d-%d", pf, day))
	}
	for i, v := range []string{"1000", "1100", "1050", "1200"} { // +100, −50, +150: 200 distributed
		nav(alphaPF.ID, i, v)
	}
	for i, v := range []string{"500", "600"} { // +100
		nav(betaPF.ID, i, v)
	}
	admin.must(201, "POST", "/api/v1/profit/allocations", map[string]any{"portfolio_id": betaPF.ID, "profit_amount": "10",
		"period_end": t0.AddDate(0, 0, 5).Format(time.RFC3339)}, nil, "Idempotency-Key", "journey-manual-1")

	// alice: 0.7 × 200 = 140 (USD); bob: 0.5 × 110 = 55, in his portfolio's EUR.
	for _, want := range []struct {
		c               client
		path            string
		currency, total string
	}{{aliceC, fmt.Sprintf("/api/v1/balances/user/%d", alice.ID), "USD", "140"}, {bobC, fmt.Sprintf("/api/v1/balances/user/%d", bob.ID), "EUR", "55"}} {
		eventually(t, want.path+" credited", func() (bool, string) {
			var b ownerBalances
			want.c.must(200, "GET", want.path, nil, &b)
			return len(b.Balances) == 1 && b.In(want.currency).Credited.Equal(d(want.total)), fmt.Sprintf("%+v", b)
		})
	}

	// --- users withdraw and cancel; the admin completes, fails, reallocates
	withdraw := func(c client, owner int64, amount, key string) idOnly {
		var w idOnly
		currency := "USD"
		if owner == bob.ID {
			currency = "EUR"
		}
		c.must(201, "POST", "/api/v1/withdrawals", map[string]any{"currency": currency, "from_type": "user", "owner_id": owner, "amount": amount}, &w,
			"Idempotency-Key", key)
		return w
	}
	cancelled := withdraw(aliceC, alice.ID, "50", "journey-w-1")
	var w struct {
		Status string  `json:"status"`
		Reason *string `json:"reason"`
	}
	aliceC.must(200, "POST", fmt.Sprintf("/api/v1/withdrawals/%d/cancel", cancelled.ID), nil, &w)
	if w.Status != "failed" || w.Reason == nil || *w.Reason != "cancelled" {
		t.Errorf("cancelled withdrawal = %+v, want failed with reason cancelled", w)
	}
	completed := withdraw(aliceC, alice.ID, "40", "journey-w-2")
	admin.must(200, "POST", fmt.Sprintf("/api/v1/withdrawals/%d/complete", completed.ID), nil, nil, "Idempotency-Key", "journey-w-2-done")
	failed := withdraw(aliceC, alice.ID, "10", "journey-w-3")
	admin.must(200, "POST", fmt.Sprintf("/api/v1/withdrawals/%d/fail", failed.ID), map[string]string{"reason": "bank rejected"}, nil)
	pending := withdraw(bobC, bob.ID, "20", "journey-w-4")
	if r := aliceC.call("POST", fmt.Sprintf("/api/v1/withdrawals/%d/complete", completed.ID), nil); r.status != 403 {
		t.Errorf("alice completing her own withdrawal = %d %s, want 403", r.status, r.Data)
	}
	if r := admin.call("POST", fmt.Sprintf("/api/v1/withdrawals/%d/cancel", completed.ID), nil); r.status != 409 {
		t.Errorf("cancelling a completed withdrawal = %d %s, want 409", r.status, r.Data)
	}
	eventually(t, "the platform credited", func() (bool, string) {
		var p ownerBalances
		admin.must(200, "GET", "/api/v1/balances/platform/0", nil, &p)
		// 20 from alpha in USD, 20 + 2 from beta in EUR: never added up.
		return p.In("USD").Credited.Equal(d("20")) && p.In("EUR").Credited.Equal(d("22")), fmt.Sprintf("%+v", p)
	})
	admin.must(201, "POST", "/api/v1/reallocations", map[string]any{"currency": "USD", "from_type": "platform", "from_id": 0, "to_type": "team",
		"to_id": alphaTeam.ID, "amount": "5", "reason": "desk bonus"}, nil, "Idempotency-Key", "journey-r-1")
	var abs ownerBalances
	aliceC.must(200, "GET", fmt.Sprintf("/api/v1/balances/user/%d", alice.ID)+inUSD, nil, &abs)
	if ab := abs.In("USD"); !ab.Withdrawn.Equal(d("40")) || !ab.Held.IsZero() || !ab.Available.Equal(d("100")) {
		t.Errorf("alice's balance = %+v, want withdrawn 40, held 0, available 100", ab)
	}

	// --- the viewer reads everything ----------------------------------------
	ids := map[string]int64{"alice": alice.ID, "team": alphaTeam.ID, "pf": alphaPF.ID, "w": completed.ID}
	var anAllocation []idOnly
	admin.must(200, "GET", fmt.Sprintf("/api/v1/profit/allocations?portfolio_id=%d&limit=1", alphaPF.ID), nil, &anAllocation)
	if len(anAllocation) != 1 {
		t.Fatalf("no allocation of portfolio %d", alphaPF.ID)
	}
	ids["alloc"] = anAllocation[0].ID
	expand := func(path string) string {
		for k, v := range ids {
			path = strings.ReplaceAll(path, "{"+k+"}", fmt.Sprint(v))
		}
		return path
	}
	for _, path := range []string{
		"/api/v1/auth/me", "/api/v1/users", "/api/v1/users/{alice}", "/api/v1/teams", "/api/v1/teams/{team}",
		"/api/v1/portfolios", "/api/v1/portfolios/{pf}", "/api/v1/portfolios/{pf}/nav",
		"/api/v1/profit/profit_allocation_ratios?portfolio_id={pf}", "/api/v1/profit/profit_allocation_ratios/current?portfolio_id={pf}",
		"/api/v1/profit/allocations", "/api/v1/profit/allocations/{alloc}",
		"/api/v1/balances", "/api/v1/balances/user/{alice}", "/api/v1/balances/team/{team}", "/api/v1/balances/platform/0",
		"/api/v1/withdrawals", "/api/v1/withdrawals/{w}", "/api/v1/reallocations", "/api/v1/ledger/entries", "/api/v1/ledger/verify",
		"/api/v1/stats/overview", "/api/v1/stats/acc_profit", "/api/v1/stats/acc_profit/{pf}",
		"/api/v1/stats/hourly?owner_type=user&owner_id={alice}", "/api/v1/stats/summary?group_by=team",
	} {
		if r := vicC.call("GET", expand(path), nil); r.status != 200 || !r.IsOK {
			t.Errorf("viewer GET %s = %d %s, want 200", path, r.status, r.Data)
		}
	}

	// --- … and can change nothing -----------------------------------------
	mutations := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/users", map[string]string{"email": "x@example.com", "username": "x", "password": "x-password-123", "role": "admin"}},
		{"PATCH", "/api/v1/users/{alice}", map[string]any{"role": "admin"}},
		{"POST", "/api/v1/teams", map[string]string{"name": "Gamma"}},
		{"PUT", "/api/v1/teams/{team}/members/{alice}", nil},
		{"DELETE", "/api/v1/teams/{team}/members/{alice}", nil},
		{"POST", "/api/v1/portfolios", map[string]any{"name": "Mine", "user_id": alice.ID, "team_id": alphaTeam.ID}},
		{"PATCH", "/api/v1/portfolios/{pf}", map[string]any{"name": "renamed"}},
		{"POST", "/api/v1/portfolios/{pf}/nav", map[string]any{"as_of": t0.AddDate(0, 1, 0).Format(time.RFC3339), "nav": "5000"}},
		{"POST", "/api/v1/profit/profit_allocation_ratios", map[string]any{"portfolio_id": alphaPF.ID, "to_team": "0", "to_platform": "0", "to_user": "1"}},
		{"POST", "/api/v1/profit/allocations", map[string]any{"portfolio_id": alphaPF.ID, "profit_amount": "1000", "period_end": t0.AddDate(0, 2, 0).Format(time.RFC3339)}},
		{"POST", "/api/v1/withdrawals", map[string]any{"currency": "USD", "from_type": "user", "owner_id": alice.ID, "amount": "1"}},
		{"POST", "/api/v1/withdrawals/{w}/complete", nil},
		{"POST", "/api/v1/withdrawals/{w}/fail", map[string]string{"reason": "no"}},
		{"POST", "/api/v1/withdrawals/{w}/cancel", nil},
		{"POST", "/api/v1/reallocations", map[string]any{"currency": "USD", "from_type": "platform", "from_id": 0, "to_type": "user", "to_id": alice.ID, "amount": "1", "reason": "gift"}},
	}
	ids["w"] = pending.ID // a pending withdrawal, so a transition would be possible
	for _, m := range mutations {
		if r := vicC.call(m.method, expand(m.path), m.body); r.status != 403 {
			t.Errorf("viewer %s %s = %d %s, want 403", m.method, m.path, r.status, r.Data)
		}
	}

	// --- a user probing other users' ids gets 404 on every route ----------
	for _, probe := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/users/{alice}", nil},
		{"PATCH", "/api/v1/users/{alice}", map[string]any{"password": "bob-new-password-1", "old_password": "bob-password-123"}},
		{"GET", "/api/v1/teams/{team}", nil},
		{"GET", "/api/v1/portfolios/{pf}", nil},
		{"GET", "/api/v1/portfolios/{pf}/nav", nil},
		{"GET", "/api/v1/profit/profit_allocation_ratios?portfolio_id={pf}", nil},
		{"GET", "/api/v1/profit/profit_allocation_ratios/current?portfolio_id={pf}", nil},
		{"GET", "/api/v1/profit/allocations?portfolio_id={pf}", nil},
		{"GET", "/api/v1/profit/allocations/{alloc}", nil},
		{"GET", "/api/v1/balances/user/{alice}", nil},
		{"GET", "/api/v1/balances/team/{team}", nil},
		{"POST", "/api/v1/withdrawals", map[string]any{"currency": "USD", "from_type": "user", "owner_id": alice.ID, "amount": "1"}},
		{"POST", "/api/v1/withdrawals", map[string]any{"currency": "USD", "from_type": "team", "owner_id": alphaTeam.ID, "amount": "1"}},
		{"GET", "/api/v1/withdrawals/{w}", nil},
		{"POST", "/api/v1/withdrawals/{w}/cancel", nil},
		{"GET", "/api/v1/stats/acc_profit/{pf}", nil},
		{"GET", "/api/v1/stats/hourly?owner_type=user&owner_id={alice}", nil},
		{"GET", "/api/v1/stats/hourly?owner_type=team&owner_id={team}", nil},
	} {
		ids["w"] = failed.ID // alice's
		if r := bobC.call(probe.method, expand(probe.path), probe.body); r.status != 404 {
			t.Errorf("bob %s %s (alice's) = %d %s, want 404", probe.method, probe.path, r.status, r.Data)
		}
	}
	// Lists show bob only what is his.
	var bobsPortfolios []idOnly
	bobC.must(200, "GET", "/api/v1/portfolios", nil, &bobsPortfolios)
	if len(bobsPortfolios) != 1 || bobsPortfolios[0].ID != betaPF.ID {
		t.Errorf("bob's portfolios = %+v, want only %d", bobsPortfolios, betaPF.ID)
	}
	var bobsWithdrawals []idOnly
	bobC.must(200, "GET", "/api/v1/withdrawals", nil, &bobsWithdrawals)
	if len(bobsWithdrawals) != 1 || bobsWithdrawals[0].ID != pending.ID {
		t.Errorf("bob's withdrawals = %+v, want only %d", bobsWithdrawals, pending.ID)
	}

	// --- the invariant checker ----------------------------------------------
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	checker := &invariants.Client{Edge: edgeURL, Token: admin.token, HTTP: http.DefaultClient}
	report, err := invariants.Wait(ctx, checker, 60*time.Second)
	var b strings.Builder
	report.Print(&b)
	if err != nil || !report.OK() {
		t.Fatalf("invariants (err %v):\n%s", err, b.String())
	}
	t.Logf("invariants:\n%s", b.String())
	f := report.Figures
	if f.Portfolios != 2 || f.Allocations != 5 || f.Withdrawals != 4 || f.Reallocations != 1 ||
		!f.DistributedIn["USD"].Equal(d("200")) || !f.DistributedIn["EUR"].Equal(d("110")) {
		t.Errorf("figures = %+v, want 2 portfolios, 5 allocations (200 USD and 110 EUR distributed), 4 withdrawals, 1 reallocation", f)
	}
}
