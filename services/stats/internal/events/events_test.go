package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/stats/internal/events"
	"github.com/fundplatform/platform/services/stats/internal/stats"
	"github.com/fundplatform/platform/services/stats/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// envelope builds an event as its producer does and checks it against the
// type's JSON Schema.
func envelope(t *testing.T, eventType, subject string, data map[string]any) eventbus.Envelope {
	t.Helper()
	return eventtest.Valid(t, "test", eventType, subject, data)
}

// fixture is the handler over a fresh database, fed as the inbox consumer
// feeds it: the event id is recorded in the transaction of the effect,
// and an id seen before is not handled again.
type fixture struct {
	*eventtest.Inbox
	t       *testing.T
	store   *store.Store
	handler inbox.Handler
}

func newFixture(t *testing.T) *fixture {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	return &fixture{Inbox: &eventtest.Inbox{Pool: pool, GroupID: events.GroupID}, t: t, store: st, handler: events.Handler(st)}
}

func (f *fixture) deliver(envs ...eventbus.Envelope) {
	f.t.Helper()
	for _, env := range envs {
		if err := f.apply(env); err != nil {
			f.t.Fatalf("%s: %v", env.Type, err)
		}
	}
}

// apply applies env in its own transaction.
func (f *fixture) apply(env eventbus.Envelope) error {
	return f.Apply([]eventbus.Envelope{env}, eventtest.One(f.handler))
}

func portfolioCreated(t *testing.T, id, userID, teamID int64) eventbus.Envelope {
	return envelope(t, eventbus.TypePortfolioCreated, fmt.Sprintf("portfolio/%d", id), map[string]any{
		"portfolio_id": id, "name": "P", "user_id": userID, "team_id": teamID, "currency": "USD"})
}

type alloc struct {
	id, portfolio, user, team int64
	source                    string
	periodEnd                 string
	profit, distributable     string
	team_, platform, user_    string
}

func (a alloc) envelope(t *testing.T) eventbus.Envelope {
	var snapshot any
	if a.source == "nav" {
		snapshot = a.id
	}
	return envelope(t, eventbus.TypeProfitAllocated, fmt.Sprintf("portfolio/%d", a.portfolio), map[string]any{
		"allocation_id": a.id, "portfolio_id": a.portfolio, "source": a.source, "snapshot_id": snapshot,
		"period_end": a.periodEnd, "profit_amount": a.profit, "distributable": a.distributable,
		"to_team_amount": a.team_, "to_platform_amount": a.platform, "to_user_amount": a.user_,
		"user_id": a.user, "team_id": a.team, "ratio_id": 1, "ratio_version": 1})
}

