package transport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/servicetest"
	"github.com/fundplatform/platform/services/stats/internal/endpoint"
	"github.com/fundplatform/platform/services/stats/internal/events"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
	"github.com/fundplatform/platform/services/stats/internal/transport"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// env is one stats service over a fresh database, behind httptest; events
// are fed to its handler as the inbox consumer does.
type env struct {
	*servicetest.Server
	handler inbox.Handler
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s := servicetest.New(t, store.Migrations())
	st := store.New(s.Pool)
	e := &env{Server: s, handler: events.Handler(st)}
	svc := stats.New(st)
	s.Serve("stats", transport.NewHandler(endpoint.New(svc), s.Verifier(), svc.Freshness, s.Metrics()))
	// Every /api/v1/ answer says how fresh its data is.
	s.Check = func(method, path string, resp *http.Response) {
		if !strings.HasPrefix(path, "/api/v1/") {
			return
		}
		if _, err := time.Parse(time.RFC3339Nano, resp.Header.Get(transport.FreshnessHeader)); err != nil {
			t.Errorf("%s %s: X-Data-Freshness %q is not RFC 3339", method, path, resp.Header.Get(transport.FreshnessHeader))
		}
	}
	return e
}

// publish applies an event as the consumer does and returns it.
func (e *env) publish(eventType, subject string, data map[string]any) eventbus.Envelope {
	e.T.Helper()
	ev, err := eventbus.NewEnvelope("test", eventType, subject, data)
	if err != nil {
		e.T.Fatal(err)
	}
	err = pg.InTx(context.Background(), e.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return e.handler(context.Background(), tx, ev)
	})
	if err != nil {
		e.T.Fatalf("%s: %v", eventType, err)
	}
	return ev
}

func (e *env) portfolio(id, userID, teamID int64) {
	e.publish(eventbus.TypePortfolioCreated, fmt.Sprintf("portfolio/%d", id), map[string]any{
		"portfolio_id": id, "name": "P", "user_id": userID, "team_id": teamID, "currency": "USD"})
}

// allocated publishes a profit.allocated with a 20/10/70 split of profit.
func (e *env) allocated(id, portfolio, userID, teamID int64, periodEnd, profit, team, platform, user string) eventbus.Envelope {
	return e.publish(eventbus.TypeProfitAllocated, fmt.Sprintf("portfolio/%d", portfolio), map[string]any{
		"allocation_id": id, "portfolio_id": portfolio, "source": "manual", "snapshot_id": nil,
		"period_end": periodEnd, "profit_amount": profit, "distributable": profit,
		"to_team_amount": team, "to_platform_amount": platform, "to_user_amount": user,
		"user_id": userID, "team_id": teamID, "ratio_id": 1, "ratio_version": 1})
}

type accProfit struct {
	PortfolioID     int64      `json:"portfolio_id"`
	Currency        string     `json:"currency"`
	AccProfit       string     `json:"acc_profit"`
	Distributed     string     `json:"distributed"`
	ToTeamTotal     string     `json:"to_team_total"`
	ToPlatformTotal string     `json:"to_platform_total"`
	ToUserTotal     string     `json:"to_user_total"`
	UpdatedAt       *time.Time `json:"updated_at"`
}

type hourly struct {
	Hour     time.Time `json:"hour"`
	Currency string    `json:"currency"`
	Profit   string    `json:"profit"`
}

type summaryRow struct {
	Key         string `json:"key"`
	Currency    string `json:"currency"`
	Profit      string `json:"profit"`
	Distributed string `json:"distributed"`
	ToTeam      string `json:"to_team"`
	ToPlatform  string `json:"to_platform"`
	ToUser      string `json:"to_user"`
	Withdrawn   string `json:"withdrawn"`
}

// seed: portfolios 1 (user 7, team 3), 2 (user 8, team 3), 3 (user 9,
// team 5), and an allocation on each.
func (e *env) seed() eventbus.Envelope {
	e.portfolio(1, 7, 3)
	e.portfolio(2, 8, 3)
	e.portfolio(3, 9, 5)
	e.allocated(1, 1, 7, 3, "2026-03-01T10:15:00Z", "100.00000001", "20.00000000", "10.00000001", "70.00000000")
	e.allocated(2, 2, 8, 3, "2026-03-01T11:00:00Z", "10.00000000", "2.00000000", "1.00000000", "7.00000000")
	return e.allocated(3, 3, 9, 5, "2026-03-02T00:30:00Z", "1.00000000", "0.20000000", "0.10000000", "0.70000000")
}

