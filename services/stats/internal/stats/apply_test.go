package stats_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/services/stats/internal/stats"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// at10 is 2026-03-01 10:00 UTC plus m minutes.
func at10(m int) time.Time { return time.Date(2026, 3, 1, 10, m, 0, 0, time.UTC) }

const (
	h10 = "2026-03-01T10:00:00Z"
	h11 = "2026-03-01T11:00:00Z"
)

// cur is a currency as dump writes it: nothing for USD, "/JPY" for JPY.
func cur(c string) string {
	if c == "USD" {
		return ""
	}
	return "/" + c
}

// dump is a run's additions as sorted lines, leaving out zero amounts and
// counts, so that a case lists only what an event adds. Amounts in USD are
// written as they were before currencies (the overview's on its line with
// the counts, its withdrawal amounts only in the status lines); those of
// another currency name it.
func dump(a *stats.Additions) []string {
	var out []string
	add := func(prefix string, fields ...any) {
		var parts []string
		for i := 0; i < len(fields); i += 2 {
			switch v := fields[i+1].(type) {
			case decimal.Decimal:
				if !v.IsZero() {
					parts = append(parts, fmt.Sprintf("%s=%s", fields[i], v))
				}
			case int64:
				if v != 0 {
					parts = append(parts, fmt.Sprintf("%s=%d", fields[i], v))
				}
			case time.Time:
				if !v.IsZero() {
					parts = append(parts, fmt.Sprintf("%s=%s", fields[i], v.UTC().Format(time.RFC3339)))
				}
			}
		}
		out = append(out, strings.TrimSpace(prefix+" "+strings.Join(parts, " ")))
	}
	o := a.Overview
	usd := stats.CurrencyAdds{}
	if c := a.Currencies["USD"]; c != nil {
		usd = *c
	}
	if o != (stats.OverviewAdds{}) || usd != (stats.CurrencyAdds{Pending: usd.Pending, Completed: usd.Completed, Failed: usd.Failed}) {
		add("overview", "profit", usd.Profit, "distributed", usd.Distributed, "team", usd.ToTeam, "platform", usd.ToPlatform,
			"user", usd.ToUser, "carry", usd.LossCarry, "reallocated", usd.Reallocated, "portfolios", o.Portfolios,
			"allocations", o.Allocations, "withdrawals", o.Withdrawals, "reallocations", o.Reallocations,
			"recorded", o.ProfitsRecorded, "ratios", o.RatioChanges)
	}
	for c, m := range a.Currencies {
		if c != "USD" {
			add("overview"+cur(c), "profit", m.Profit, "distributed", m.Distributed, "team", m.ToTeam, "platform", m.ToPlatform,
				"user", m.ToUser, "carry", m.LossCarry, "reallocated", m.Reallocated, "pending", m.Pending,
				"completed", m.Completed, "failed", m.Failed)
		}
	}
	for id, t := range a.Totals {
		add(fmt.Sprintf("totals %d%s", id, cur(t.Currency)), "acc", t.AccProfit, "distributed", t.Distributed, "team", t.ToTeam,
			"platform", t.ToPlatform, "user", t.ToUser, "at", t.UpdatedAt)
	}
	for k, v := range a.Hourly {
		add(fmt.Sprintf("hourly %s/%d%s@%s", k.OwnerType, k.OwnerID, cur(k.Currency), time.Unix(k.Hour, 0).UTC().Format(time.RFC3339)), "", v)
	}
	out = append(out, dumpSummary("summary", a.Summary)...)
	for s, v := range a.ByStatus {
		add("status "+s, "amount", v.Amount, "count", v.Count)
	}
	for id, w := range a.Withdrawals {
		add(fmt.Sprintf("withdrawal %d%s %s", id, cur(w.Currency), w.Status), "amount", w.Amount)
	}
	for id, c := range a.Carry {
		out = append(out, fmt.Sprintf("carry %d %s", id, c))
	}
	slices.Sort(out)
	return out
}