// recorded is the portfolio.profit_recorded a NAV allocation comes from:
// NAV profits are counted from it, the allocation brings the money.
func (a alloc) recorded(t *testing.T) eventbus.Envelope {
	return envelope(t, eventbus.TypePortfolioProfitRecorded, fmt.Sprintf("portfolio/%d", a.portfolio), map[string]any{
		"portfolio_id": a.portfolio, "snapshot_id": a.id, "user_id": a.user, "team_id": a.team,
		"as_of": a.periodEnd, "period_end": a.periodEnd, "profit": d(a.profit).StringFixed(8),
		"nav": d(a.profit).StringFixed(8), "prev_nav": "0.00000000", "net_flow": "0.00000000"})
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func eq(t *testing.T, what string, got, want decimal.Decimal) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// The allocations of the test: two portfolios of team 3 (users 7 and 8),
// amounts with every decimal place used, one profit partly absorbed by a
// carry-forward (profit > distributable), three hours on two days.
var allocs = []alloc{
	{1, 1, 7, 3, "nav", "2026-03-01T10:15:00Z", "100.00000001", "100.00000001", "20.00000000", "10.00000001", "70.00000000"},
	{2, 1, 7, 3, "manual", "2026-03-01T10:59:59.999999Z", "0.00000003", "0.00000003", "0.00000000", "0.00000001", "0.00000002"},
	{3, 2, 8, 3, "nav", "2026-03-01T11:00:00Z", "999999999999.99999999", "999999999999.99999999", "199999999999.99999999", "100000000000.00000000", "700000000000.00000000"},
	{4, 1, 7, 3, "nav", "2026-03-02T00:30:00Z", "50.12345678", "30.12345678", "6.02469135", "3.01234569", "21.08641974"},
}

func sum(pick func(alloc) string, keep func(alloc) bool) decimal.Decimal {
	s := decimal.Zero
	for _, a := range allocs {
		if keep == nil || keep(a) {
			s = s.Add(d(pick(a)))
		}
	}
	return s
}

// TestAllocationsAddUpExactly feeds portfolios and allocations, with
// redeliveries and an allocation republished under a new event id, and
// checks every model against the sums of the inputs, to the last decimal.
func TestAllocationsAddUpExactly(t *testing.T) {
	f := newFixture(t)
	p1, p2 := portfolioCreated(t, 1, 7, 3), portfolioCreated(t, 2, 8, 3)
	f.deliver(p1, p2, p1)
	var envs []eventbus.Envelope
	for _, a := range allocs {
		if a.source == "nav" {
			r := a.recorded(t)
			f.deliver(r, r) // redelivered too
		}
		envs = append(envs, a.envelope(t))
	}
	f.deliver(envs...)
	f.deliver(envs[0], envs[2])      // redelivered: same event ids
	f.deliver(allocs[1].envelope(t)) // same allocation under a new event id

	t.Run("overview", func(t *testing.T) { checkOverview(t, f, envs[3].Time) })
	t.Run("portfolio totals", func(t *testing.T) { checkPortfolioTotals(t, f) })
	t.Run("hourly", func(t *testing.T) { checkHourly(t, f) })
	t.Run("summary", func(t *testing.T) { checkSummary(t, f) })
}

// The amounts of an alloc, and the allocs of portfolio 1.
func allocProfit(a alloc) string   { return a.profit }
func allocDist(a alloc) string     { return a.distributable }
func allocTeam(a alloc) string     { return a.team_ }
func allocPlatform(a alloc) string { return a.platform }
func allocUser(a alloc) string     { return a.user_ }
func inP1(a alloc) bool            { return a.portfolio == 1 }

// eqSums checks five totals — profit, distributed, to_team, to_platform,
// to_user — against the sums of the allocs keep keeps (nil: all).
func eqSums(t *testing.T, what string, got [5]decimal.Decimal, keep func(alloc) bool) {
	t.Helper()
	for i, c := range []struct {
		name   string
		amount func(alloc) string
	}{{"profit", allocProfit}, {"distributed", allocDist}, {"to_team", allocTeam}, {"to_platform", allocPlatform}, {"to_user", allocUser}} {
		eq(t, what+" "+c.name, got[i], sum(c.amount, keep))
	}
}

// checkOverview: the overview's sums of allocs, its counts, and
// last_event_at at least lastEvent.
func checkOverview(t *testing.T, f *fixture, lastEvent time.Time) {
	o, err := f.store.Overview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	eqSums(t, "overview", [5]decimal.Decimal{o.In("USD").TotalProfit, o.In("USD").TotalDistributed, o.In("USD").ToTeam, o.In("USD").ToPlatform, o.In("USD").ToUser}, nil)
	if o.Counts != (stats.Counts{Portfolios: 2, Allocations: 4}) {
		t.Errorf("counts = %+v", o.Counts)
	}
	if got := money.Format(o.In("USD").TotalProfit); got != "1000000000150.12345681" {
		t.Errorf("total_profit formats as %s", got)
	}
	if o.LastEventAt == nil || o.LastEventAt.Before(lastEvent) {
		t.Errorf("last_event_at = %v, want >= %v", o.LastEventAt, lastEvent)
	}
}

// checkPortfolioTotals: portfolio 1's totals are the sums of its allocs;
// an unknown portfolio's are zeros.
func checkPortfolioTotals(t *testing.T, f *fixture) {
	ctx := context.Background()
	p, err := f.store.PortfolioTotals(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	eqSums(t, "portfolio 1", [5]decimal.Decimal{p.AccProfit, p.Distributed, p.ToTeam, p.ToPlatform, p.ToUser}, inP1)
	if p.UpdatedAt == nil {
		t.Error("p1 updated_at is null")
	}
	if z, _ := f.store.PortfolioTotals(ctx, 99); !z.AccProfit.IsZero() || z.UpdatedAt != nil {
		t.Errorf("unknown portfolio = %+v, want zeros", z)
	}
}

// checkHourly: user 7 has two allocations in hour 10 and one on day 2;
// the platform gets a credit from every allocation; a range takes from
// down to its hour and excludes to.
func checkHourly(t *testing.T, f *fixture) {
	ctx := context.Background()
	hours, _, err := f.store.Hourly(ctx, stats.Owner{Type: auth.OwnerUser, ID: 7}, "", stats.Range{}, everything)
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 2 || !hours[0].Hour.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) ||
		!hours[1].Hour.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("user 7 hours = %+v", hours)
	}
	eq(t, "user 7 hour 10", hours[0].Profit, d("70.00000002"))
	eq(t, "user 7 day 2", hours[1].Profit, d("21.08641974"))
	platformHours, _, _ := f.store.Hourly(ctx, stats.Owner{Type: auth.OwnerPlatform}, "", stats.Range{}, everything)
	total := decimal.Zero
	for _, h := range platformHours {
		total = total.Add(h.Profit)
	}
	eq(t, "platform hourly total", total, sum(allocPlatform, nil))
	from, to := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	ranged, _, _ := f.store.Hourly(ctx, stats.Owner{Type: auth.OwnerTeam, ID: 3}, "", stats.Range{From: &from, To: &to}, everything)
	if len(ranged) != 2 { // hours 10 (from is taken down to its hour) and 11; to is exclusive
		t.Fatalf("team 3 hours in range = %+v", ranged)
	}
}