func TestFreshnessHeader(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	r := e.Do("GET", "/api/v1/stats/overview", admin, nil)
	if got := r.Header.Get(transport.FreshnessHeader); got != "1970-01-01T00:00:00Z" {
		t.Errorf("before any event: X-Data-Freshness = %q, want the epoch", got)
	}
	last := e.seed()
	for _, path := range []string{"/api/v1/stats/overview", "/api/v1/stats/acc_profit", "/api/v1/stats/acc_profit/1",
		"/api/v1/stats/hourly?owner_type=platform", "/api/v1/stats/summary?group_by=day", "/api/v1/stats/summary?group_by=nope"} {
		r := e.Do("GET", path, admin, nil)
		got, err := time.Parse(time.RFC3339Nano, r.Header.Get(transport.FreshnessHeader))
		if err != nil || !got.Equal(last.Time) {
			t.Errorf("%s: X-Data-Freshness = %q, want %s", path, r.Header.Get(transport.FreshnessHeader), last.Time.Format(time.RFC3339Nano))
		}
	}
	if r := e.Do("GET", "/api/v1/stats/overview", "", nil); r.Header.Get(transport.FreshnessHeader) == "" {
		t.Error("401 has no X-Data-Freshness")
	}
}

func TestOverview(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.publish(eventbus.TypeWithdrawalRequested, "withdrawal/1", map[string]any{"withdrawal_id": 1, "from_type": "user",
		"owner_id": 7, "account": "user:7", "amount": "5.50000000", "status": "pending", "reason": nil})
	e.publish(eventbus.TypeFundsReallocated, "reallocation/1", map[string]any{"reallocation_id": 1,
		"from_account": "platform", "to_account": "team:3", "amount": "1.00000001", "reason": "bonus"})
	var o endpoint.Overview
	for _, tok := range []string{e.Token(1, "admin"), e.Token(2, "viewer")} {
		e.Do("GET", "/api/v1/stats/overview", tok, nil).OK(t, 200, &o)
	}
	var raw struct{ Totals []map[string]any }
	_ = json.Unmarshal(e.Do("GET", "/api/v1/stats/overview", e.Token(1, "admin"), nil).Env.Data, &raw)
	if len(raw.Totals) != 1 || raw.Totals[0]["currency"] != "USD" {
		t.Fatalf("totals = %v, want USD's", raw.Totals)
	}
	want := map[string]string{"total_profit": "111.00000001", "total_distributed": "111.00000001", "to_team_total": "22.20000000",
		"to_platform_total": "11.10000001", "to_user_total": "77.70000000", "loss_carryforward_total": "0.00000000",
		"withdrawals_pending_amount": "5.50000000", "withdrawals_completed_amount": "0.00000000",
		"withdrawals_failed_amount": "0.00000000", "reallocated_total": "1.00000001"}
	for k, v := range want {
		if raw.Totals[0][k] != v {
			t.Errorf("%s = %v, want %q", k, raw.Totals[0][k], v)
		}
	}
	if o.Counts != (endpoint.Counts{Portfolios: 3, Allocations: 3, Withdrawals: 1, Reallocations: 1}) || o.LastEventAt == nil {
		t.Errorf("counts = %+v, last_event_at = %v", o.Counts, o.LastEventAt)
	}
	e.Do("GET", "/api/v1/stats/overview", e.Token(7, "user", 3), nil).Fails(t, 403, "forbidden")
	e.Do("GET", "/api/v1/stats/overview", "", nil).Fails(t, 401, "unauthenticated")
	e.Do("GET", "/api/v1/stats/overview", "not-a-token", nil).Fails(t, 401, "unauthenticated")
}

