// Package invariants checks, through the edge of any running stack, the
// promises the platform makes about money once it is quiet, each one per
// currency (docs/api.md#money-and-rounding): amounts of different
// currencies are never added up.
//
//   - the ledger's postings sum to zero in each currency, each transfer on
//     its own too (and a transfer has postings in one currency), and every
//     account's hash chain verifies;
//   - every user, team and platform account has available >= 0, and
//     available = credited + reallocated_in − reallocated_out − held − withdrawn;
//   - every allocation the profit service made is credited exactly once, for
//     its exact shares in its currency, and nothing else is credited;
//   - per portfolio, the profit service's allocations, the ledger's credits
//     and the stats service's figures are equal (and stats has the
//     portfolio's currency), its total profit and its loss carry-forward
//     too, and so are the platform totals of each currency;
//   - withdrawals by status, and reallocations, are the same in each
//     currency in the withdrawal service and in stats.
//
// A record without a currency (a service of the release before
// currencies, during a rolling update) is read as the base currency's,
// eventbus.BaseCurrency.
//
// Check reads everything with an admin's (or a viewer's) token and reports
// each invariant with the figures it compared. The stats are eventually
// consistent: run it on a quiet stack, or use Wait to retry until it holds.
package invariants

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
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
	// Distributed is the profit distributed in the base currency
	// (eventbus.BaseCurrency; the profit service's view) and
	// DistributedIn that of each currency; WithdrawnByStatus the
	// withdrawal amounts per status in the base currency.
	Distributed       decimal.Decimal
	DistributedIn     map[string]decimal.Decimal
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
	var distributed []string
	for _, c := range slices.Sorted(maps.Keys(f.DistributedIn)) {
		distributed = append(distributed, f.DistributedIn[c].StringFixed(8)+" "+c)
	}
	fmt.Fprintf(w, "figures: %d ledger entries, %d accounts, %d portfolios, %d allocations (%s distributed), %d withdrawals, %d reallocations\n",
		f.Entries, f.Accounts, f.Portfolios, f.Allocations, strings.Join(distributed, ", "), f.Withdrawals, f.Reallocations)
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
		Currency   string          `json:"currency"`
		// AllocationKey is the identity of the allocation a profit_credit
		// credits ("" from the previous release, or for an event without).
		AllocationKey string `json:"allocation_key"`
	}
	// Balance is an account's balance in one currency as the withdrawal
	// service answers it (an item of GET /api/v1/balances, an element of
	// an owner's balances); the end-to-end tests read it too.
	Balance struct {
		OwnerType      string          `json:"owner_type"`
		OwnerID        int64           `json:"owner_id"`
		Currency       string          `json:"currency"`
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
		ID int64 `json:"id"`
		// Key is the allocation's identity derived from its source: the
		// same when the profit service records the profit again after its
		// database is restored, under a new id ("" for an allocation
		// recorded before identities existed).
		Key             string          `json:"allocation_key"`
		PortfolioID     int64           `json:"portfolio_id"`
		Currency        string          `json:"currency"`
		Source          string          `json:"source"`
		SnapshotID      *int64          `json:"snapshot_id"`
		Status          string          `json:"status"`
		ProfitAmount    decimal.Decimal `json:"profit_amount"`
		Distributable   decimal.Decimal `json:"distributable"`
		ToTeam          decimal.Decimal `json:"to_team_amount"`
		ToPlatform      decimal.Decimal `json:"to_platform_amount"`
		ToUser          decimal.Decimal `json:"to_user_amount"`
		LossCarryBefore decimal.Decimal `json:"loss_carryforward_before"`
		LossCarryAfter  decimal.Decimal `json:"loss_carryforward_after"`
		UserID          int64           `json:"user_id"`
		TeamID          int64           `json:"team_id"`
		// ReversedBy is the NAV correction that reversed the allocation
		// (nil while it stands; absent from the previous release).
		ReversedBy *int64 `json:"reversed_by_correction"`
	}
	// parked is a reversal the ledger parked (GET /api/v1/ledger/parked).
	parked struct {
		AllocationID  int64           `json:"allocation_id"`
		Currency      string          `json:"currency"`
		Distributable decimal.Decimal `json:"distributable"`
		ToTeam        decimal.Decimal `json:"to_team_amount"`
		ToPlatform    decimal.Decimal `json:"to_platform_amount"`
		ToUser        decimal.Decimal `json:"to_user_amount"`
	}
	accProfit struct {
		PortfolioID int64           `json:"portfolio_id"`
		Currency    string          `json:"currency"`
		AccProfit   decimal.Decimal `json:"acc_profit"`
		Distributed decimal.Decimal `json:"distributed"`
		ToTeam      decimal.Decimal `json:"to_team_total"`
		ToPlatform  decimal.Decimal `json:"to_platform_total"`
		ToUser      decimal.Decimal `json:"to_user_total"`
		// LossCarry is the portfolio's carry-forward; nil from the
		// previous release, which does not answer it.
		LossCarry *decimal.Decimal `json:"loss_carryforward"`
	}
	// currencyTotals are the stats overview's money in one currency.
	currencyTotals struct {
		Currency           string           `json:"currency"`
		TotalProfit        decimal.Decimal  `json:"total_profit"`
		TotalDistributed   decimal.Decimal  `json:"total_distributed"`
		ToTeamTotal        decimal.Decimal  `json:"to_team_total"`
		ToPlatformTotal    decimal.Decimal  `json:"to_platform_total"`
		ToUserTotal        decimal.Decimal  `json:"to_user_total"`
		WithdrawnPending   decimal.Decimal  `json:"withdrawals_pending_amount"`
		WithdrawnCompleted decimal.Decimal  `json:"withdrawals_completed_amount"`
		WithdrawnFailed    decimal.Decimal  `json:"withdrawals_failed_amount"`
		ReallocatedTotal   decimal.Decimal  `json:"reallocated_total"`
		LossCarryTotal     *decimal.Decimal `json:"loss_carryforward_total"`
	}
	// overview is GET /stats/overview: totals per currency; the previous
	// release answers one set of totals (the embedded fields), read as the
	// base currency's.
	overview struct {
		Totals []currencyTotals `json:"totals"`
		currencyTotals
		Counts struct {
			Allocations   int64 `json:"allocations"`
			Withdrawals   int64 `json:"withdrawals"`
			Reallocations int64 `json:"reallocations"`
		} `json:"counts"`
	}
	withdrawal struct {
		ID       int64           `json:"id"`
		Amount   decimal.Decimal `json:"amount"`
		Status   string          `json:"status"`
		Currency string          `json:"currency"`
	}
	reallocation struct {
		ID       int64           `json:"id"`
		Amount   decimal.Decimal `json:"amount"`
		Currency string          `json:"currency"`
	}
	verifyResult struct {
		OK              bool   `json:"ok"`
		Accounts        int64  `json:"accounts"`
		Entries         int64  `json:"entries"`
		FirstBadEntryID *int64 `json:"first_bad_entry_id"`
		Currencies      []struct {
			OK bool `json:"ok"`
		} `json:"currencies"`
		Checkpoint checkpointResult `json:"checkpoint"`
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
	// parked are the reversals the ledger parked, by allocation id: their
	// credits are still in the ledger (docs/api.md#nav-corrections).
	parked map[int64]parked
}