// checkSummary: every dimension of the summary against the sums of allocs.
func checkSummary(t *testing.T, f *fixture) {
	rows := func(groupBy string, r stats.Range) map[string]stats.SummaryRow {
		t.Helper()
		rs, _, err := f.store.Summary(context.Background(), groupBy, "", r, everything)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]stats.SummaryRow{}
		for _, r := range rs {
			m[r.Key] = r
		}
		return m
	}
	byPortfolio := rows(stats.GroupPortfolio, stats.Range{})
	eq(t, "summary portfolio 1 profit", byPortfolio["1"].Profit, sum(allocProfit, inP1))
	eq(t, "summary portfolio 2 to_user", byPortfolio["2"].ToUser, d("700000000000.00000000"))
	byTeam := rows(stats.GroupTeam, stats.Range{})
	eq(t, "summary team 3 distributed", byTeam["3"].Distributed, sum(allocDist, nil))
	byUser := rows(stats.GroupUser, stats.Range{})
	eq(t, "summary user 7 to_platform", byUser["7"].ToPlatform, sum(allocPlatform, inP1))
	byDay := rows(stats.GroupDay, stats.Range{})
	if len(byDay) != 2 {
		t.Fatalf("days = %v", byDay)
	}
	eq(t, "summary 2026-03-02 profit", byDay["2026-03-02"].Profit, d("50.12345678"))
	from, to := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	byHour := rows(stats.GroupHour, stats.Range{From: &from, To: &to})
	if len(byHour) != 2 {
		t.Fatalf("hours = %v", byHour)
	}
	eq(t, "summary hour 10 profit", byHour["2026-03-01T10:00:00Z"].Profit, d("100.00000004"))
}

func withdrawal(t *testing.T, eventType string, id int64, fromType string, ownerID int64, amount string) eventbus.Envelope {
	status := map[string]string{eventbus.TypeWithdrawalRequested: "pending", eventbus.TypeWithdrawalCompleted: "completed",
		eventbus.TypeWithdrawalFailed: "failed"}[eventType]
	account := "platform"
	if fromType != "platform" {
		account = fmt.Sprintf("%s:%d", fromType, ownerID)
	}
	var reason any
	if status == "failed" {
		reason = "cancelled"
	}
	return envelope(t, eventType, fmt.Sprintf("withdrawal/%d", id), map[string]any{
		"withdrawal_id": id, "from_type": fromType, "owner_id": ownerID, "account": account,
		"amount": amount, "status": status, "reason": reason})
}