func TestAccProfit(t *testing.T) {
	e := newEnv(t)
	e.seed()
	admin, viewer := e.Token(1, "admin"), e.Token(2, "viewer")
	var list []accProfit
	r := e.Do("GET", "/api/v1/stats/acc_profit", viewer, nil).OK(t, 200, &list)
	if *r.Env.Total != 3 || len(list) != 3 || list[0].PortfolioID != 3 || list[2].PortfolioID != 1 {
		t.Fatalf("viewer list = %s", r.Raw)
	}
	if list[2].AccProfit != "100.00000001" || list[2].ToPlatformTotal != "10.00000001" || list[2].UpdatedAt == nil || list[2].Currency != "USD" {
		t.Errorf("portfolio 1 = %+v", list[2])
	}
	r = e.Do("GET", "/api/v1/stats/acc_profit?limit=1&offset=1", admin, nil).OK(t, 200, &list)
	if *r.Env.Total != 3 || len(list) != 1 || list[0].PortfolioID != 2 {
		t.Errorf("page = %s", r.Raw)
	}
	// A user: its own portfolio (1) and its team's (2), not team 5's (3).
	r = e.Do("GET", "/api/v1/stats/acc_profit", e.Token(7, "user", 3), nil).OK(t, 200, &list)
	if *r.Env.Total != 2 || len(list) != 2 || list[0].PortfolioID != 2 || list[1].PortfolioID != 1 {
		t.Errorf("user 7 list = %s", r.Raw)
	}
	r = e.Do("GET", "/api/v1/stats/acc_profit", e.Token(9, "user"), nil).OK(t, 200, &list)
	if *r.Env.Total != 1 || list[0].PortfolioID != 3 {
		t.Errorf("user 9 list = %s", r.Raw)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "offset=-1"} {
		d := e.Do("GET", "/api/v1/stats/acc_profit?"+q, admin, nil).Fails(t, 400, "validation_failed")
		if len(d.Fields) != 1 {
			t.Errorf("%s: fields = %v", q, d.Fields)
		}
	}

	var one accProfit
	e.Do("GET", "/api/v1/stats/acc_profit/1", e.Token(7, "user"), nil).OK(t, 200, &one)
	if one.AccProfit != "100.00000001" || one.Distributed != "100.00000001" || one.ToTeamTotal != "20.00000000" || one.ToUserTotal != "70.00000000" {
		t.Errorf("portfolio 1 = %+v", one)
	}
	e.Do("GET", "/api/v1/stats/acc_profit/2", e.Token(7, "user", 3), nil).OK(t, 200, &one)
	e.Do("GET", "/api/v1/stats/acc_profit/3", e.Token(7, "user", 3), nil).Fails(t, 404, "portfolio_not_found")
	e.Do("GET", "/api/v1/stats/acc_profit/99", e.Token(7, "user", 3), nil).Fails(t, 404, "portfolio_not_found")
	e.Do("GET", "/api/v1/stats/acc_profit/99", viewer, nil).OK(t, 200, &one)
	if one.PortfolioID != 99 || one.AccProfit != "0.00000000" || one.ToUserTotal != "0.00000000" || one.UpdatedAt != nil || one.Currency != "USD" {
		t.Errorf("unknown portfolio = %+v, want zeros", one)
	}
	for _, id := range []string{"0", "-1", "abc", "99999999999999999999"} {
		e.Do("GET", "/api/v1/stats/acc_profit/"+id, admin, nil).Fails(t, 404, "portfolio_not_found")
	}
	e.Do("GET", "/api/v1/stats/acc_profit/1", "", nil).Fails(t, 401, "unauthenticated")
}

