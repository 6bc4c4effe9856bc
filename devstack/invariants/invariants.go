// Package invariants checks, through the edge of any running stack, the
// promises the platform makes about money once it is quiet:
//
//   - the ledger's postings sum to zero, each transfer on its own too, and
//     every account's hash chain verifies;
//   - every user, team and platform account has available >= 0, and
//     available = credited + reallocated_in − reallocated_out − held − withdrawn;
//   - every allocation the profit service made is credited exactly once, for
//     its exact shares, and nothing else is credited;
//   - per portfolio, the profit service's allocations, the ledger's credits
//     and the stats service's figures are equal, and so are the platform
//     totals;
//   - withdrawals by status, and reallocations, are the same in the
//     withdrawal service and in stats.
//
// Check reads everything with an admin's (or a viewer's) token and reports
// each invariant with the figures it compared. The stats are eventually
// consistent: run it on a quiet stack, or use Wait to retry until it holds.
package invariants

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"
)

// Result is one invariant checked.
type Result struct {
	Name string
	OK   bool
	// Detail says what was compared, or the first differences found.
	Detail string
}

// Figures are what the stack holds, as read during the check.
type Figures struct {
	Entries, Accounts, Portfolios, Allocations, Withdrawals, Reallocations int
	// Distributed is the total profit distributed (the profit service's
	// view); WithdrawnByStatus the withdrawal amounts per status.
	Distributed       decimal.Decimal
	WithdrawnByStatus map[string]decimal.Decimal
}

// Report is the outcome of one check.
type Report struct {
	Results []Result
	Figures Figures
}

// OK reports whether every invariant holds.
func (r Report) OK() bool {
	for _, res := range r.Results {
		if !res.OK {
			return false
		}
	}
	return len(r.Results) > 0
}

// Violations lists the invariants that do not hold.
func (r Report) Violations() []Result {
	var out []Result
	for _, res := range r.Results {
		if !res.OK {
			out = append(out, res)
		}
	}
	return out
}

// Print writes the report as a table.
func (r Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, res := range r.Results {
		state := "ok"
		if !res.OK {
			state = "VIOLATED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", state, res.Name, res.Detail)
	}
	_ = tw.Flush()
	f := r.Figures
	fmt.Fprintf(w, "figures: %d ledger entries, %d accounts, %d portfolios, %d allocations (%s distributed), %d withdrawals, %d reallocations\n",
		f.Entries, f.Accounts, f.Portfolios, f.Allocations, f.Distributed.StringFixed(8), f.Withdrawals, f.Reallocations)
}

