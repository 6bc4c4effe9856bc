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

// manualOutcomesFlow books, in two new portfolios of alice and her team, a
// manual loss and a manual profit absorbed by the carry-forward (each one
// profit.outcome_recorded), and a manual profit that waits for the first
// ratio and is then allocated (profit.allocated); it checks that stats'
// accumulated profit and loss carry-forward of each portfolio reach the
// profit service's, and that the invariant checker, which compares them per
// portfolio, holds.
func manualOutcomesFlow(t *testing.T, admin client, edgeURL string, aliceID, teamID int64) {
	t.Helper()
	var absorbed, waiting struct {
		ID int64 `json:"id"`
	}
	for _, pf := range []*struct {
		ID int64 `json:"id"`
	}{&absorbed, &waiting} {
		admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Manual", "description": "e2e",
			"user_id": aliceID, "team_id": teamID, "currency": "USD"}, pf)
	}
	admin.ratio(absorbed.ID, "0.2000", "0.1000", "0.7000")
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	manual := func(pfID int64, amount string, minutes int, key, status string) {
		t.Helper()
		var a invariants.Allocation
		admin.must(201, "POST", "/api/v1/profit/allocations", map[string]any{"portfolio_id": pfID, "profit_amount": amount,
			"period_end": at.Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339)}, &a, "Idempotency-Key", key)
		if a.Status != status {
			t.Fatalf("manual %s in portfolio %d: status %s, want %s", amount, pfID, a.Status, status)
		}
	}
	manual(absorbed.ID, "-30.00000001", 0, "outcome-loss", "no_distribution") // carry-forward 30.00000001
	manual(absorbed.ID, "10", 1, "outcome-absorbed", "no_distribution")       // carry-forward 20.00000001
	manual(waiting.ID, "50", 2, "outcome-waiting", "awaiting_ratio")          // no ratio yet
	admin.ratio(waiting.ID, "0.2000", "0.1000", "0.7000")                     // allocates it: 50 distributed

	want := map[int64][2]string{absorbed.ID: {"-20.00000001", "20.00000001"}, waiting.ID: {"50", "0"}}
	deadline := time.Now().Add(30 * time.Second)
	for id, w := range want {
		for {
			var row struct {
				AccProfit   decimal.Decimal `json:"acc_profit"`
				Distributed decimal.Decimal `json:"distributed"`
				LossCarry   decimal.Decimal `json:"loss_carryforward"`
			}
			admin.must(200, "GET", fmt.Sprintf("/api/v1/stats/acc_profit/%d", id), nil, &row)
			if row.AccProfit.Equal(decimal.RequireFromString(w[0])) && row.LossCarry.Equal(decimal.RequireFromString(w[1])) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stats of portfolio %d: acc_profit %s, loss_carryforward %s; want %s, %s", id, row.AccProfit, row.LossCarry, w[0], w[1])
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

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