// TestCurrencies: every figure is per currency. Portfolio 4 is user 7's
// and team 3's in JPY; its NAV profit says JPY, its allocation (as one
// published before events carried a currency) says none and is read in
// the portfolio's known currency; a withdrawal and a reallocation in JPY.
func TestCurrencies(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.publish(eventbus.TypePortfolioCreated, "portfolio/4", map[string]any{
		"portfolio_id": 4, "name": "P", "user_id": 7, "team_id": 3, "currency": "JPY"})
	e.publish(eventbus.TypePortfolioProfitRecorded, "portfolio/4", map[string]any{"portfolio_id": 4, "snapshot_id": 2,
		"user_id": 7, "team_id": 3, "as_of": "2026-03-01T10:30:00Z", "period_end": "2026-03-01T10:30:00Z",
		"profit": "1000000.00000000", "nav": "2000000.00000000", "prev_nav": "1000000.00000000", "net_flow": "0.00000000",
		"currency": "JPY"})
	e.publish(eventbus.TypeProfitAllocated, "portfolio/4", map[string]any{
		"allocation_id": 9, "portfolio_id": 4, "source": "nav", "snapshot_id": 2,
		"period_end": "2026-03-01T10:30:00Z", "profit_amount": "1000000.00000000", "distributable": "1000000.00000000",
		"to_team_amount": "200000.00000000", "to_platform_amount": "100000.00000000", "to_user_amount": "700000.00000000",
		"user_id": 7, "team_id": 3, "ratio_id": 1, "ratio_version": 1})
	e.publish(eventbus.TypeWithdrawalRequested, "withdrawal/1", map[string]any{"withdrawal_id": 1, "from_type": "user",
		"owner_id": 7, "account": "user:7", "amount": "500000.00000000", "status": "pending", "reason": nil, "currency": "JPY"})
	e.publish(eventbus.TypeFundsReallocated, "reallocation/1", map[string]any{"reallocation_id": 1,
		"from_account": "platform", "to_account": "team:3", "amount": "3.00000000", "reason": "bonus", "currency": "JPY"})
	admin := e.Token(1, "admin")

	var o endpoint.Overview
	e.Do("GET", "/api/v1/stats/overview", admin, nil).OK(t, 200, &o)
	if len(o.Totals) != 2 || o.Totals[0].Currency != "JPY" || o.Totals[1].Currency != "USD" {
		t.Fatalf("totals = %+v, want JPY then USD", o.Totals)
	}
	jpy, usd := o.Totals[0], o.Totals[1]
	for name, got := range map[string][2]string{
		"JPY total_profit": {jpy.TotalProfit.String(), "1000000.00000000"}, "JPY to_user_total": {jpy.ToUserTotal.String(), "700000.00000000"},
		"JPY pending": {jpy.WithdrawalsPendingAmount.String(), "500000.00000000"}, "JPY reallocated": {jpy.ReallocatedTotal.String(), "3.00000000"},
		"USD total_profit": {usd.TotalProfit.String(), "111.00000001"}, "USD pending": {usd.WithdrawalsPendingAmount.String(), "0.00000000"},
		"USD reallocated": {usd.ReallocatedTotal.String(), "0.00000000"},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %s, want %s", name, got[0], got[1])
		}
	}
	if o.Counts != (endpoint.Counts{Portfolios: 4, Allocations: 4, Withdrawals: 1, Reallocations: 1}) {
		t.Errorf("counts = %+v", o.Counts)
	}

	var acc accProfit
	e.Do("GET", "/api/v1/stats/acc_profit/4", admin, nil).OK(t, 200, &acc)
	if acc.Currency != "JPY" || acc.AccProfit != "1000000.00000000" || acc.ToUserTotal != "700000.00000000" {
		t.Errorf("acc_profit/4 = %+v", acc)
	}

	var hs []hourly
	e.Do("GET", "/api/v1/stats/hourly?owner_type=user&owner_id=7", admin, nil).OK(t, 200, &hs)
	if len(hs) != 2 || hs[0].Currency != "JPY" || hs[0].Profit != "700000.00000000" || hs[1].Currency != "USD" ||
		hs[1].Profit != "70.00000000" || !hs[0].Hour.Equal(hs[1].Hour) {
		t.Errorf("user 7 hours = %+v", hs)
	}
	e.Do("GET", "/api/v1/stats/hourly?owner_type=user&owner_id=7&currency=USD", admin, nil).OK(t, 200, &hs)
	if len(hs) != 1 || hs[0].Currency != "USD" {
		t.Errorf("user 7 hours in USD = %+v", hs)
	}

	var rows []summaryRow
	e.Do("GET", "/api/v1/stats/summary?group_by=user", admin, nil).OK(t, 200, &rows)
	if len(rows) != 4 || rows[0].Key != "7" || rows[0].Currency != "JPY" || rows[0].Profit != "1000000.00000000" ||
		rows[1].Key != "7" || rows[1].Currency != "USD" || rows[1].Profit != "100.00000001" {
		t.Errorf("by user = %+v", rows)
	}
	for _, q := range []string{"group_by=day&currency=JPY", "group_by=day&currency=JPY&from=2026-03-01T00:00:00Z",
		"group_by=hour&currency=JPY&from=2026-03-01T10:00:00Z&to=2026-03-01T11:00:00Z"} {
		e.Do("GET", "/api/v1/stats/summary?"+q, admin, nil).OK(t, 200, &rows)
		if len(rows) != 1 || rows[0].Currency != "JPY" || rows[0].Profit != "1000000.00000000" {
			t.Errorf("%s = %+v", q, rows)
		}
	}
	e.Do("GET", "/api/v1/stats/summary?group_by=user&currency=EUR", admin, nil).OK(t, 200, &rows)
	if len(rows) != 0 {
		t.Errorf("by user in EUR = %+v", rows)
	}
	for _, q := range []string{"stats/summary?group_by=day&currency=jpy", "stats/hourly?owner_type=platform&currency=yen"} {
		e.Do("GET", "/api/v1/"+q, admin, nil).FailsOn(t, 400, "validation_failed", "currency")
	}
}