// OwnerBalances is GET /api/v1/balances/{owner_type}/{owner_id}: the
// owner's balance in each currency it holds, ordered by currency.
type OwnerBalances struct {
	OwnerType string    `json:"owner_type"`
	OwnerID   int64     `json:"owner_id"`
	Balances  []Balance `json:"balances"`
}

// In is the owner's balance in currency, zeros when it holds none.
func (o OwnerBalances) In(currency string) Balance {
	for _, b := range o.Balances {
		if b.Currency == currency {
			return b
		}
	}
	return Balance{OwnerType: o.OwnerType, OwnerID: o.OwnerID, Currency: currency}
}

// currencyOf is a record's currency: its own, or the base currency's for
// a record without one.
func currencyOf(c string) string { return eventbus.CurrencyOf(c) }

// normalize gives every record read its currency (currencyOf), and the
// overview of the previous release its one set of totals as the base
// currency's.
func (s *snapshot) normalize() {
	for i := range s.entries {
		s.entries[i].Currency = currencyOf(s.entries[i].Currency)
	}
	for i := range s.balances {
		s.balances[i].Currency = currencyOf(s.balances[i].Currency)
	}
	for i := range s.allocations {
		s.allocations[i].Currency = currencyOf(s.allocations[i].Currency)
	}
	for i := range s.accProfit {
		s.accProfit[i].Currency = currencyOf(s.accProfit[i].Currency)
	}
	for i := range s.withdrawals {
		s.withdrawals[i].Currency = currencyOf(s.withdrawals[i].Currency)
	}
	for i := range s.reallocations {
		s.reallocations[i].Currency = currencyOf(s.reallocations[i].Currency)
	}
	if s.overview.Totals == nil && (s.overview.currencyTotals != (currencyTotals{}) || s.overview.LossCarryTotal != nil) {
		s.overview.Totals = []currencyTotals{s.overview.currencyTotals}
	}
	for i := range s.overview.Totals {
		s.overview.Totals[i].Currency = currencyOf(s.overview.Totals[i].Currency)
	}
}