// TestWithdrawalTransitionsMoveOnce checks that each withdrawal's amount
// is in exactly one status total whatever the order and repetition of its
// events, and that reallocations count once.
func TestWithdrawalTransitionsMoveOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	req1 := withdrawal(t, eventbus.TypeWithdrawalRequested, 1, "user", 7, "100.50000001")
	done1 := withdrawal(t, eventbus.TypeWithdrawalCompleted, 1, "user", 7, "100.50000001")
	f.deliver(req1, req1)
	f.deliver(withdrawal(t, eventbus.TypeWithdrawalRequested, 1, "user", 7, "100.50000001")) // new event id, same withdrawal
	check := func(when string, pending, completed, failed string, n int64) {
		t.Helper()
		o, err := f.store.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, when+": pending", o.In("USD").WithdrawalsPending, d(pending))
		eq(t, when+": completed", o.In("USD").WithdrawalsCompleted, d(completed))
		eq(t, when+": failed", o.In("USD").WithdrawalsFailed, d(failed))
		if o.Counts.Withdrawals != n {
			t.Errorf("%s: withdrawals = %d, want %d", when, o.Counts.Withdrawals, n)
		}
	}
	check("requested", "100.50000001", "0", "0", 1)
	f.deliver(done1, done1, withdrawal(t, eventbus.TypeWithdrawalCompleted, 1, "user", 7, "100.50000001"))
	check("completed", "0", "100.50000001", "0", 1)
	f.deliver(withdrawal(t, eventbus.TypeWithdrawalFailed, 1, "user", 7, "100.50000001"))
	check("failed after completed", "0", "100.50000001", "0", 1)

	// Out of order: the outcome before the request.
	f.deliver(withdrawal(t, eventbus.TypeWithdrawalFailed, 2, "team", 3, "20.00000000"))
	f.deliver(withdrawal(t, eventbus.TypeWithdrawalRequested, 2, "team", 3, "20.00000000"))
	check("failed before requested", "0", "100.50000001", "20", 2)

	f.deliver(withdrawal(t, eventbus.TypeWithdrawalRequested, 3, "platform", 0, "0.00000001"))
	f.deliver(withdrawal(t, eventbus.TypeWithdrawalRequested, 4, "team", 3, "5.00000000"))
	f.deliver(withdrawal(t, eventbus.TypeWithdrawalCompleted, 4, "team", 3, "5.00000000"))
	check("more", "0.00000001", "105.50000001", "20", 4)

	var counts = map[string]int64{}
	rows, _ := f.Pool.Query(ctx, `SELECT status, count FROM withdrawals_by_status`)
	for rows.Next() {
		var s string
		var n int64
		_ = rows.Scan(&s, &n)
		counts[s] = n
	}
	if counts["pending"] != 1 || counts["completed"] != 2 || counts["failed"] != 1 {
		t.Errorf("counts by status = %v", counts)
	}

	// Completed withdrawals are the summary's withdrawn, under the owner.
	users, _, _ := f.store.Summary(ctx, stats.GroupUser, "", stats.Range{}, everything)
	if len(users) != 1 || users[0].Key != "7" || !users[0].Withdrawn.Equal(d("100.50000001")) {
		t.Errorf("summary by user = %+v", users)
	}
	teams, _, _ := f.store.Summary(ctx, stats.GroupTeam, "", stats.Range{}, everything)
	if len(teams) != 1 || teams[0].Key != "3" || !teams[0].Withdrawn.Equal(d("5")) {
		t.Errorf("summary by team = %+v", teams)
	}
	days, _, _ := f.store.Summary(ctx, stats.GroupDay, "", stats.Range{}, everything)
	if len(days) != 1 || !days[0].Withdrawn.Equal(d("105.50000001")) {
		t.Errorf("summary by day = %+v", days)
	}

	re := func(id int64, amount string) eventbus.Envelope {
		return envelope(t, eventbus.TypeFundsReallocated, fmt.Sprintf("reallocation/%d", id), map[string]any{
			"reallocation_id": id, "from_account": "platform", "to_account": "team:3", "amount": amount, "reason": "bonus"})
	}
	r1 := re(1, "10.00000001")
	f.deliver(r1, r1, re(2, "0.99999999"), re(1, "10.00000001"))
	o, _ := f.store.Overview(ctx)
	eq(t, "reallocated_total", o.In("USD").Reallocated, d("11"))
	if o.Counts.Reallocations != 2 {
		t.Errorf("reallocations = %d, want 2", o.Counts.Reallocations)
	}
}

// TestLossCarryForward follows the allocation rule carry = max(0, carry − p)
// (docs/api.md#allocation-rule) over the NAV profits and the allocated
// manual profits stats sees (docs/api.md#stats-service).
func TestLossCarryForward(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	recorded := func(portfolio, snapshot int64, profit string) eventbus.Envelope {
		return envelope(t, eventbus.TypePortfolioProfitRecorded, fmt.Sprintf("portfolio/%d", portfolio), map[string]any{
			"portfolio_id": portfolio, "snapshot_id": snapshot, "user_id": 7, "team_id": 3,
			"as_of": "2026-03-01T00:00:00Z", "period_end": "2026-03-01T00:00:00Z",
			"profit": profit, "nav": "1000.00000000", "prev_nav": "1000.00000000", "net_flow": "0.00000000"})
	}
	carry := func(want string) {
		t.Helper()
		o, err := f.store.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "loss_carryforward_total", o.In("USD").LossCarryforward, d(want))
	}
	loss := recorded(1, 1, "-100.00000001")
	f.deliver(loss, loss, recorded(1, 1, "-100.00000001")) // redelivered, and the same snapshot under a new event id
	carry("100.00000001")
	f.deliver(recorded(1, 2, "30.00000000"), recorded(2, 3, "-5.00000000"))
	carry("75.00000001")
	f.deliver(alloc{9, 1, 7, 3, "manual", "2026-03-02T00:00:00Z", "80.00000000", "9.99999999", "1.00000000", "1.99999999", "7.00000000"}.envelope(t))
	carry("5")
	f.deliver(recorded(2, 4, "7.00000000"))
	carry("0")
	// A NAV profit's allocation does not move the carry again.
	f.deliver(alloc{10, 2, 7, 3, "nav", "2026-03-02T00:00:00Z", "7.00000000", "2.00000000", "0.00000000", "2.00000000", "0.00000000"}.envelope(t))
	carry("0")
}