func TestHourly(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.allocated(4, 1, 7, 3, "2026-03-01T10:45:00Z", "1.00000000", "0.20000000", "0.10000000", "0.70000000")
	admin, user7 := e.Token(1, "admin"), e.Token(7, "user", 3)
	var hs []hourly
	e.Do("GET", "/api/v1/stats/hourly?owner_type=user&owner_id=7", user7, nil).OK(t, 200, &hs)
	if len(hs) != 1 || hs[0].Profit != "70.70000000" || !hs[0].Hour.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("user 7 = %+v", hs)
	}
	e.Do("GET", "/api/v1/stats/hourly?owner_type=team&owner_id=3", user7, nil).OK(t, 200, &hs)
	if len(hs) != 2 || hs[0].Profit != "20.20000000" || hs[1].Profit != "2.00000000" || !hs[0].Hour.Before(hs[1].Hour) {
		t.Errorf("team 3 = %+v", hs)
	}
	e.Do("GET", "/api/v1/stats/hourly?owner_type=platform&owner_id=0&from=2026-03-01T11:30:00Z&to=2026-03-02T00:00:00Z", admin, nil).OK(t, 200, &hs)
	if len(hs) != 1 || hs[0].Profit != "1.00000000" {
		t.Errorf("platform in range = %+v", hs)
	}
	e.Do("GET", "/api/v1/stats/hourly?owner_type=platform", e.Token(2, "viewer"), nil).OK(t, 200, &hs)
	if len(hs) != 3 {
		t.Errorf("platform = %+v", hs)
	}
	// A page of the same hours, and a range longer than 366 days refused.
	var page []hourly
	if total := e.Do("GET", "/api/v1/stats/hourly?owner_type=platform&limit=2&offset=1", admin, nil).List(t, &page); total != 3 ||
		len(page) != 2 || !page[0].Hour.Equal(hs[1].Hour) || !page[1].Hour.Equal(hs[2].Hour) {
		t.Errorf("platform page 2..3 of %d = %+v", total, page)
	}
	e.Do("GET", "/api/v1/stats/hourly?owner_type=platform&from=2025-01-01T00:00:00Z&to=2026-01-03T00:00:00Z", admin, nil).
		FailsOn(t, 400, "validation_failed", "to")
	e.Do("GET", "/api/v1/stats/summary?group_by=hour&from=2025-01-01T00:00:00Z&to=2026-01-03T00:00:00Z", admin, nil).
		FailsOn(t, 400, "validation_failed", "to")
	var groups []json.RawMessage
	if total := e.Do("GET", "/api/v1/stats/summary?group_by=hour&limit=1", admin, nil).List(t, &groups); total != 3 || len(groups) != 1 {
		t.Errorf("summary by hour: %d of %d groups, want 1 of 3", len(groups), total)
	}
	if total := e.Do("GET", "/api/v1/stats/summary?group_by=hour&limit=2&offset=2", admin, nil).List(t, &groups); total != 3 || len(groups) != 1 {
		t.Errorf("summary by hour, last page: %d of %d groups, want 1 of 3", len(groups), total)
	}
	if total := e.Do("GET", "/api/v1/stats/summary?group_by=hour&offset=10", admin, nil).List(t, &groups); total != 3 || len(groups) != 0 {
		t.Errorf("summary by hour, past the end: %d of %d groups, want 0 of 3", len(groups), total)
	}
	e.Do("GET", "/api/v1/stats/hourly?owner_type=user&owner_id=99", admin, nil).OK(t, 200, &hs)
	if len(hs) != 0 {
		t.Errorf("user 99 = %+v", hs)
	}

	for _, q := range []string{"owner_type=user&owner_id=8", "owner_type=team&owner_id=5", "owner_type=platform"} {
		e.Do("GET", "/api/v1/stats/hourly?"+q, user7, nil).Fails(t, 404, "not_found")
	}
	for q, field := range map[string]string{
		"":                                   "owner_type",
		"owner_type=account":                 "owner_type",
		"owner_type=user":                    "owner_id",
		"owner_type=user&owner_id=x":         "owner_id",
		"owner_type=team&owner_id=-3":        "owner_id",
		"owner_type=platform&owner_id=2":     "owner_id",
		"owner_type=platform&from=yesterday": "from",
		"owner_type=platform&to=2026-03-01":  "to",
		"owner_type=platform&from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z": "to",
	} {
		e.Do("GET", "/api/v1/stats/hourly?"+q, admin, nil).FailsOn(t, 400, "validation_failed", field)
	}
}