// totalsIn is the stats overview's totals of currency (zeros if none).
func (o overview) totalsIn(currency string) currencyTotals {
	for _, t := range o.Totals {
		if t.Currency == currency {
			return t
		}
	}
	return currencyTotals{Currency: currency}
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
	s.parked, err = readParked(ctx, c)
	return s, err
}

// readParked reads the parked reversals still parked; a release without
// NAV corrections has none (its 404 reads as none).
func readParked(ctx context.Context, c *Client) (map[int64]parked, error) {
	rows, err := ListAll[parked](ctx, c, "/api/v1/ledger/parked", url.Values{"status": {"parked"}})
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[int64]parked, len(rows))
	for _, p := range rows {
		out[p.AllocationID] = p
	}
	return out, nil
}

// standing reports whether a counts: no NAV correction reversed it.
func standing(a Allocation) bool { return a.ReversedBy == nil }

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
	s.normalize()
	var r Report
	r.Results = append(r.Results, s.checkLedgerSum(), s.checkVerify(), s.checkCheckpoint(), s.checkBalances())
	credits, res := s.checkCredits()
	r.Results = append(r.Results, res, s.checkPortfolios(credits), s.checkOverview(), s.checkWithdrawals(), s.checkReallocations())

	byStatus := map[string]decimal.Decimal{}
	for _, w := range s.withdrawals {
		if w.Currency == eventbus.BaseCurrency {
			byStatus[w.Status] = byStatus[w.Status].Add(w.Amount)
		}
	}
	distributed := map[string]decimal.Decimal{}
	portfolios := map[int64]bool{}
	for _, a := range s.allocations {
		distributed[a.Currency] = distributed[a.Currency].Add(a.Distributable)
		portfolios[a.PortfolioID] = true
	}
	r.Figures = Figures{Entries: len(s.entries), Accounts: int(s.verify.Accounts), Portfolios: len(portfolios),
		Allocations: len(s.allocations), Withdrawals: len(s.withdrawals), Reallocations: len(s.reallocations),
		Distributed: distributed[eventbus.BaseCurrency], DistributedIn: distributed, WithdrawnByStatus: byStatus}
	return r
}

// touch makes currency a key of m (with its zero value if it had none),
// so that it is checked.
func touch[V any](m map[string]V, currency string) {
	if _, ok := m[currency]; !ok {
		var zero V
		m[currency] = zero
	}
}