// TestBadEventIsPermanent: an event that breaks its schema can never be
// applied, so it is dead-lettered at once; an unknown type is passed over.
func TestBadEventIsPermanent(t *testing.T) {
	f := newFixture(t)
	env := portfolioCreated(t, 1, 7, 3)
	env.Data = json.RawMessage(`{"portfolio_id": 1}`)
	if err := f.apply(env); !inbox.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
	env.Type = "portfolio.archived"
	if err := f.apply(env); err != nil {
		t.Fatalf("unknown type: %v", err)
	}
	if ts, _ := f.store.LastEventAt(context.Background()); ts != nil {
		t.Errorf("last_event_at = %v after no applied event", ts)
	}
}

// everything is a page that holds every row of these small tests.
var everything = httpx.Pagination{Limit: 1000}

// outcome is a profit.outcome_recorded: a manual profit or loss that
// distributed nothing, with the carry-forward before and after it.
func outcome(t *testing.T, id, portfolio int64, periodEnd, profit, before, after string) eventbus.Envelope {
	return envelope(t, eventbus.TypeProfitOutcomeRecorded, fmt.Sprintf("portfolio/%d", portfolio), map[string]any{
		"allocation_id": id, "portfolio_id": portfolio, "source": "manual", "status": "no_distribution",
		"period_end": periodEnd, "profit_amount": profit, "loss_carryforward_before": before,
		"loss_carryforward_after": after, "user_id": 7, "team_id": 3})
}

// TestManualOutcomesReachStats: a manual loss and a manual profit absorbed
// by the carry-forward (profit.outcome_recorded), then a manual profit
// that waited for a ratio and was allocated (profit.allocated), move the
// portfolio's accumulated profit and carry-forward as the profit service
// moved them; a redelivery, or the same allocation under a new event id,
// counts once, and an outcome is not counted as an allocation.
func TestManualOutcomesReachStats(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	check := func(accProfit, carry string, allocations int64) {
		t.Helper()
		p, err := f.store.PortfolioTotals(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "acc_profit", p.AccProfit, d(accProfit))
		eq(t, "portfolio loss_carryforward", p.LossCarryforward, d(carry))
		o, err := f.store.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "total_profit", o.In("USD").TotalProfit, d(accProfit))
		eq(t, "loss_carryforward_total", o.In("USD").LossCarryforward, d(carry))
		if o.Counts.Allocations != allocations {
			t.Errorf("allocations = %d, want %d", o.Counts.Allocations, allocations)
		}
	}
	f.deliver(portfolioCreated(t, 1, 7, 3))
	loss := outcome(t, 1, 1, "2026-03-01T10:00:00Z", "-50.00000001", "0.00000000", "50.00000001")
	f.deliver(loss, loss, outcome(t, 1, 1, "2026-03-01T10:00:00Z", "-50.00000001", "0.00000000", "50.00000001"))
	check("-50.00000001", "50.00000001", 0)
	f.deliver(outcome(t, 2, 1, "2026-03-01T11:00:00Z", "20.00000000", "50.00000001", "30.00000001"))
	check("-30.00000001", "30.00000001", 0)
	f.deliver(alloc{3, 1, 7, 3, "manual", "2026-03-01T12:00:00Z", "100.00000000", "69.99999999", "14.00000000", "6.99999999", "49.00000000"}.envelope(t))
	check("69.99999999", "0", 1)
	rows, _, err := f.store.Summary(ctx, stats.GroupPortfolio, "", stats.Range{}, everything)
	if err != nil || len(rows) != 1 {
		t.Fatalf("summary by portfolio: %+v, %v", rows, err)
	}
	eq(t, "summary profit", rows[0].Profit, d("69.99999999"))
	eq(t, "summary distributed", rows[0].Distributed, d("69.99999999"))
}