func dumpSummary(what string, rows map[stats.SummaryKey]*stats.SummaryAdds) []string {
	var out []string
	for k, s := range rows {
		c := k.Currency
		if c != "" {
			c = cur(c)
		}
		line := fmt.Sprintf("%s %s/%s%s@%s", what, k.Dimension, k.Key, c, time.Unix(k.Bucket, 0).UTC().Format(time.RFC3339))
		for _, f := range []struct {
			name string
			v    decimal.Decimal
		}{{"profit", s.Profit}, {"distributed", s.Distributed}, {"team", s.ToTeam}, {"platform", s.ToPlatform},
			{"user", s.ToUser}, {"withdrawn", s.Withdrawn}} {
			if !f.v.IsZero() {
				line += fmt.Sprintf(" %s=%s", f.name, f.v)
			}
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

// prior is the state of the cases: portfolio 1 is new, allocations 1–3,
// snapshots (1, 1) and (1, 2), reallocation 1 are new; withdrawal 5 is
// pending at 1.5, 6 completed at 2; portfolio 1 carries 5 and 2 nothing.
func prior() stats.Prior {
	return stats.Prior{
		NewPortfolios:    map[int64]bool{1: true},
		NewAllocations:   map[int64]bool{1: true, 2: true, 3: true},
		NewReallocations: map[int64]bool{1: true},
		NewSnapshots:     map[stats.SnapshotKey]bool{{PortfolioID: 1, SnapshotID: 1}: true, {PortfolioID: 1, SnapshotID: 2}: true},
		Withdrawals: map[int64]stats.WithdrawalState{
			5: {Status: stats.StatusPending, Amount: dec("1.5"), Currency: "USD"}, 6: {Status: stats.StatusCompleted, Amount: dec("2"), Currency: "USD"}},
		Carry: map[int64]decimal.Decimal{1: dec("5"), 2: decimal.Zero},
	}
}

func recorded(snapshot int64, profit string) stats.Event {
	return stats.Event{Time: at10(5), ProfitRecorded: &stats.ProfitRecorded{PortfolioID: 1, SnapshotID: snapshot,
		UserID: 7, TeamID: 3, PeriodEnd: at10(30), Profit: dec(profit)}}
}

func allocation(id int64, manual bool, platform string) stats.Event {
	return stats.Event{Time: at10(20), Allocation: &stats.Allocation{AllocationID: id, PortfolioID: 1, UserID: 7, TeamID: 3,
		Manual: manual, PeriodEnd: at10(40), Profit: dec("10"), Distributable: dec("8"),
		ToTeam: dec("1.6"), ToPlatform: dec(platform), ToUser: dec("5.6")}}
}

func withdrawal(id int64, status, fromType string, owner int64, amount string) stats.Event {
	return stats.Event{Time: time.Date(2026, 3, 1, 11, 15, 0, 0, time.UTC), Withdrawal: &stats.Withdrawal{ID: id,
		FromType: fromType, OwnerID: owner, Amount: dec(amount), Status: status}}
}

func portfolio(id int64) stats.Event {
	return stats.Event{Time: at10(0), Portfolio: &stats.Owners{PortfolioID: id, UserID: 7, TeamID: 3}}
}

func reallocation(id int64, amount string) stats.Event {
	return stats.Event{Time: at10(0), Reallocation: &stats.Reallocation{ID: id, Amount: dec(amount)}}
}

// navAllocationAdds are what allocation(1, false, "0.8") adds.
var navAllocationAdds = []string{
	"hourly platform/0@" + h10 + " =0.8", "hourly team/3@" + h10 + " =1.6", "hourly user/7@" + h10 + " =5.6",
	"overview distributed=8 team=1.6 platform=0.8 user=5.6 allocations=1",
	"summary all/@" + h10 + " distributed=8 team=1.6 platform=0.8 user=5.6",
	"summary portfolio/1@" + h10 + " distributed=8 team=1.6 platform=0.8 user=5.6",
	"summary team/3@" + h10 + " distributed=8 team=1.6 platform=0.8 user=5.6",
	"summary user/7@" + h10 + " distributed=8 team=1.6 platform=0.8 user=5.6",
	"totals 1 distributed=8 team=1.6 platform=0.8 user=5.6 at=2026-03-01T10:20:00Z",
}

var eventCases = []struct {
	name   string
	events []stats.Event
	want   []string
}{
	{"portfolio.created of a new portfolio is counted and listed", []stats.Event{portfolio(1)},
		[]string{"overview portfolios=1", "totals 1"}},
	{"portfolio.updated of a known portfolio is only listed", []stats.Event{portfolio(2)}, []string{"totals 2"}},
	{"a NAV profit counts as profit and lowers the carry-forward", []stats.Event{recorded(1, "2")}, []string{
		"carry 1 3", "overview profit=2 carry=-2 recorded=1",
		"summary all/@" + h10 + " profit=2", "summary portfolio/1@" + h10 + " profit=2",
		"summary team/3@" + h10 + " profit=2", "summary user/7@" + h10 + " profit=2",
		"totals 1 acc=2 at=2026-03-01T10:05:00Z"}},
	{"a NAV loss raises the carry-forward", []stats.Event{recorded(2, "-4")}, []string{
		"carry 1 9", "overview profit=-4 carry=4 recorded=1",
		"summary all/@" + h10 + " profit=-4", "summary portfolio/1@" + h10 + " profit=-4",
		"summary team/3@" + h10 + " profit=-4", "summary user/7@" + h10 + " profit=-4",
		"totals 1 acc=-4 at=2026-03-01T10:05:00Z"}},
	{"a snapshot seen before adds nothing", []stats.Event{recorded(9, "2")}, nil},
	{"a NAV allocation brings the money, not the profit", []stats.Event{allocation(1, false, "0.8")}, navAllocationAdds},
	{"a manual allocation also counts as profit and moves the carry-forward", []stats.Event{allocation(1, true, "0.8")}, []string{
		"carry 1 0",
		"hourly platform/0@" + h10 + " =0.8", "hourly team/3@" + h10 + " =1.6", "hourly user/7@" + h10 + " =5.6",
		"overview profit=10 distributed=8 team=1.6 platform=0.8 user=5.6 carry=-5 allocations=1",
		"summary all/@" + h10 + " profit=10 distributed=8 team=1.6 platform=0.8 user=5.6",
		"summary portfolio/1@" + h10 + " profit=10 distributed=8 team=1.6 platform=0.8 user=5.6",
		"summary team/3@" + h10 + " profit=10 distributed=8 team=1.6 platform=0.8 user=5.6",
		"summary user/7@" + h10 + " profit=10 distributed=8 team=1.6 platform=0.8 user=5.6",
		"totals 1 acc=10 distributed=8 team=1.6 platform=0.8 user=5.6 at=2026-03-01T10:20:00Z"}},
	{"a zero share adds no hourly credit", []stats.Event{allocation(1, false, "0")}, []string{
		"hourly team/3@" + h10 + " =1.6", "hourly user/7@" + h10 + " =5.6",
		"overview distributed=8 team=1.6 user=5.6 allocations=1",
		"summary all/@" + h10 + " distributed=8 team=1.6 user=5.6",
		"summary portfolio/1@" + h10 + " distributed=8 team=1.6 user=5.6",
		"summary team/3@" + h10 + " distributed=8 team=1.6 user=5.6",
		"summary user/7@" + h10 + " distributed=8 team=1.6 user=5.6",
		"totals 1 distributed=8 team=1.6 user=5.6 at=2026-03-01T10:20:00Z"}},
	{"an allocation seen before adds nothing", []stats.Event{allocation(9, true, "0.8")}, nil},
	{"profit.ratio_changed is counted", []stats.Event{{Time: at10(0), RatioChanged: true}}, []string{"overview ratios=1"}},
	{"a new withdrawal request is pending", []stats.Event{withdrawal(1, stats.StatusPending, auth.OwnerUser, 7, "3")}, []string{
		"overview withdrawals=1", "status pending amount=3 count=1", "withdrawal 1 pending amount=3"}},
	{"a pending withdrawal completed moves its recorded amount", []stats.Event{withdrawal(5, stats.StatusCompleted, auth.OwnerUser, 7, "1.5")}, []string{
		"status completed amount=1.5 count=1", "status pending amount=-1.5 count=-1", "summary all/@" + h11 + " withdrawn=1.5",
		"summary user/7@" + h11 + " withdrawn=1.5", "withdrawal 5 completed amount=1.5"}},
	{"a team's completed withdrawal goes to its team", []stats.Event{withdrawal(5, stats.StatusCompleted, auth.OwnerTeam, 3, "1.5")}, []string{
		"status completed amount=1.5 count=1", "status pending amount=-1.5 count=-1", "summary all/@" + h11 + " withdrawn=1.5",
		"summary team/3@" + h11 + " withdrawn=1.5", "withdrawal 5 completed amount=1.5"}},
	{"a pending withdrawal failed moves its amount, withdraws nothing", []stats.Event{withdrawal(5, stats.StatusFailed, auth.OwnerUser, 7, "1.5")}, []string{
		"status failed amount=1.5 count=1", "status pending amount=-1.5 count=-1", "withdrawal 5 failed amount=1.5"}},
	{"an outcome seen first is counted in its status", []stats.Event{withdrawal(1, stats.StatusCompleted, auth.OwnerPlatform, 0, "4")}, []string{
		"overview withdrawals=1", "status completed amount=4 count=1", "summary all/@" + h11 + " withdrawn=4",
		"withdrawal 1 completed amount=4"}},
	{"a request after the outcome changes nothing", []stats.Event{withdrawal(6, stats.StatusPending, auth.OwnerUser, 7, "2")}, nil},
	{"the other outcome after an outcome changes nothing", []stats.Event{withdrawal(6, stats.StatusFailed, auth.OwnerUser, 7, "2")}, nil},
	{"a new reallocation is counted", []stats.Event{reallocation(1, "7.25")}, []string{"overview reallocated=7.25 reallocations=1"}},
	{"a reallocation seen before adds nothing", []stats.Event{reallocation(2, "7.25")}, nil},
}

func TestAccumulateEachEventType(t *testing.T) {
	for _, c := range eventCases {
		t.Run(c.name, func(t *testing.T) {
			adds, err := stats.Accumulate(prior(), c.events)
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(adds); !slices.Equal(got, c.want) {
				t.Errorf("additions:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

var runCases = []struct {
	name   string
	events []stats.Event
	want   []string
}{
	{"two allocations to one portfolio and hour add up", []stats.Event{allocation(1, false, "0.8"), allocation(2, false, "0.2")}, []string{
		"hourly platform/0@" + h10 + " =1", "hourly team/3@" + h10 + " =3.2", "hourly user/7@" + h10 + " =11.2",
		"overview distributed=16 team=3.2 platform=1 user=11.2 allocations=2",
		"summary all/@" + h10 + " distributed=16 team=3.2 platform=1 user=11.2",
		"summary portfolio/1@" + h10 + " distributed=16 team=3.2 platform=1 user=11.2",
		"summary team/3@" + h10 + " distributed=16 team=3.2 platform=1 user=11.2",
		"summary user/7@" + h10 + " distributed=16 team=3.2 platform=1 user=11.2",
		"totals 1 distributed=16 team=3.2 platform=1 user=11.2 at=2026-03-01T10:20:00Z"}},
	{"the same allocation twice in a run counts once", []stats.Event{allocation(1, false, "0.8"), allocation(1, false, "0.8")}, navAllocationAdds},
	{"carry-forwards move in order: a loss, then a profit", []stats.Event{recorded(1, "-1"), recorded(2, "8")}, []string{
		"carry 1 0", "overview profit=7 carry=-5 recorded=2",
		"summary all/@" + h10 + " profit=7", "summary portfolio/1@" + h10 + " profit=7",
		"summary team/3@" + h10 + " profit=7", "summary user/7@" + h10 + " profit=7",
		"totals 1 acc=7 at=2026-03-01T10:05:00Z"}},
	{"the same snapshot twice in a run counts once", []stats.Event{recorded(1, "2"), recorded(1, "2")}, []string{
		"carry 1 3", "overview profit=2 carry=-2 recorded=1",
		"summary all/@" + h10 + " profit=2", "summary portfolio/1@" + h10 + " profit=2",
		"summary team/3@" + h10 + " profit=2", "summary user/7@" + h10 + " profit=2",
		"totals 1 acc=2 at=2026-03-01T10:05:00Z"}},
	{"the same reallocation twice in a run counts once", []stats.Event{reallocation(1, "1"), reallocation(1, "1")},
		[]string{"overview reallocated=1 reallocations=1"}},
	{"a new portfolio created then updated counts once", []stats.Event{portfolio(1), portfolio(1)},
		[]string{"overview portfolios=1", "totals 1"}},
	{"a request repeated in a run counts once", []stats.Event{
		withdrawal(1, stats.StatusPending, auth.OwnerUser, 7, "3"), withdrawal(1, stats.StatusPending, auth.OwnerUser, 7, "3")}, []string{
		"overview withdrawals=1", "status pending amount=3 count=1", "withdrawal 1 pending amount=3"}},
	{"a request and its outcome in one run move once", []stats.Event{
		withdrawal(1, stats.StatusPending, auth.OwnerUser, 7, "3"), withdrawal(1, stats.StatusCompleted, auth.OwnerUser, 7, "3"),
		withdrawal(1, stats.StatusCompleted, auth.OwnerUser, 7, "3"), withdrawal(1, stats.StatusFailed, auth.OwnerUser, 7, "3")}, []string{
		"overview withdrawals=1", "status completed amount=3 count=1", "status pending",
		"summary all/@" + h11 + " withdrawn=3", "summary user/7@" + h11 + " withdrawn=3", "withdrawal 1 completed amount=3"}},
	{"completions of withdrawals add up in the summary hour", []stats.Event{
		withdrawal(5, stats.StatusCompleted, auth.OwnerUser, 7, "1.5"), withdrawal(1, stats.StatusCompleted, auth.OwnerUser, 7, "2.5")}, []string{
		"overview withdrawals=1", "status completed amount=4 count=2", "status pending amount=-1.5 count=-1",
		"summary all/@" + h11 + " withdrawn=4", "summary user/7@" + h11 + " withdrawn=4",
		"withdrawal 1 completed amount=2.5", "withdrawal 5 completed amount=1.5"}},
}

func TestAccumulateRuns(t *testing.T) {
	for _, c := range runCases {
		t.Run(c.name, func(t *testing.T) {
			p := prior()
			adds, err := stats.Accumulate(p, c.events)
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(adds); !slices.Equal(got, c.want) {
				t.Errorf("additions:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			// The prior is the store's: deciding leaves it as it was.
			if fresh := prior(); len(p.NewAllocations) != len(fresh.NewAllocations) || len(p.NewSnapshots) != len(fresh.NewSnapshots) ||
				len(p.NewReallocations) != len(fresh.NewReallocations) || len(p.NewPortfolios) != len(fresh.NewPortfolios) ||
				!p.Carry[1].Equal(fresh.Carry[1]) || p.Withdrawals[5].Status != stats.StatusPending || !p.Withdrawals[5].Amount.Equal(dec("1.5")) {
				t.Errorf("Accumulate changed the prior: %+v", p)
			}
		})
	}
}

func TestAccumulateNeedsTheCarryForward(t *testing.T) {
	p := prior()
	delete(p.Carry, 1)
	if _, err := stats.Accumulate(p, []stats.Event{recorded(1, "2")}); err == nil {
		t.Error("a NAV profit of a portfolio whose carry-forward was not read was accumulated")
	}
	if adds, err := stats.Accumulate(p, []stats.Event{allocation(1, false, "1")}); err != nil || len(adds.Carry) != 0 {
		t.Errorf("a NAV allocation needs no carry-forward: %v, %v", adds, err)
	}
}

func TestNeedsOf(t *testing.T) {
	updated := portfolio(1)
	updated.Portfolio = &stats.Owners{PortfolioID: 1, UserID: 8, TeamID: 4}
	events := []stats.Event{portfolio(2), portfolio(1), updated, recorded(1, "1"), allocation(3, false, "0"), allocation(2, true, "0"),
		withdrawal(6, stats.StatusPending, auth.OwnerUser, 7, "1"), withdrawal(5, stats.StatusPending, auth.OwnerUser, 7, "1"),
		reallocation(4, "1"), {RatioChanged: true}}
	n := stats.NeedsOf(events)
	want := stats.Needs{
		Owners:        []stats.Owners{{PortfolioID: 1, UserID: 8, TeamID: 4}, {PortfolioID: 2, UserID: 7, TeamID: 3}},
		AllocationIDs: []int64{3, 2}, ReallocationIDs: []int64{4}, WithdrawalIDs: []int64{6, 5}, AllocationKeys: []string{"", ""},
		Snapshots: []stats.SnapshotKey{{PortfolioID: 1, SnapshotID: 1}}, Currencies: []int64{1},
	}
	if fmt.Sprint(n) != fmt.Sprint(want) {
		t.Errorf("NeedsOf = %+v, want %+v", n, want)
	}
}

// TestAccumulateCurrencies: every amount goes to its event's currency; an
// event without one to its portfolio's known currency (stored, or said by
// a portfolio event earlier in the run), else USD; a withdrawal's outcome
// moves its amount in the currency first recorded.
func TestAccumulateCurrencies(t *testing.T) {
	p := prior()
	p.Currencies = map[int64]string{1: "JPY"}
	eur := allocation(2, false, "0.8")
	eur.Allocation.Currency, eur.Allocation.PortfolioID = "EUR", 4
	created := portfolio(2)
	created.Portfolio.Currency = "CHF"
	legacy := allocation(3, false, "0.8")
	legacy.Allocation.PortfolioID = 2
	pending, done := withdrawal(1, stats.StatusPending, auth.OwnerTeam, 3, "3"), withdrawal(1, stats.StatusCompleted, auth.OwnerTeam, 3, "3")
	pending.Withdrawal.Currency = "JPY"
	moved := reallocation(1, "7")
	moved.Reallocation.Currency = "GBP"
	unknown := allocation(1, false, "0.1")
	unknown.Allocation.PortfolioID = 5
	unknown.Allocation.AllocationID = 1
	events := []stats.Event{recorded(1, "2"), eur, created, legacy, pending, done, moved, unknown}
	adds, err := stats.Accumulate(p, events)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"carry 1 3",
		"hourly platform/0/CHF@" + h10 + " =0.8", "hourly platform/0/EUR@" + h10 + " =0.8", "hourly platform/0@" + h10 + " =0.1",
		"hourly team/3/CHF@" + h10 + " =1.6", "hourly team/3/EUR@" + h10 + " =1.6", "hourly team/3@" + h10 + " =1.6",
		"hourly user/7/CHF@" + h10 + " =5.6", "hourly user/7/EUR@" + h10 + " =5.6", "hourly user/7@" + h10 + " =5.6",
		"overview distributed=8 team=1.6 platform=0.1 user=5.6 allocations=3 withdrawals=1 reallocations=1 recorded=1",
		"overview/CHF distributed=8 team=1.6 platform=0.8 user=5.6",
		"overview/EUR distributed=8 team=1.6 platform=0.8 user=5.6",
		"overview/GBP reallocated=7",
		"overview/JPY profit=2 carry=-2 completed=3",
		"status completed amount=3 count=1", "status pending",
	}
	for _, s := range []string{"all/", "portfolio/1", "team/3", "user/7"} {
		want = append(want, "summary "+s+"/JPY@"+h10+" profit=2")
	}
	for _, s := range []string{"all/", "portfolio/4", "team/3", "user/7"} {
		want = append(want, "summary "+s+"/EUR@"+h10+" distributed=8 team=1.6 platform=0.8 user=5.6")
	}
	for _, s := range []string{"all/", "portfolio/2", "team/3", "user/7"} {
		want = append(want, "summary "+s+"/CHF@"+h10+" distributed=8 team=1.6 platform=0.8 user=5.6")
	}
	for _, s := range []string{"all/", "portfolio/5", "team/3", "user/7"} {
		want = append(want, "summary "+s+"@"+h10+" distributed=8 team=1.6 platform=0.1 user=5.6")
	}
	want = append(want, "summary all//JPY@"+h11+" withdrawn=3", "summary team/3/JPY@"+h11+" withdrawn=3",
		"totals 1/JPY acc=2 at=2026-03-01T10:05:00Z",
		"totals 4/EUR distributed=8 team=1.6 platform=0.8 user=5.6 at=2026-03-01T10:20:00Z",
		"totals 2/CHF distributed=8 team=1.6 platform=0.8 user=5.6 at=2026-03-01T10:20:00Z",
		"totals 5 distributed=8 team=1.6 platform=0.1 user=5.6 at=2026-03-01T10:20:00Z",
		"withdrawal 1/JPY completed amount=3")
	slices.Sort(want)
	if got := dump(adds); !slices.Equal(got, want) {
		t.Errorf("additions:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if len(adds.Currencies) != 5 || !adds.Currencies["USD"].Pending.IsZero() || !adds.Currencies["JPY"].Pending.IsZero() {
		t.Errorf("currencies = %v", adds.Currencies)
	}
}

func TestCarriesMoved(t *testing.T) {
	other := allocation(3, true, "0")
	other.Allocation.PortfolioID = 4
	events := []stats.Event{other, allocation(1, false, "0"), allocation(2, true, "0"), allocation(9, true, "0"),
		recorded(1, "1"), recorded(9, "1")}
	p := prior()
	got := stats.CarriesMoved(events, p.NewAllocations, p.NewSnapshots)
	// Portfolio 4's manual allocation 3 and portfolio 1's manual allocation
	// 2 and snapshot 1; not NAV allocations, nor ids seen before.
	if !slices.Equal(got, []int64{1, 4}) {
		t.Errorf("CarriesMoved = %v, want [1 4]", got)
	}
	if got := stats.CarriesMoved([]stats.Event{allocation(1, false, "0"), allocation(9, true, "0")}, p.NewAllocations, p.NewSnapshots); len(got) != 0 {
		t.Errorf("CarriesMoved = %v, want none", got)
	}
}

func TestRollups(t *testing.T) {
	late, early := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	hourly := map[stats.SummaryKey]*stats.SummaryAdds{
		{Dimension: "all", Bucket: late.Unix()}:                       {Profit: dec("1"), Withdrawn: dec("0.5")},
		{Dimension: "all", Bucket: late.Add(-time.Hour).Unix()}:       {Profit: dec("2")},
		{Dimension: "all", Bucket: early.Unix()}:                      {Profit: dec("4"), ToUser: dec("3")},
		{Dimension: "team", Key: "3", Bucket: early.Unix()}:           {Distributed: dec("8")},
		{Dimension: "team", Key: "3", Bucket: time.Unix(0, 0).Unix()}: {ToTeam: dec("0.1")},
	}
	daily, totals := stats.Rollups(hourly)
	want := []string{
		"daily all/@2026-03-01T00:00:00Z profit=3 withdrawn=0.5",
		"daily all/@2026-03-02T00:00:00Z profit=4 user=3",
		"daily team/3@1970-01-01T00:00:00Z team=0.1",
		"daily team/3@2026-03-02T00:00:00Z distributed=8",
	}
	if got := dumpSummary("daily", daily); !slices.Equal(got, want) {
		t.Errorf("daily:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	want = []string{"totals all/@1970-01-01T00:00:00Z profit=7 user=3 withdrawn=0.5",
		"totals team/3@1970-01-01T00:00:00Z distributed=8 team=0.1"}
	if got := dumpSummary("totals", totals); !slices.Equal(got, want) {
		t.Errorf("totals:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if !hourly[stats.SummaryKey{Dimension: "all", Bucket: late.Unix()}].Profit.Equal(dec("1")) {
		t.Error("Rollups changed the hourly additions")
	}
}

func TestLastTime(t *testing.T) {
	if got := stats.LastTime(nil); !got.IsZero() {
		t.Errorf("LastTime(none) = %v", got)
	}
	before := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
	events := []stats.Event{{Time: at10(5)}, {Time: at10(30)}, {Time: before}}
	if got := stats.LastTime(events); !got.Equal(at10(30)) {
		t.Errorf("LastTime = %v, want %v", got, at10(30))
	}
	if got := stats.LastTime(events[2:]); !got.Equal(before) {
		t.Errorf("LastTime = %v, want %v", got, before)
	}
}

// fakeRun is a RunStore that hands out prior() and keeps what it is given.
type fakeRun struct {
	loadErr error
	loaded  [][]stats.Event
	written []*stats.Additions
}

func (r *fakeRun) Load(_ context.Context, events []stats.Event) (stats.Prior, error) {
	r.loaded = append(r.loaded, events)
	return prior(), r.loadErr
}

func (r *fakeRun) Write(_ context.Context, adds *stats.Additions) error {
	r.written = append(r.written, adds)
	return nil
}

// The event handlers apply runs through the service: it loads the run's
// state, decides with Accumulate and writes what it decided; nothing is
// written when loading or deciding fails, nothing done for no events.
func TestServiceApply(t *testing.T) {
	ctx := context.Background()
	svc := stats.New(fakeStore{})
	events := []stats.Event{allocation(1, false, "0.8"), allocation(1, false, "0.8")}
	r := &fakeRun{}
	if err := svc.Apply(ctx, r, events); err != nil || len(r.loaded) != 1 || len(r.loaded[0]) != 2 || len(r.written) != 1 {
		t.Fatalf("Apply = %v; loaded %d runs, wrote %d", err, len(r.loaded), len(r.written))
	}
	if got := dump(r.written[0]); !slices.Equal(got, navAllocationAdds) {
		t.Errorf("written:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(navAllocationAdds, "\n  "))
	}
	r = &fakeRun{}
	if err := svc.Apply(ctx, r, nil); err != nil || len(r.loaded)+len(r.written) != 0 {
		t.Errorf("Apply of no events = %v, loaded %d, wrote %d", err, len(r.loaded), len(r.written))
	}
	failed := errors.New("locked out")
	r = &fakeRun{loadErr: failed}
	if err := svc.Apply(ctx, r, events); !errors.Is(err, failed) || len(r.written) != 0 {
		t.Errorf("Apply after a failed load = %v, wrote %d", err, len(r.written))
	}
	r = &fakeRun{}
	unloaded := allocation(2, true, "0.8")
	unloaded.Allocation.PortfolioID = 3 // a manual profit whose carry-forward was not loaded
	if err := svc.Apply(ctx, r, []stats.Event{allocation(1, false, "0.8"), unloaded}); err == nil || len(r.written) != 0 {
		t.Errorf("Apply of an undecidable run = %v, wrote %d", err, len(r.written))
	}
}
