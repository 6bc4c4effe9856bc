package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/devstack/invariants"
)

// TestCurrencies books profits in two currencies for one user, through the
// edge only: a JPY portfolio's profit of 1 000 000 and a USD portfolio's
// of 100 land in two balances (JPY and USD), a USD withdrawal that only the
// JPY balance would cover is refused (422 insufficient_balance), a JPY
// withdrawal within the JPY balance is taken, and the stats keep each
// currency's totals apart. It ends with the invariant checker, which
// checks every invariant per currency.
func TestCurrencies(t *testing.T) {
	s, _ := runStack(t, repoRoot(t), nil)
	ready := s.Ready()
	admin := login(t, ready.EdgeURL, ready.AdminEmail, ready.AdminPassword)

	var team, user, usdPF, jpyPF idOnly
	admin.must(201, "POST", "/api/v1/teams", map[string]string{"name": "Tokyo", "description": "a desk in two currencies"}, &team)
	admin.must(201, "POST", "/api/v1/users", map[string]string{"email": "yuki@example.com", "username": "yuki",
		"password": "yuki-password-123", "role": "user"}, &user)
	admin.must(200, "PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", team.ID, user.ID), nil, nil)
	yuki := login(t, ready.EdgeURL, "yuki@example.com", "yuki-password-123")
	admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Dollar book", "user_id": user.ID, "team_id": team.ID,
		"currency": "USD"}, &usdPF)
	admin.must(201, "POST", "/api/v1/portfolios", map[string]any{"name": "Yen book", "user_id": user.ID, "team_id": team.ID,
		"currency": "JPY"}, &jpyPF)
	admin.ratio(usdPF.ID, "0.2", "0.1", "0.7")
	admin.ratio(jpyPF.ID, "0.2", "0.1", "0.7")
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for pf, navs := range map[int64][]string{usdPF.ID: {"1000", "1100"}, jpyPF.ID: {"10000000", "11000000"}} {
		for i, nav := range navs {
			admin.must(201, "POST", fmt.Sprintf("/api/v1/portfolios/%d/nav", pf),
				map[string]any{"as_of": t0.AddDate(0, 0, i).Format(time.RFC3339), "nav": nav}, nil,
				"Idempotency-Key", fmt.Sprintf("currency-nav-%d-%d", pf, i))
		}
	}

	// The user's balances: one per currency, each with its own credit.
	path := fmt.Sprintf("/api/v1/balances/user/%d", user.ID)
	var b invariants.OwnerBalances
	eventually(t, "yuki credited in JPY and in USD", func() (bool, string) {
		yuki.must(200, "GET", path, nil, &b)
		return len(b.Balances) == 2 && b.In("JPY").Credited.Equal(d("700000")) && b.In("USD").Credited.Equal(d("70")),
			fmt.Sprintf("%+v", b)
	})
	if b.Balances[0].Currency != "JPY" || b.Balances[1].Currency != "USD" ||
		!b.In("JPY").Available.Equal(d("700000")) || !b.In("USD").Available.Equal(d("70")) {
		t.Errorf("balances = %+v, want JPY (available 700000) then USD (available 70)", b.Balances)
	}

	// A USD withdrawal beyond the USD balance is refused, however much JPY
	// there is; a JPY one within the JPY balance is taken.
	r := yuki.call("POST", "/api/v1/withdrawals", map[string]any{"from_type": "user", "owner_id": user.ID, "amount": "1000",
		"currency": "USD"})
	var failure struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Data, &failure)
	if r.status != 422 || failure.Code != "insufficient_balance" {
		t.Errorf("a USD withdrawal of 1000 with 70 USD and 700000 JPY = %d %s, want 422 insufficient_balance", r.status, r.Data)
	}
	var w struct {
		ID       int64           `json:"id"`
		Amount   decimal.Decimal `json:"amount"`
		Currency string          `json:"currency"`
		Status   string          `json:"status"`
	}
	yuki.must(201, "POST", "/api/v1/withdrawals", map[string]any{"from_type": "user", "owner_id": user.ID, "amount": "500000",
		"currency": "JPY"}, &w, "Idempotency-Key", "currency-w-jpy")
	if w.Currency != "JPY" || !w.Amount.Equal(d("500000")) || w.Status != "pending" {
		t.Errorf("the JPY withdrawal = %+v", w)
	}
	yuki.must(200, "GET", path, nil, &b)
	if jpy, usd := b.In("JPY"), b.In("USD"); !jpy.Held.Equal(d("500000")) || !jpy.Available.Equal(d("200000")) ||
		!usd.Held.IsZero() || !usd.Available.Equal(d("70")) {
		t.Errorf("balances after the JPY withdrawal = %+v, want JPY held 500000, available 200000; USD available 70", b.Balances)
	}

	// The stats: each currency's totals apart, each portfolio in its own.
	type totals struct {
		Currency           string          `json:"currency"`
		TotalProfit        decimal.Decimal `json:"total_profit"`
		ToUserTotal        decimal.Decimal `json:"to_user_total"`
		WithdrawalsPending decimal.Decimal `json:"withdrawals_pending_amount"`
	}
	var o struct {
		Totals []totals `json:"totals"`
	}
	eventually(t, "the stats per currency", func() (bool, string) {
		admin.must(200, "GET", "/api/v1/stats/overview", nil, &o)
		return len(o.Totals) == 2 && o.Totals[0].Currency == "JPY" && o.Totals[0].TotalProfit.Equal(d("1000000")) &&
			o.Totals[0].ToUserTotal.Equal(d("700000")) && o.Totals[0].WithdrawalsPending.Equal(d("500000")) &&
			o.Totals[1].Currency == "USD" && o.Totals[1].TotalProfit.Equal(d("100")) && o.Totals[1].ToUserTotal.Equal(d("70")) &&
			o.Totals[1].WithdrawalsPending.IsZero(), fmt.Sprintf("%+v", o.Totals)
	})
	for pf, want := range map[int64][2]string{usdPF.ID: {"USD", "100"}, jpyPF.ID: {"JPY", "1000000"}} {
		var acc struct {
			Currency  string          `json:"currency"`
			AccProfit decimal.Decimal `json:"acc_profit"`
		}
		yuki.must(200, "GET", fmt.Sprintf("/api/v1/stats/acc_profit/%d", pf), nil, &acc)
		if acc.Currency != want[0] || !acc.AccProfit.Equal(d(want[1])) {
			t.Errorf("acc_profit of portfolio %d = %+v, want %s %s", pf, acc, want[1], want[0])
		}
	}

	// --- the invariant checker, per currency --------------------------------
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	checker := &invariants.Client{Edge: ready.EdgeURL, Token: admin.token, HTTP: http.DefaultClient}
	report, err := invariants.Wait(ctx, checker, 60*time.Second)
	var sb strings.Builder
	report.Print(&sb)
	if err != nil || !report.OK() {
		t.Fatalf("invariants (err %v):\n%s", err, sb.String())
	}
	t.Logf("invariants:\n%s", sb.String())
	if f := report.Figures; !f.DistributedIn["JPY"].Equal(d("1000000")) || !f.DistributedIn["USD"].Equal(d("100")) {
		t.Errorf("figures = %+v, want 1000000 JPY and 100 USD distributed", f)
	}
}