// currencies are the currencies of m's keys, sorted.
func currencies[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func (s *snapshot) checkLedgerSum() Result {
	var d diffs
	totals := map[string]decimal.Decimal{}
	transfers := map[int64]decimal.Decimal{}
	transferCurrency := map[int64]string{}
	for _, e := range s.entries {
		totals[e.Currency] = totals[e.Currency].Add(e.Amount)
		transfers[e.TransferID] = transfers[e.TransferID].Add(e.Amount)
		if c, ok := transferCurrency[e.TransferID]; ok && c != e.Currency {
			d.addf("transfer %d has postings in %s and %s", e.TransferID, c, e.Currency)
		}
		transferCurrency[e.TransferID] = e.Currency
	}
	for _, c := range currencies(totals) {
		if !totals[c].IsZero() {
			d.addf("all postings in %s sum to %s", c, totals[c])
		}
	}
	ids := slices.Sorted(maps.Keys(transfers))
	for _, id := range ids {
		if !transfers[id].IsZero() {
			d.addf("transfer %d sums to %s %s", id, transfers[id], transferCurrency[id])
		}
	}
	return d.result("ledger postings sum to zero", fmt.Sprintf("%d postings in %d transfers sum to 0 in each of %v",
		len(s.entries), len(transfers), currencies(totals)))
}

// checkVerify: every chain recomputes (each currency's verification; the
// checkpoint comparison, which the whole ledger's ok also covers, is
// checkCheckpoint's).
func (s *snapshot) checkVerify() Result {
	v := s.verify
	chains := v.OK || v.FirstBadEntryID == nil && len(v.Currencies) > 0
	for _, c := range v.Currencies {
		chains = chains && c.OK
	}
	if !chains {
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
		name := fmt.Sprintf("%s:%d %s", b.OwnerType, b.OwnerID, b.Currency)
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

// account names of the ledger, as the withdrawal service writes them: the
// owner's, beside which each entry names its currency (an account of a
// currency other than the base one may carry it as a ":XXX" suffix,
// which posting drops; see ledgerKey).
func userAccount(id int64) string { return fmt.Sprintf("user:%d", id) }
func teamAccount(id int64) string { return fmt.Sprintf("team:%d", id) }

const (
	platformAccount = "platform"
	profitAccount   = "system:profit"
)

// posting names an account's money in one currency.
type posting struct{ account, currency string }

func (p posting) String() string { return p.account + " " + p.currency }

// ledgerKey is the posting of entry e: its account without a trailing
// ":<currency>" and its currency.
func ledgerKey(e entry) posting {
	return posting{strings.TrimSuffix(e.Account, ":"+e.Currency), e.Currency}
}

// credit is one profit_credit transfer of the ledger: what it credits (the
// allocation id and, when its event had one, the allocation's identity)
// and its postings.
type credit struct {
	refID    int64
	key      string
	postings map[posting]decimal.Decimal
}

// credits are the ledger's profit_credit transfers, by transfer id.
func (s *snapshot) credits() map[int64]*credit {
	out := map[int64]*credit{}
	for _, e := range s.entries {
		if e.Kind != "profit_credit" && e.Kind != "profit_reversal" {
			continue
		}
		c := out[e.TransferID]
		if c == nil {
			c = &credit{refID: e.RefID, key: e.AllocationKey, postings: map[posting]decimal.Decimal{}}
			out[e.TransferID] = c
		}
		k := ledgerKey(e)
		c.postings[k] = c.postings[k].Add(e.Amount)
	}
	return out
}

// credits reports whether c credits allocation a: by identity when both
// have one (a profit recorded again after a restore of the profit database
// keeps its identity, not its id), by id when either has none (a release
// without identities recorded or credited it).
func (c *credit) credits(a Allocation) bool {
	if a.Key != "" && c.key != "" {
		return a.Key == c.key
	}
	return a.ID == c.refID
}

// checkCredits compares each allocation with its ledger credits (in the
// allocation's currency), matched by credit.credits, and returns the
// ledger's credits per portfolio. A profit credited twice — under two
// identities, or under its id and its identity — or a credit of an
// allocation the profit service does not have is a violation.
func (s *snapshot) checkCredits() (map[int64]shares, Result) {
	credits := s.credits()
	byRef, byKey := map[int64][]*credit{}, map[string][]*credit{}
	for _, c := range credits {
		byRef[c.refID] = append(byRef[c.refID], c)
		if c.key != "" {
			byKey[c.key] = append(byKey[c.key], c)
		}
	}
	var d diffs
	perPortfolio := map[int64]shares{}
	matched := map[*credit]bool{}
	for _, a := range s.allocations {
		got := map[posting]decimal.Decimal{}
		for _, c := range slices.Concat(byKey[a.Key], byRef[a.ID]) {
			if matched[c] || !c.credits(a) {
				continue
			}
			matched[c] = true
			for k, v := range c.postings {
				got[k] = got[k].Add(v)
			}
		}
		got = nonZero(got)
		user, team, platform := posting{userAccount(a.UserID), a.Currency}, posting{teamAccount(a.TeamID), a.Currency},
			posting{platformAccount, a.Currency}
		want := map[posting]decimal.Decimal{}
		// A reversed allocation's credit is taken back, unless its
		// reversal is parked: then the ledger still holds it.
		_, isParked := s.parked[a.ID]
		if a.Status == "allocated" && a.Distributable.IsPositive() && (standing(a) || isParked) {
			want[posting{profitAccount, a.Currency}] = a.Distributable.Neg()
			for acc, amt := range map[posting]decimal.Decimal{user: a.ToUser, team: a.ToTeam, platform: a.ToPlatform} {
				if amt.IsPositive() {
					want[acc] = want[acc].Add(amt)
				}
			}
		}
		if !sameAmounts(got, want) {
			d.addf("allocation %d (%s, distributable %s %s): ledger credits %v, want %v", a.ID, a.Status, a.Distributable,
				a.Currency, got, want)
			continue
		}
		p := perPortfolio[a.PortfolioID]
		perPortfolio[a.PortfolioID] = p.add(shares{got[user].Add(got[team]).Add(got[platform]), got[team], got[platform], got[user]})
	}
	for _, c := range credits {
		if !matched[c] {
			d.addf("ledger credits %v for allocation %d (identity %q) the profit service does not have", c.postings, c.refID, c.key)
		}
	}
	return perPortfolio, d.result("each allocation credited once, exactly", fmt.Sprintf("%d allocations, %d credited", len(s.allocations), len(credits)))
}

// nonZero is m without its zero amounts (a credit and its reversal).
func nonZero[K comparable](m map[K]decimal.Decimal) map[K]decimal.Decimal {
	out := map[K]decimal.Decimal{}
	for k, v := range m {
		if !v.IsZero() {
			out[k] = v
		}
	}
	return out
}

func sameAmounts[K comparable](a, b map[K]decimal.Decimal) bool {
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

// statsCounts reports whether stats counts a's profit: every NAV profit
// (losses and waiting ones included, from portfolio.profit_recorded) and
// every manual one once allocated (profit.allocated) or found to
// distribute nothing (profit.outcome_recorded); a manual profit waiting
// for a ratio has reached no event yet (docs/decisions.md).
func statsCounts(a Allocation) bool {
	return standing(a) && (a.Source == "nav" || a.Status != "awaiting_ratio")
}

// carries are the loss carry-forwards of the portfolios as stats holds
// them, from the profit service's history: the sum of the moves (after −
// before) of the allocations made, then the allocation rule
// carry = max(0, carry − p) over the NAV profits still waiting for a
// ratio, in recording order, which stats applied when they were recorded
// while the profit service applies them once the first ratio comes
// (docs/api.md#allocation-rule).
func (s *snapshot) carries() map[int64]decimal.Decimal {
	carry := map[int64]decimal.Decimal{}
	var waiting []Allocation
	for _, a := range s.allocations {
		switch {
		case !standing(a):
		case a.Status != "awaiting_ratio":
			carry[a.PortfolioID] = carry[a.PortfolioID].Add(a.LossCarryAfter.Sub(a.LossCarryBefore))
		case a.Source == "nav":
			waiting = append(waiting, a)
		}
	}
	slices.SortFunc(waiting, func(a, b Allocation) int { return cmp.Compare(a.ID, b.ID) })
	for _, a := range waiting {
		carry[a.PortfolioID] = decimal.Max(decimal.Zero, carry[a.PortfolioID].Sub(a.ProfitAmount))
	}
	return carry
}

// checkPortfolios compares, per portfolio, the profit service, the ledger
// (credits, from checkCredits) and stats, and the portfolio's currency in
// the profit service and in stats. A portfolio's amounts are all in its
// currency.
func (s *snapshot) checkPortfolios(ledger map[int64]shares) Result {
	carries := s.carries()
	profit := map[int64]shares{}
	parkedShares := map[int64]shares{} // the ledger holds them beyond the profit service's
	accProfits := map[int64]decimal.Decimal{}
	currency := map[int64]string{}
	var d diffs
	for _, a := range s.allocations {
		if c, ok := currency[a.PortfolioID]; ok && c != a.Currency {
			d.addf("portfolio %d: allocations in %s and %s", a.PortfolioID, c, a.Currency)
		}
		currency[a.PortfolioID] = a.Currency
		if a.Status == "allocated" && standing(a) {
			profit[a.PortfolioID] = profit[a.PortfolioID].add(shares{a.Distributable, a.ToTeam, a.ToPlatform, a.ToUser})
		}
		if p, ok := s.parked[a.ID]; ok {
			parkedShares[a.PortfolioID] = parkedShares[a.PortfolioID].add(shares{p.Distributable, p.ToTeam, p.ToPlatform, p.ToUser})
		}
		if statsCounts(a) {
			accProfits[a.PortfolioID] = accProfits[a.PortfolioID].Add(a.ProfitAmount)
		} else if _, ok := accProfits[a.PortfolioID]; !ok {
			accProfits[a.PortfolioID] = decimal.Zero
		}
	}
	stats := map[int64]accProfit{}
	ids := map[int64]bool{}
	for _, row := range s.accProfit {
		stats[row.PortfolioID] = row
		ids[row.PortfolioID] = true
	}
	for id := range accProfits {
		ids[id] = true
	}
	sorted := slices.Sorted(maps.Keys(ids))
	for _, id := range sorted {
		p, l := profit[id], ledger[id]
		st := stats[id]
		sst := shares{st.Distributed, st.ToTeam, st.ToPlatform, st.ToUser}
		if !p.add(parkedShares[id]).equal(l) || !p.equal(sst) {
			d.addf("portfolio %d: profit service %s (+ parked %s), ledger %s, stats %s", id, p, parkedShares[id], l, sst)
		}
		if !eq(accProfits[id], st.AccProfit) {
			d.addf("portfolio %d: acc_profit %s in stats, %s in the profit service", id, st.AccProfit, accProfits[id])
		}
		if c, ok := currency[id]; ok && c != st.Currency {
			d.addf("portfolio %d: currency %s in stats, %s in the profit service", id, st.Currency, c)
		}
		if st.LossCarry != nil && !eq(*st.LossCarry, carries[id]) {
			d.addf("portfolio %d: loss_carryforward %s in stats, %s in the profit service", id, st.LossCarry, carries[id])
		}
	}
	return d.result("per portfolio: profit service == ledger == stats", fmt.Sprintf("%d portfolios", len(sorted)))
}

// checkOverview compares, per currency, the profit service's allocations,
// the balances credited and the stats overview's totals.
func (s *snapshot) checkOverview() Result {
	var d diffs
	total := map[string]shares{}
	profit := map[string]decimal.Decimal{}
	credited := map[string]decimal.Decimal{}
	allocated := int64(0)
	for _, t := range s.overview.Totals {
		touch(total, t.Currency)
	}
	for _, a := range s.allocations {
		if a.Status == "allocated" && standing(a) {
			total[a.Currency] = total[a.Currency].add(shares{a.Distributable, a.ToTeam, a.ToPlatform, a.ToUser})
			allocated++
		}
		if statsCounts(a) {
			profit[a.Currency] = profit[a.Currency].Add(a.ProfitAmount)
		}
	}
	for _, b := range s.balances {
		credited[b.Currency] = credited[b.Currency].Add(b.Credited)
		touch(total, b.Currency)
	}
	parkedIn := map[string]decimal.Decimal{}
	for _, p := range s.parked {
		parkedIn[currencyOf(p.Currency)] = parkedIn[currencyOf(p.Currency)].Add(p.Distributable)
	}
	carried := map[string]decimal.Decimal{}
	for id, c := range s.carries() {
		cur := currencyOf(s.portfolioCurrency(id))
		carried[cur] = carried[cur].Add(c)
	}
	var summary []string
	for _, c := range currencies(total) {
		o := s.overview.totalsIn(c)
		if o.LossCarryTotal != nil && !eq(*o.LossCarryTotal, carried[c]) {
			d.addf("%s: stats loss_carryforward_total %s, profit service %s", c, o.LossCarryTotal, carried[c])
		}
		if got := (shares{o.TotalDistributed, o.ToTeamTotal, o.ToPlatformTotal, o.ToUserTotal}); !got.equal(total[c]) {
			d.addf("%s: stats overview %s, profit service %s", c, got, total[c])
		}
		if !eq(o.TotalProfit, profit[c]) {
			d.addf("%s: stats total_profit %s, profit service %s", c, o.TotalProfit, profit[c])
		}
		if want := total[c].distributed.Add(parkedIn[c]); !eq(credited[c], want) {
			d.addf("%s: balances credited %s in all, profit service distributed %s + parked %s", c, credited[c], total[c].distributed, parkedIn[c])
		}
		summary = append(summary, c+" "+total[c].String())
	}
	if s.overview.Counts.Allocations != allocated {
		d.addf("stats counts %d allocations, profit service %d allocated", s.overview.Counts.Allocations, allocated)
	}
	return d.result("platform totals: profit service == balances == stats", strings.Join(summary, "; "))
}

// portfolioCurrency is the currency of a portfolio's allocations.
func (s *snapshot) portfolioCurrency(id int64) string {
	for _, a := range s.allocations {
		if a.PortfolioID == id {
			return a.Currency
		}
	}
	return ""
}

// checkWithdrawals compares the withdrawal amounts per currency and status.
func (s *snapshot) checkWithdrawals() Result {
	byStatus := map[string]map[string]decimal.Decimal{} // currency → status → amount
	in := func(c string) map[string]decimal.Decimal {
		if byStatus[c] == nil {
			byStatus[c] = map[string]decimal.Decimal{"pending": decimal.Zero, "completed": decimal.Zero, "failed": decimal.Zero}
		}
		return byStatus[c]
	}
	for _, t := range s.overview.Totals {
		in(t.Currency)
	}
	for _, w := range s.withdrawals {
		m := in(w.Currency)
		m[w.Status] = m[w.Status].Add(w.Amount)
	}
	var d diffs
	var summary []string
	for _, c := range currencies(byStatus) {
		o, m := s.overview.totalsIn(c), byStatus[c]
		for status, stats := range map[string]decimal.Decimal{"pending": o.WithdrawnPending, "completed": o.WithdrawnCompleted, "failed": o.WithdrawnFailed} {
			if !eq(m[status], stats) {
				d.addf("%s %s: withdrawal service %s, stats %s", c, status, m[status], stats)
			}
		}
		if len(m) != 3 {
			d.addf("unknown withdrawal statuses in %v", m)
		}
		summary = append(summary, fmt.Sprintf("%s pending %s, completed %s, failed %s", c, m["pending"], m["completed"], m["failed"]))
	}
	if s.overview.Counts.Withdrawals != int64(len(s.withdrawals)) {
		d.addf("stats counts %d withdrawals, withdrawal service %d", s.overview.Counts.Withdrawals, len(s.withdrawals))
	}
	return d.result("withdrawals by status: withdrawal service == stats",
		fmt.Sprintf("%d withdrawals: %s", len(s.withdrawals), strings.Join(summary, "; ")))
}

// checkReallocations compares the reallocated amounts per currency.
func (s *snapshot) checkReallocations() Result {
	total := map[string]decimal.Decimal{}
	for _, t := range s.overview.Totals {
		touch(total, t.Currency)
	}
	for _, r := range s.reallocations {
		total[r.Currency] = total[r.Currency].Add(r.Amount)
	}
	var d diffs
	var summary []string
	for _, c := range currencies(total) {
		if stats := s.overview.totalsIn(c).ReallocatedTotal; !eq(total[c], stats) {
			d.addf("%s: withdrawal service %s, stats %s", c, total[c], stats)
		}
		summary = append(summary, total[c].String()+" "+c)
	}
	if s.overview.Counts.Reallocations != int64(len(s.reallocations)) {
		d.addf("withdrawal service %d reallocations, stats %d", len(s.reallocations), s.overview.Counts.Reallocations)
	}
	return d.result("reallocations: withdrawal service == stats",
		fmt.Sprintf("%d reallocations of %s", len(s.reallocations), strings.Join(summary, ", ")))
}