// The records read, as the services answer them.
type (
	entry struct {
		TransferID int64           `json:"transfer_id"`
		Account    string          `json:"account"`
		Amount     decimal.Decimal `json:"amount"`
		Kind       string          `json:"kind"`
		RefType    string          `json:"ref_type"`
		RefID      int64           `json:"ref_id"`
	}
	// Balance is an account's balance as the withdrawal service answers
	// it (GET /api/v1/balances); the end-to-end tests read it too.
	Balance struct {
		OwnerType      string          `json:"owner_type"`
		OwnerID        int64           `json:"owner_id"`
		Credited       decimal.Decimal `json:"credited"`
		ReallocatedIn  decimal.Decimal `json:"reallocated_in"`
		ReallocatedOut decimal.Decimal `json:"reallocated_out"`
		Held           decimal.Decimal `json:"held"`
		Withdrawn      decimal.Decimal `json:"withdrawn"`
		Available      decimal.Decimal `json:"available"`
	}
	// Allocation is a profit allocation as the profit service answers it
	// (GET /api/v1/profit/allocations); the end-to-end tests read it too.
	Allocation struct {
		ID             int64           `json:"id"`
		PortfolioID    int64           `json:"portfolio_id"`
		Source         string          `json:"source"`
		SnapshotID     *int64          `json:"snapshot_id"`
		Status         string          `json:"status"`
		ProfitAmount   decimal.Decimal `json:"profit_amount"`
		Distributable  decimal.Decimal `json:"distributable"`
		ToTeam         decimal.Decimal `json:"to_team_amount"`
		ToPlatform     decimal.Decimal `json:"to_platform_amount"`
		ToUser         decimal.Decimal `json:"to_user_amount"`
		LossCarryAfter decimal.Decimal `json:"loss_carryforward_after"`
		UserID         int64           `json:"user_id"`
		TeamID         int64           `json:"team_id"`
	}
	accProfit struct {
		PortfolioID int64           `json:"portfolio_id"`
		AccProfit   decimal.Decimal `json:"acc_profit"`
		Distributed decimal.Decimal `json:"distributed"`
		ToTeam      decimal.Decimal `json:"to_team_total"`
		ToPlatform  decimal.Decimal `json:"to_platform_total"`
		ToUser      decimal.Decimal `json:"to_user_total"`
	}
	overview struct {
		TotalProfit        decimal.Decimal `json:"total_profit"`
		TotalDistributed   decimal.Decimal `json:"total_distributed"`
		ToTeamTotal        decimal.Decimal `json:"to_team_total"`
		ToPlatformTotal    decimal.Decimal `json:"to_platform_total"`
		ToUserTotal        decimal.Decimal `json:"to_user_total"`
		WithdrawnPending   decimal.Decimal `json:"withdrawals_pending_amount"`
		WithdrawnCompleted decimal.Decimal `json:"withdrawals_completed_amount"`
		WithdrawnFailed    decimal.Decimal `json:"withdrawals_failed_amount"`
		ReallocatedTotal   decimal.Decimal `json:"reallocated_total"`
		Counts             struct {
			Allocations   int64 `json:"allocations"`
			Withdrawals   int64 `json:"withdrawals"`
			Reallocations int64 `json:"reallocations"`
		} `json:"counts"`
	}
	withdrawal struct {
		ID     int64           `json:"id"`
		Amount decimal.Decimal `json:"amount"`
		Status string          `json:"status"`
	}
	reallocation struct {
		ID     int64           `json:"id"`
		Amount decimal.Decimal `json:"amount"`
	}
	verifyResult struct {
		OK              bool   `json:"ok"`
		Accounts        int64  `json:"accounts"`
		Entries         int64  `json:"entries"`
		FirstBadEntryID *int64 `json:"first_bad_entry_id"`
	}
)

// snapshot is everything a check reads.
type snapshot struct {
	entries       []entry
	verify        verifyResult
	balances      []Balance
	allocations   []Allocation
	accProfit     []accProfit
	overview      overview
	withdrawals   []withdrawal
	reallocations []reallocation
}

func read(ctx context.Context, c *Client) (*snapshot, error) {
	s := &snapshot{}
	var err error
	if s.entries, err = ListAll[entry](ctx, c, "/api/v1/ledger/entries", nil); err != nil {
		return nil, err
	}
	if _, err = c.Do(ctx, "GET", "/api/v1/ledger/verify", nil, &s.verify); err != nil {
		return nil, err
	}
	if s.balances, err = ListAll[Balance](ctx, c, "/api/v1/balances", nil); err != nil {
		return nil, err
	}
	if s.allocations, err = ListAll[Allocation](ctx, c, "/api/v1/profit/allocations", nil); err != nil {
		return nil, err
	}
	if s.accProfit, err = ListAll[accProfit](ctx, c, "/api/v1/stats/acc_profit", nil); err != nil {
		return nil, err
	}
	if _, err = c.Do(ctx, "GET", "/api/v1/stats/overview", nil, &s.overview); err != nil {
		return nil, err
	}
	if s.withdrawals, err = ListAll[withdrawal](ctx, c, "/api/v1/withdrawals", nil); err != nil {
		return nil, err
	}
	if s.reallocations, err = ListAll[reallocation](ctx, c, "/api/v1/reallocations", url.Values{}); err != nil {
		return nil, err
	}
	return s, nil
}

// Check reads the stack through c and checks every invariant once.
func Check(ctx context.Context, c *Client) (Report, error) {
	s, err := read(ctx, c)
	if err != nil {
		return Report{}, err
	}
	return s.check(), nil
}

