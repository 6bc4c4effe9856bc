package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/devstack/invariants"
)

// navCorrectionFlow corrects, through the edge, the latest NAV snapshot of
// a new portfolio of alice and her team (docs/api.md#nav-corrections): an
// earlier snapshot is refused (409 nav_not_latest); a loss corrected into
// a profit reverses the loss's allocation and allocates the corrected
// profit, alice's balance and stats follow, and the invariant checker
// holds. Then alice withdraws everything and the snapshot is corrected back
// into the loss: the reversal of the credit she withdrew is parked (her
// balance never goes below zero), the checker still holds (it accounts for
// the parked reversal), applying it is refused while she lacks the money
// and succeeds once her withdrawal fails.
func navCorrectionFlow(t *testing.T, admin, alice client, edgeURL string, aliceID, teamID int64) {
	t.Helper()
	var pf struct {
		ID int64 `json:"id"`
	}
	admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Corrected", "description": "e2e",
		"user_id": aliceID, "team_id": teamID, "currency": "USD"}, &pf)
	admin.ratio(pf.ID, "0.2000", "0.1000", "0.7000")
	navPath := fmt.Sprintf("/api/v1/portfolios/%d/nav", pf.ID)
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	type snapshot struct {
		ID     int64           `json:"id"`
		Profit decimal.Decimal `json:"profit"`
	}
	nav := func(day int, value string) snapshot {
		var s snapshot
		admin.must(201, "POST", navPath, map[string]any{"as_of": t0.AddDate(0, 0, day).Format(time.RFC3339), "nav": value},
			&s, "Idempotency-Key", fmt.Sprintf("corr-nav-%d", day))
		return s
	}
	nav(0, "1000")
	gain := nav(1, "1100") // +100: 70 to alice
	loss := nav(2, "1060") // −40: carry-forward 40
	waitAllocations(t, admin, pf.ID, func(as []invariants.Allocation) bool { return len(as) == 2 })
	userPath := fmt.Sprintf("/api/v1/balances/user/%d?currency=USD", aliceID)
	available := func() decimal.Decimal {
		var b invariants.OwnerBalances
		alice.must(200, "GET", userPath, nil, &b)
		return b.In("USD").Available
	}
	before := available()

	if r := admin.call("PUT", fmt.Sprintf("%s/%d", navPath, gain.ID), map[string]any{"nav": "1090"}, "Idempotency-Key", "corr-early"); r.status != 409 ||
		!strings.Contains(string(r.Data), `"nav_not_latest"`) {
		t.Fatalf("correction of an earlier snapshot = %d %s, want 409 nav_not_latest", r.status, r.Data)
	}
	var corrected snapshot
	admin.must(200, "PUT", fmt.Sprintf("%s/%d", navPath, loss.ID), map[string]any{"nav": "1110"}, &corrected, "Idempotency-Key", "corr-1")
	if corrected.ID != loss.ID || !corrected.Profit.Equal(decimal.RequireFromString("10")) {
		t.Fatalf("corrected snapshot %+v, want profit 10", corrected)
	}
	// The loss's allocation reversed, the corrected profit allocated: 7 to alice.
	allocations := waitAllocations(t, admin, pf.ID, func(as []invariants.Allocation) bool { return len(as) == 3 })
	replacement := standingOf(t, allocations, loss.ID)
	if replacement.Source != "correction" || !replacement.ToUser.Equal(decimal.RequireFromString("7")) {
		t.Fatalf("replacement %+v", replacement)
	}
	waitFor(t, "alice's balance after the correction", func() bool { return available().Equal(before.Add(decimal.RequireFromString("7"))) })
	checkInvariants(t, admin, edgeURL)

	// Alice withdraws everything; the correction back into the loss
	// reverses her 7: parked.
	all := available()
	var w struct {
		ID int64 `json:"id"`
	}
	alice.must(201, "POST", "/api/v1/withdrawals", map[string]any{"currency": "USD", "from_type": "user", "owner_id": aliceID,
		"amount": all.String()}, &w, "Idempotency-Key", "corr-withdraw-all")
	admin.must(200, "PUT", fmt.Sprintf("%s/%d", navPath, loss.ID), map[string]any{"nav": "1060"}, nil, "Idempotency-Key", "corr-2")
	var parked []struct {
		ID           int64  `json:"id"`
		AllocationID int64  `json:"allocation_id"`
		Status       string `json:"status"`
	}
	waitFor(t, "the parked reversal", func() bool {
		parked = nil
		admin.must(200, "GET", "/api/v1/ledger/parked?status=parked", nil, &parked)
		return len(parked) == 1 && parked[0].AllocationID == replacement.ID
	})
	if got := available(); !got.IsZero() {
		t.Fatalf("alice's available after the parked reversal = %s, want 0", got)
	}
	checkInvariants(t, admin, edgeURL)

	applyPath := fmt.Sprintf("/api/v1/ledger/parked/%d/apply", parked[0].ID)
	if r := admin.call("POST", applyPath, nil, "Idempotency-Key", "corr-apply-1"); r.status != 422 ||
		!strings.Contains(string(r.Data), `"insufficient_balance"`) {
		t.Fatalf("apply while alice lacks the money = %d %s, want 422 insufficient_balance", r.status, r.Data)
	}
	admin.must(200, "POST", fmt.Sprintf("/api/v1/withdrawals/%d/fail", w.ID), map[string]string{"reason": "bank rejected"}, nil,
		"Idempotency-Key", "corr-withdraw-fail")
	admin.must(200, "POST", applyPath, nil, nil, "Idempotency-Key", "corr-apply-2")
	if got := available(); !got.Equal(all.Sub(decimal.RequireFromString("7"))) {
		t.Fatalf("alice's available after the applied reversal = %s, want %s", got, all.Sub(decimal.RequireFromString("7")))
	}
	checkInvariants(t, admin, edgeURL)
}

// waitAllocations polls a portfolio's allocations until done says so
// (30 s at most).
func waitAllocations(t *testing.T, admin client, portfolioID int64, done func([]invariants.Allocation) bool) []invariants.Allocation {
	t.Helper()
	var as []invariants.Allocation
	waitFor(t, fmt.Sprintf("the allocations of portfolio %d", portfolioID), func() bool {
		as = nil
		admin.must(200, "GET", fmt.Sprintf("/api/v1/profit/allocations?portfolio_id=%d", portfolioID), nil, &as)
		return done(as)
	})
	return as
}

// standingOf is the one allocation of snapshot that no correction
// reversed.
func standingOf(t *testing.T, as []invariants.Allocation, snapshot int64) invariants.Allocation {
	t.Helper()
	var out []invariants.Allocation
	for _, a := range as {
		if a.SnapshotID != nil && *a.SnapshotID == snapshot && a.ReversedBy == nil {
			out = append(out, a)
		}
	}
	if len(out) != 1 {
		t.Fatalf("standing allocations of snapshot %d: %+v (all: %+v)", snapshot, out, as)
	}
	return out[0]
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after 30 s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkInvariants runs the invariant checker until it holds (60 s at most).
func checkInvariants(t *testing.T, admin client, edgeURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	checker := &invariants.Client{Edge: edgeURL, Token: admin.token, HTTP: http.DefaultClient}
	report, err := invariants.Wait(ctx, checker, 60*time.Second)
	var b strings.Builder
	report.Print(&b)
	if err != nil || !report.OK() {
		t.Fatalf("invariants (err %v):\n%s", err, b.String())
	}
}
