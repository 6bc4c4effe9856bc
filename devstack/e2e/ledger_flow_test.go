package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/devstack/invariants"
)

// eventually waits up to 30 s for cond; see eventuallyWithin.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	eventuallyWithin(t, 30*time.Second, what, cond)
}

// eventuallyWithin calls cond every 250 ms until it holds, and fails the
// test once timeout has passed with the state cond last reported.
func eventuallyWithin(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s; last state: %s", what, timeout, state)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// ledgerAndStatsFlow continues TestProfitFlow's scenario (allocations of
// 200 distributed: user 140, team 40, platform 20, from profits 100, −50,
// 150) through the withdrawal service's ledger and the stats read models.
func ledgerAndStatsFlow(t *testing.T, admin, alice client, pfID, aliceID, teamID int64, allocs []invariants.Allocation) {
	userPath := fmt.Sprintf("/api/v1/balances/user/%d", aliceID)
	var b accountBalance
	eventually(t, "alice credited with her to_user amounts", func() (bool, string) {
		var bs ownerBalances
		alice.must(200, "GET", userPath, nil, &bs)
		b = bs.In("USD")
		return b.Credited.Equal(d("140")), fmt.Sprintf("%+v", bs)
	})

	// Withdraw part of it and complete it; withdraw again and fail it.
	var w1, w2 struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	alice.must(201, "POST", "/api/v1/withdrawals", map[string]any{"currency": "USD", "from_type": "user", "owner_id": aliceID, "amount": "50"}, &w1,
		"Idempotency-Key", "w-1")
	if w1.Status != "pending" {
		t.Fatalf("withdrawal = %+v", w1)
	}
	admin.must(200, "POST", fmt.Sprintf("/api/v1/withdrawals/%d/complete", w1.ID), nil, nil, "Idempotency-Key", "w-1-complete")
	alice.must(201, "POST", "/api/v1/withdrawals", map[string]any{"currency": "USD", "from_type": "user", "owner_id": aliceID, "amount": "30"}, &w2,
		"Idempotency-Key", "w-2")
	admin.must(200, "POST", fmt.Sprintf("/api/v1/withdrawals/%d/fail", w2.ID), map[string]string{"reason": "bank rejected"}, nil)
	if r := alice.call("POST", "/api/v1/withdrawals", map[string]any{"currency": "USD", "from_type": "user", "owner_id": aliceID, "amount": "90.00000001"}); r.status != 422 {
		t.Fatalf("withdrawing more than available = %d %s, want 422", r.status, r.Data)
	}
	// Reallocate from the platform to the team.
	eventually(t, "the platform credited", func() (bool, string) {
		var p ownerBalances
		admin.must(200, "GET", "/api/v1/balances/platform/0", nil, &p)
		return p.In("USD").Credited.Equal(d("20")), fmt.Sprintf("%+v", p)
	})
	admin.must(201, "POST", "/api/v1/reallocations", map[string]any{"currency": "USD", "from_type": "platform", "from_id": 0, "to_type": "team",
		"to_id": teamID, "amount": "5", "reason": "desk bonus"}, nil)

	var bs ownerBalances
	alice.must(200, "GET", userPath+inUSD, nil, &bs)
	if b = bs.In("USD"); !b.Withdrawn.Equal(d("50")) || !b.Held.IsZero() || !b.Available.Equal(d("90")) {
		t.Errorf("alice's balance = %+v, want withdrawn 50, held 0, available 90", b)
	}
	var teamBs, platformBs ownerBalances
	admin.must(200, "GET", fmt.Sprintf("/api/v1/balances/team/%d", teamID)+inUSD, nil, &teamBs)
	admin.must(200, "GET", "/api/v1/balances/platform/0"+inUSD, nil, &platformBs)
	team, platform := teamBs.In("USD"), platformBs.In("USD")
	if !team.Credited.Equal(d("40")) || !team.ReallocatedIn.Equal(d("5")) || !team.Available.Equal(d("45")) {
		t.Errorf("team balance = %+v", team)
	}
	if !platform.Credited.Equal(d("20")) || !platform.ReallocatedOut.Equal(d("5")) || !platform.Available.Equal(d("15")) {
		t.Errorf("platform balance = %+v", platform)
	}
	var verify struct {
		OK bool `json:"ok"`
	}
	admin.must(200, "GET", "/api/v1/ledger/verify", nil, &verify)
	if !verify.OK {
		t.Error("ledger hash chains do not verify")
	}

	// Once quiet, the stats equal the ledger and the allocation history.
	profitTotal, distributed := decimal.Zero, decimal.Zero
	for _, a := range allocs {
		profitTotal = profitTotal.Add(a.ProfitAmount)
		distributed = distributed.Add(a.Distributable)
	}
	var overview map[string]any // the USD totals: every amount of this flow is in USD
	eventually(t, "the stats overview to catch up", func() (bool, string) {
		var o struct{ Totals []map[string]any }
		admin.must(200, "GET", "/api/v1/stats/overview", nil, &o)
		if len(o.Totals) != 1 || o.Totals[0]["currency"] != "USD" {
			return false, fmt.Sprintf("totals %v, want USD's alone", o.Totals)
		}
		overview = o.Totals[0]
		want := map[string]decimal.Decimal{"total_distributed": distributed, "to_team_total": d("40"), "to_platform_total": d("20"),
			"to_user_total": d("140"), "withdrawals_pending_amount": decimal.Zero, "withdrawals_completed_amount": d("50"),
			"withdrawals_failed_amount": d("30"), "reallocated_total": d("5"), "total_profit": profitTotal}
		for k, v := range want {
			s, _ := overview[k].(string)
			got, err := decimal.NewFromString(s)
			if err != nil || !got.Equal(v) {
				return false, fmt.Sprintf("%s = %v, want %s; overview %v", k, overview[k], v, overview)
			}
		}
		return true, ""
	})
	var acc map[string]any
	admin.must(200, "GET", fmt.Sprintf("/api/v1/stats/acc_profit/%d", pfID), nil, &acc)
	for k, v := range map[string]decimal.Decimal{"acc_profit": profitTotal, "distributed": distributed, "to_team_total": d("40"),
		"to_platform_total": d("20"), "to_user_total": d("140")} {
		if s, _ := acc[k].(string); !d(s).Equal(v) {
			t.Errorf("acc_profit %s = %v, want %s", k, acc[k], v)
		}
	}
	var hourly []struct {
		Hour   time.Time       `json:"hour"`
		Profit decimal.Decimal `json:"profit"`
	}
	admin.must(200, "GET", fmt.Sprintf("/api/v1/stats/hourly?owner_type=user&owner_id=%d", aliceID), nil, &hourly)
	sum := decimal.Zero
	for _, h := range hourly {
		sum = sum.Add(h.Profit)
	}
	if !sum.Equal(d("140")) || len(hourly) != 2 {
		t.Errorf("alice's hourly profit = %+v, want two buckets summing to 140", hourly)
	}
	var rows []map[string]any
	admin.must(200, "GET", "/api/v1/stats/summary?group_by=user", nil, &rows)
	found := false
	for _, r := range rows {
		if fmt.Sprint(r["key"]) == fmt.Sprint(aliceID) {
			found = true
			if s, _ := r["to_user"].(string); !d(s).Equal(d("140")) {
				t.Errorf("summary to_user = %v", r["to_user"])
			}
			if s, _ := r["withdrawn"].(string); !d(s).Equal(d("50")) {
				t.Errorf("summary withdrawn = %v", r["withdrawn"])
			}
		}
	}
	if !found {
		t.Errorf("summary by user has no row for alice: %v", rows)
	}
}