func TestSummary(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.publish(eventbus.TypeWithdrawalRequested, "withdrawal/1", map[string]any{"withdrawal_id": 1, "from_type": "team",
		"owner_id": 3, "account": "team:3", "amount": "2.00000000", "status": "pending", "reason": nil})
	e.publish(eventbus.TypeWithdrawalCompleted, "withdrawal/1", map[string]any{"withdrawal_id": 1, "from_type": "team",
		"owner_id": 3, "account": "team:3", "amount": "2.00000000", "status": "completed", "reason": nil})
	viewer := e.Token(2, "viewer")
	get := func(q string) []summaryRow {
		t.Helper()
		var rows []summaryRow
		e.Do("GET", "/api/v1/stats/summary?"+q, viewer, nil).OK(t, 200, &rows)
		return rows
	}
	if rows := get("group_by=portfolio"); len(rows) != 3 || rows[0].Key != "1" || rows[0].Profit != "100.00000001" ||
		rows[0].ToPlatform != "10.00000001" || rows[0].Withdrawn != "0.00000000" {
		t.Errorf("by portfolio = %+v", rows)
	}
	if rows := get("group_by=team"); len(rows) != 2 || rows[0].Key != "3" || rows[0].Distributed != "110.00000001" ||
		rows[0].Withdrawn != "2.00000000" || rows[1].Key != "5" {
		t.Errorf("by team = %+v", rows)
	}
	if rows := get("group_by=user"); len(rows) != 3 || rows[2].Key != "9" || rows[2].ToUser != "0.70000000" {
		t.Errorf("by user = %+v", rows)
	}
	if rows := get("group_by=day&to=2026-03-02T00:00:00Z"); len(rows) != 1 || rows[0].Key != "2026-03-01" ||
		rows[0].Profit != "110.00000001" || rows[0].ToTeam != "22.00000000" {
		t.Errorf("by day = %+v", rows) // the withdrawal completed now, after to
	}
	if rows := get("group_by=hour&from=2026-03-01T10:59:00Z&to=2026-03-02T01:00:00Z"); len(rows) != 3 ||
		rows[0].Key != "2026-03-01T10:00:00Z" || rows[2].Key != "2026-03-02T00:00:00Z" {
		t.Errorf("by hour = %+v", rows)
	}
	if rows := get("group_by=day&from=2030-01-01T00:00:00Z"); len(rows) != 0 {
		t.Errorf("future = %+v", rows)
	}
	e.Do("GET", "/api/v1/stats/summary?group_by=day", e.Token(1, "admin"), nil).OK(t, 200, nil)
	for q, field := range map[string]string{
		"":                           "group_by",
		"group_by=month":             "group_by",
		"group_by=Day":               "group_by",
		"group_by=day&from=x":        "from",
		"group_by=day&to=1710000000": "to",
		"group_by=day&from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z": "to",
	} {
		e.Do("GET", "/api/v1/stats/summary?"+q, viewer, nil).FailsOn(t, 400, "validation_failed", field)
	}
	e.Do("GET", "/api/v1/stats/summary?group_by=day", e.Token(7, "user", 3), nil).Fails(t, 403, "forbidden")
	e.Do("GET", "/api/v1/stats/summary?group_by=day", "", nil).Fails(t, 401, "unauthenticated")
}

// BenchmarkSummaryRoute is GET /api/v1/stats/summary over HTTP (token
// check, query, JSON) for 1 000 portfolios and 1 000 days.
func BenchmarkSummaryRoute(b *testing.B) {
	e := newEnv(b)
	if _, err := e.Pool.Exec(context.Background(), `
		INSERT INTO summary_hourly (dimension, key, hour, profit, distributed, to_team, to_platform, to_user, withdrawn)
		SELECT 'portfolio', i::text, timestamptz '2026-01-01' + (i % 1000) * interval '1 day', 1000.12345678, 900.1, 45.05, 45.05, 810, 1
		  FROM generate_series(1, 1000) i
		UNION ALL
		SELECT 'all', '', timestamptz '2026-01-01' + i * interval '1 day', 1000.12345678, 900.1, 45.05, 45.05, 810, 1
		  FROM generate_series(1, 1000) i`); err != nil {
		b.Fatal(err)
	}
	token := e.Token(1, "admin")
	for _, groupBy := range []string{"portfolio", "day"} {
		b.Run(groupBy, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, e.URL+"/api/v1/stats/summary?group_by="+groupBy, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n < 100_000 {
					b.Fatalf("%d, %d bytes", resp.StatusCode, n)
				}
			}
		})
	}
}
