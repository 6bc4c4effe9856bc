package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/devstack/internal/edgeclient"
	"github.com/fundplatform/platform/devstack/invariants"
)

// client talks to the edge as one caller.
type client struct {
	t     *testing.T
	edge  string
	token string
}

type reply struct {
	status int
	header http.Header
	IsOK   bool            `json:"isOK"`
	Data   json.RawMessage `json:"data"`
	Total  *int64          `json:"total"`
}

func (c client) call(method, path string, body any, headers ...string) reply {
	c.t.Helper()
	resp, raw, err := edgeclient.Send(context.Background(), http.DefaultClient, c.edge, c.token, method, path, body, headers...)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &r); err != nil {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return r
}

// ratio sets a portfolio's allocation ratio as c. The profit service
// learns of the portfolio from its portfolio.created event, so it may take
// a moment to be known: until then the answer is 404, and ratio tries
// again for up to 30 s; any other status but 201 fails the test at once.
func (c client) ratio(portfolioID int64, team, platform, user string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := c.call("POST", "/api/v1/profit/profit_allocation_ratios", map[string]any{"portfolio_id": portfolioID,
			"to_team": team, "to_platform": platform, "to_user": user})
		if r.status == 201 {
			return
		}
		if r.status != 404 || time.Now().After(deadline) {
			c.t.Fatalf("create ratio for portfolio %d = %d %s", portfolioID, r.status, r.Data)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// must asserts the status and decodes the data.
func (c client) must(status int, method, path string, body any, out any, headers ...string) reply {
	c.t.Helper()
	r := c.call(method, path, body, headers...)
	if r.status != status {
		c.t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r.Data, status)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			c.t.Fatalf("%s %s data: %v", method, path, err)
		}
	}
	return r
}

func login(t *testing.T, edge, email, password string) client {
	t.Helper()
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	client{t: t, edge: edge}.must(200, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &tk)
	return client{t: t, edge: edge, token: tk.AccessToken}
}

// TestProfitFlow drives the event flow of one profit through the real
// services: NAV snapshots recorded at the portfolio service become
// portfolio.profit_recorded events on the broker, which the profit service
// allocates with the loss carry-forward and the portfolio's ratio.
func TestProfitFlow(t *testing.T) {
	s, _ := runStack(t, repoRoot(t), nil)
	ready := s.Ready()
	admin := login(t, ready.EdgeURL, ready.AdminEmail, ready.AdminPassword)

	var team, alice struct {
		ID int64 `json:"id"`
	}
	admin.must(201, "POST", "/api/v1/teams", map[string]string{"name": "Desk"}, &team)
	admin.must(201, "POST", "/api/v1/users", map[string]string{"email": "alice@example.com", "username": "alice",
		"password": "alice-password-123", "role": "user"}, &alice)
	admin.must(200, "PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", team.ID, alice.ID), nil, nil)

	var pf struct {
		ID int64 `json:"id"`
	}
	admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Growth", "description": "e2e",
		"user_id": alice.ID, "team_id": team.ID, "currency": "USD"}, &pf)
	navPath := fmt.Sprintf("/api/v1/portfolios/%d/nav", pf.ID)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	nav := func(day int, value string, key string) reply {
		return admin.must(201, "POST", navPath, map[string]any{"as_of": t0.AddDate(0, 0, day).Format(time.RFC3339), "nav": value},
			nil, "Idempotency-Key", key)
	}
	nav(0, "1000", "nav-0")          // baseline, profit 0: no event
	nav(1, "1100", "nav-1")          // +100, before any ratio: waits
	first := nav(2, "1050", "nav-2") // −50: carry-forward 50
	nav(3, "1200", "nav-3")          // +150: 100 distributable
	replay := admin.call("POST", navPath, map[string]any{"as_of": t0.AddDate(0, 0, 2).Format(time.RFC3339), "nav": "1050"},
		"Idempotency-Key", "nav-2")
	if replay.status != 201 || replay.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(replay.Data, first.Data) {
		t.Fatalf("replayed NAV = %d %s (replayed %q)", replay.status, replay.Data, replay.header.Get("Idempotent-Replayed"))
	}

	// The first ratio.
	admin.ratio(pf.ID, "0.2000", "0.1000", "0.7000")

	// Eventually: three allocations (the non-zero profits), none waiting.
	var allocs []invariants.Allocation
	path := fmt.Sprintf("/api/v1/profit/allocations?portfolio_id=%d", pf.ID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		allocs = nil
		admin.must(200, "GET", path, nil, &allocs)
		waiting := 0
		for _, a := range allocs {
			if a.Status == "awaiting_ratio" {
				waiting++
			}
		}
		if len(allocs) >= 3 && waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("allocations after 30 s: %+v", allocs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(allocs) != 3 {
		t.Fatalf("%d allocations, want exactly 3 (one per non-zero profit): %+v", len(allocs), allocs)
	}
	sum := func(f func(invariants.Allocation) decimal.Decimal) decimal.Decimal {
		total := decimal.Zero
		for _, a := range allocs {
			total = total.Add(f(a))
		}
		return total
	}
	want := map[string]string{"profit": "200", "distributable": "200", "team": "40", "platform": "20", "user": "140"}
	got := map[string]decimal.Decimal{
		"profit":        sum(func(a invariants.Allocation) decimal.Decimal { return a.ProfitAmount }),
		"distributable": sum(func(a invariants.Allocation) decimal.Decimal { return a.Distributable }),
		"team":          sum(func(a invariants.Allocation) decimal.Decimal { return a.ToTeam }),
		"platform":      sum(func(a invariants.Allocation) decimal.Decimal { return a.ToPlatform }),
		"user":          sum(func(a invariants.Allocation) decimal.Decimal { return a.ToUser }),
	}
	for k, w := range want {
		if !got[k].Equal(decimal.RequireFromString(w)) {
			t.Errorf("total %s = %s, want %s (%+v)", k, got[k], w, allocs)
		}
	}
	for _, a := range allocs {
		if a.Source != "nav" || a.SnapshotID == nil || a.UserID != alice.ID || a.TeamID != team.ID {
			t.Errorf("allocation %+v: want source nav with the snapshot and alice/desk as beneficiaries", a)
		}
	}

	// Alice reads her portfolio's allocations; the replayed NAV added nothing.
	aliceClient := login(t, ready.EdgeURL, "alice@example.com", "alice-password-123")
	var mine []invariants.Allocation
	aliceClient.must(200, "GET", path, nil, &mine)
	if len(mine) != 3 {
		t.Fatalf("alice sees %d allocations, want 3", len(mine))
	}

	ledgerAndStatsFlow(t, admin, aliceClient, pf.ID, alice.ID, team.ID, allocs)
	manualOutcomesFlow(t, admin, ready.EdgeURL, alice.ID, team.ID)
	navCorrectionFlow(t, admin, aliceClient, ready.EdgeURL, alice.ID, team.ID)
}