// Wait checks until every invariant holds or timeout passes, and returns
// the last report. Stats lag behind the ledger by design: a violation is
// final only once the stack has been quiet for a while.
func Wait(ctx context.Context, c *Client, timeout time.Duration) (Report, error) {
	deadline := time.Now().Add(timeout)
	for {
		r, err := Check(ctx, c)
		if err == nil && r.OK() {
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, errors.Join(err, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// diffs collects the first differences of one invariant.
type diffs struct {
	n     int
	lines []string
}

func (d *diffs) addf(format string, args ...any) {
	d.n++
	if len(d.lines) < 5 {
		d.lines = append(d.lines, fmt.Sprintf(format, args...))
	}
}

func (d *diffs) result(name, okDetail string) Result {
	if d.n == 0 {
		return Result{Name: name, OK: true, Detail: okDetail}
	}
	detail := strings.Join(d.lines, "; ")
	if d.n > len(d.lines) {
		detail += fmt.Sprintf("; … %d differences in all", d.n)
	}
	return Result{Name: name, OK: false, Detail: detail}
}

func eq(a, b decimal.Decimal) bool { return a.Equal(b) }

// shares are the three beneficiaries' amounts of some profit.
type shares struct{ distributed, team, platform, user decimal.Decimal }

func (s shares) add(o shares) shares {
	return shares{s.distributed.Add(o.distributed), s.team.Add(o.team), s.platform.Add(o.platform), s.user.Add(o.user)}
}

func (s shares) equal(o shares) bool {
	return eq(s.distributed, o.distributed) && eq(s.team, o.team) && eq(s.platform, o.platform) && eq(s.user, o.user)
}

func (s shares) String() string {
	return fmt.Sprintf("distributed %s (team %s, platform %s, user %s)", s.distributed, s.team, s.platform, s.user)
}

func (s *snapshot) check() Report {
	var r Report
	r.Results = append(r.Results, s.checkLedgerSum(), s.checkVerify(), s.checkBalances())
	credits, res := s.checkCredits()
	r.Results = append(r.Results, res, s.checkPortfolios(credits), s.checkOverview(), s.checkWithdrawals(), s.checkReallocations())

	byStatus := map[string]decimal.Decimal{}
	for _, w := range s.withdrawals {
		byStatus[w.Status] = byStatus[w.Status].Add(w.Amount)
	}
	distributed := decimal.Zero
	portfolios := map[int64]bool{}
	for _, a := range s.allocations {
		distributed = distributed.Add(a.Distributable)
		portfolios[a.PortfolioID] = true
	}
	r.Figures = Figures{Entries: len(s.entries), Accounts: int(s.verify.Accounts), Portfolios: len(portfolios),
		Allocations: len(s.allocations), Withdrawals: len(s.withdrawals), Reallocations: len(s.reallocations),
		Distributed: distributed, WithdrawnByStatus: byStatus}
	return r
}

func (s *snapshot) checkLedgerSum() Result {
	var d diffs
	total := decimal.Zero
	transfers := map[int64]decimal.Decimal{}
	for _, e := range s.entries {
		total = total.Add(e.Amount)
		transfers[e.TransferID] = transfers[e.TransferID].Add(e.Amount)
	}
	if !total.IsZero() {
		d.addf("all postings sum to %s", total)
	}
	ids := make([]int64, 0, len(transfers))
	for id := range transfers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if !transfers[id].IsZero() {
			d.addf("transfer %d sums to %s", id, transfers[id])
		}
	}
	return d.result("ledger postings sum to zero", fmt.Sprintf("%d postings in %d transfers sum to 0", len(s.entries), len(transfers)))
}

func (s *snapshot) checkVerify() Result {
	v := s.verify
	if !v.OK {
		bad := "?"
		if v.FirstBadEntryID != nil {
			bad = fmt.Sprint(*v.FirstBadEntryID)
		}
		return Result{Name: "ledger hash chains verify", Detail: fmt.Sprintf("first bad entry %s", bad)}
	}
	return Result{Name: "ledger hash chains verify", OK: true, Detail: fmt.Sprintf("%d accounts, %d entries", v.Accounts, v.Entries)}
}

func (s *snapshot) checkBalances() Result {
	var d diffs
	for _, b := range s.balances {
		name := fmt.Sprintf("%s:%d", b.OwnerType, b.OwnerID)
		if b.Available.IsNegative() {
			d.addf("%s available %s < 0", name, b.Available)
		}
		want := b.Credited.Add(b.ReallocatedIn).Sub(b.ReallocatedOut).Sub(b.Held).Sub(b.Withdrawn)
		if !eq(want, b.Available) {
			d.addf("%s available %s != credited+in−out−held−withdrawn %s", name, b.Available, want)
		}
	}
	return d.result("every account's available >= 0", fmt.Sprintf("%d accounts", len(s.balances)))
}

// account names of the ledger, as the withdrawal service writes them.
func userAccount(id int64) string { return fmt.Sprintf("user:%d", id) }
func teamAccount(id int64) string { return fmt.Sprintf("team:%d", id) }

const (
	platformAccount = "platform"
	profitAccount   = "system:profit"
)

// checkCredits compares each allocation with its ledger credit and returns
// the ledger's credits per portfolio.
func (s *snapshot) checkCredits() (map[int64]shares, Result) {
	credits := map[int64]map[string]decimal.Decimal{} // allocation id → account → amount
	for _, e := range s.entries {
		if e.Kind != "profit_credit" {
			continue
		}
		if credits[e.RefID] == nil {
			credits[e.RefID] = map[string]decimal.Decimal{}
		}
		credits[e.RefID][e.Account] = credits[e.RefID][e.Account].Add(e.Amount)
	}
	var d diffs
	perPortfolio := map[int64]shares{}
	seen := map[int64]bool{}
	for _, a := range s.allocations {
		seen[a.ID] = true
		got := credits[a.ID]
		want := map[string]decimal.Decimal{}
		if a.Status == "allocated" && a.Distributable.IsPositive() {
			want[profitAccount] = a.Distributable.Neg()
			for acc, amt := range map[string]decimal.Decimal{userAccount(a.UserID): a.ToUser, teamAccount(a.TeamID): a.ToTeam, platformAccount: a.ToPlatform} {
				if amt.IsPositive() {
					want[acc] = want[acc].Add(amt)
				}
			}
		}
		if !sameAmounts(got, want) {
			d.addf("allocation %d (%s, distributable %s): ledger credits %v, want %v", a.ID, a.Status, a.Distributable, got, want)
			continue
		}
		p := perPortfolio[a.PortfolioID]
		perPortfolio[a.PortfolioID] = p.add(shares{got[userAccount(a.UserID)].Add(got[teamAccount(a.TeamID)]).Add(got[platformAccount]),
			got[teamAccount(a.TeamID)], got[platformAccount], got[userAccount(a.UserID)]})
	}
	for id, got := range credits {
		if !seen[id] {
			d.addf("ledger credits %v for allocation %d the profit service does not have", got, id)
		}
	}
	return perPortfolio, d.result("each allocation credited once, exactly", fmt.Sprintf("%d allocations, %d credited", len(s.allocations), len(credits)))
}

func sameAmounts(a, b map[string]decimal.Decimal) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !eq(v, w) {
			return false
		}
	}
	return true
}

// checkPortfolios compares, per portfolio, the profit service, the ledger
// (credits, from checkCredits) and stats.
func (s *snapshot) checkPortfolios(ledger map[int64]shares) Result {
	profit := map[int64]shares{}
	accProfits := map[int64]decimal.Decimal{}
	for _, a := range s.allocations {
		if a.Status == "allocated" {
			profit[a.PortfolioID] = profit[a.PortfolioID].add(shares{a.Distributable, a.ToTeam, a.ToPlatform, a.ToUser})
		}
		// Stats count every NAV profit (losses and waiting ones included)
		// and the manual profits that were allocated: no event announces
		// the others (docs/decisions.md).
		if a.Source == "nav" || a.Status == "allocated" {
			accProfits[a.PortfolioID] = accProfits[a.PortfolioID].Add(a.ProfitAmount)
		} else if _, ok := accProfits[a.PortfolioID]; !ok {
			accProfits[a.PortfolioID] = decimal.Zero
		}
	}
	stats := map[int64]accProfit{}
	for _, row := range s.accProfit {
		stats[row.PortfolioID] = row
	}
	ids := map[int64]bool{}
	for id := range accProfits {
		ids[id] = true
	}
	for id := range stats {
		ids[id] = true
	}
	sorted := make([]int64, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	var d diffs
	for _, id := range sorted {
		p, l := profit[id], ledger[id]
		st := stats[id]
		sst := shares{st.Distributed, st.ToTeam, st.ToPlatform, st.ToUser}
		if !p.equal(l) || !p.equal(sst) {
			d.addf("portfolio %d: profit service %s, ledger %s, stats %s", id, p, l, sst)
		}
		if !eq(accProfits[id], st.AccProfit) {
			d.addf("portfolio %d: acc_profit %s in stats, %s in the profit service", id, st.AccProfit, accProfits[id])
		}
	}
	return d.result("per portfolio: profit service == ledger == stats", fmt.Sprintf("%d portfolios", len(sorted)))
}

func (s *snapshot) checkOverview() Result {
	var d diffs
	total := shares{}
	profit := decimal.Zero
	allocated := int64(0)
	for _, a := range s.allocations {
		if a.Status == "allocated" {
			total = total.add(shares{a.Distributable, a.ToTeam, a.ToPlatform, a.ToUser})
			allocated++
		}
		if a.Source == "nav" || a.Status == "allocated" {
			profit = profit.Add(a.ProfitAmount)
		}
	}
	o := s.overview
	if got := (shares{o.TotalDistributed, o.ToTeamTotal, o.ToPlatformTotal, o.ToUserTotal}); !got.equal(total) {
		d.addf("stats overview %s, profit service %s", got, total)
	}
	if !eq(o.TotalProfit, profit) {
		d.addf("stats total_profit %s, profit service %s", o.TotalProfit, profit)
	}
	if o.Counts.Allocations != allocated {
		d.addf("stats counts %d allocations, profit service %d allocated", o.Counts.Allocations, allocated)
	}
	credited := decimal.Zero
	for _, b := range s.balances {
		credited = credited.Add(b.Credited)
	}
	if !eq(credited, total.distributed) {
		d.addf("balances credited %s in all, profit service distributed %s", credited, total.distributed)
	}
	return d.result("platform totals: profit service == balances == stats", total.String())
}

func (s *snapshot) checkWithdrawals() Result {
	byStatus := map[string]decimal.Decimal{"pending": decimal.Zero, "completed": decimal.Zero, "failed": decimal.Zero}
	for _, w := range s.withdrawals {
		byStatus[w.Status] = byStatus[w.Status].Add(w.Amount)
	}
	o := s.overview
	var d diffs
	for status, stats := range map[string]decimal.Decimal{"pending": o.WithdrawnPending, "completed": o.WithdrawnCompleted, "failed": o.WithdrawnFailed} {
		if !eq(byStatus[status], stats) {
			d.addf("%s: withdrawal service %s, stats %s", status, byStatus[status], stats)
		}
	}
	if len(byStatus) != 3 {
		d.addf("unknown withdrawal statuses in %v", byStatus)
	}
	if o.Counts.Withdrawals != int64(len(s.withdrawals)) {
		d.addf("stats counts %d withdrawals, withdrawal service %d", o.Counts.Withdrawals, len(s.withdrawals))
	}
	return d.result("withdrawals by status: withdrawal service == stats",
		fmt.Sprintf("%d withdrawals: pending %s, completed %s, failed %s", len(s.withdrawals), byStatus["pending"], byStatus["completed"], byStatus["failed"]))
}

func (s *snapshot) checkReallocations() Result {
	total := decimal.Zero
	for _, r := range s.reallocations {
		total = total.Add(r.Amount)
	}
	var d diffs
	if !eq(total, s.overview.ReallocatedTotal) || s.overview.Counts.Reallocations != int64(len(s.reallocations)) {
		d.addf("withdrawal service %d reallocations of %s, stats %d of %s", len(s.reallocations), total,
			s.overview.Counts.Reallocations, s.overview.ReallocatedTotal)
	}
	return d.result("reallocations: withdrawal service == stats", fmt.Sprintf("%d reallocations of %s", len(s.reallocations), total))
}
