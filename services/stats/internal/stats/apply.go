package stats

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
)

// --- applying events: the decisions -----------------------------------------
//
// What each event adds to the read models (docs/api.md#stats-service) is
// decided here, in memory, by pure functions; the store locks and reads the
// state a run of events needs (NeedsOf, CarriesMoved → Prior), Accumulate
// decides, and the store writes the Additions it returns, one statement per
// table (RunStore, ApplyRun; the Service's Apply for the event handlers).
//
// Most of an event's effect is an addition — to the overview's sums and
// counts, a portfolio's totals, an owner's hour, a summary row — and
// additions commute: a run's additions are summed per row, so a row a
// hundred events touch is written once. What depends on order is decided in
// order over the state read once per run: which portfolios, allocations,
// snapshots and reallocations are new, each withdrawal's status, each
// portfolio's loss carry-forward.

// Event is one event as the read models see it: its time and exactly one
// of the other fields.
type Event struct {
	Time           time.Time
	Portfolio      *Owners // portfolio.created or portfolio.updated
	ProfitRecorded *ProfitRecorded
	Allocation     *Allocation
	Outcome        *Outcome
	RatioChanged   bool // profit.ratio_changed
	Withdrawal     *Withdrawal
	Reallocation   *Reallocation
	Reversal       *Reversal // profit.allocation_reversed
}

// ProfitRecorded is what a portfolio.profit_recorded event says.
// Currency, here and in the other events, is the event's own ("" for an
// event published before events carried one).
type ProfitRecorded struct {
	PortfolioID, SnapshotID, UserID, TeamID int64
	PeriodEnd                               time.Time
	Profit                                  decimal.Decimal
	Currency                                string
}

// Allocation is what a profit.allocated event says. AllocationKey is the
// allocation's identity derived from its source ("" in events from before
// it existed): a profit the profit service recorded again after a restore
// has a new AllocationID but the same key, and is counted once.
type Allocation struct {
	AllocationID, PortfolioID, UserID, TeamID int64
	AllocationKey                             string
	Manual                                    bool
	PeriodEnd                                 time.Time
	Profit, Distributable                     decimal.Decimal
	ToTeam, ToPlatform, ToUser                decimal.Decimal
	Currency                                  string
}

// Outcome is what a profit.outcome_recorded event says: a manual profit
// or loss that distributed nothing; AllocationKey as Allocation's.
type Outcome struct {
	AllocationID, PortfolioID, UserID, TeamID int64
	AllocationKey                             string
	PeriodEnd                                 time.Time
	Profit                                    decimal.Decimal
	Currency                                  string
}

// Withdrawal is what a withdrawal.* event says.
type Withdrawal struct {
	ID       int64
	FromType string
	OwnerID  int64
	Amount   decimal.Decimal
	// Status is pending (withdrawal.requested), completed or failed.
	Status   string
	Currency string
}

// Reallocation is what a funds.reallocated event says.
type Reallocation struct {
	ID       int64
	Amount   decimal.Decimal
	Currency string
}

// Withdrawal statuses (docs/api.md#withdrawal-service).
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// SnapshotKey names a NAV snapshot: its portfolio and its id.
type SnapshotKey struct{ PortfolioID, SnapshotID int64 }

// WithdrawalState is a withdrawal as the read models hold it: its status,
// and the amount and currency recorded when it was first seen.
type WithdrawalState struct {
	Status   string
	Amount   decimal.Decimal
	Currency string
}

// Needs are what a run of events must have claimed, read or written before
// it can be decided: the owners its portfolio events set (the last of each
// portfolio, by portfolio id), and the ids of its allocations,
// reallocations, snapshots and withdrawals, in event order, and the
// portfolios (sorted, once each) whose stored currency it needs: those of
// profit events that carry none.
type Needs struct {
	Owners                                        []Owners
	AllocationIDs, ReallocationIDs, WithdrawalIDs []int64
	// AllocationKeys are the identities of AllocationIDs, index for index
	// ("" for an event without one).
	AllocationKeys []string
	Snapshots      []SnapshotKey
	Currencies     []int64
}

// NeedsOf lists what events need.
func NeedsOf(events []Event) Needs {
	var n Needs
	owners := map[int64]Owners{}
	for _, e := range events {
		switch {
		case e.Portfolio != nil:
			owners[e.Portfolio.PortfolioID] = *e.Portfolio
		case e.Allocation != nil:
			n.AllocationIDs = append(n.AllocationIDs, e.Allocation.AllocationID)
			n.AllocationKeys = append(n.AllocationKeys, e.Allocation.AllocationKey)
			if e.Allocation.Currency == "" {
				n.Currencies = append(n.Currencies, e.Allocation.PortfolioID)
			}
		case e.Outcome != nil:
			n.AllocationIDs = append(n.AllocationIDs, e.Outcome.AllocationID)
			n.AllocationKeys = append(n.AllocationKeys, e.Outcome.AllocationKey)
			if e.Outcome.Currency == "" {
				n.Currencies = append(n.Currencies, e.Outcome.PortfolioID)
			}
		case e.Reallocation != nil:
			n.ReallocationIDs = append(n.ReallocationIDs, e.Reallocation.ID)
		case e.Withdrawal != nil:
			n.WithdrawalIDs = append(n.WithdrawalIDs, e.Withdrawal.ID)
		case e.ProfitRecorded != nil:
			n.Snapshots = append(n.Snapshots, SnapshotKey{e.ProfitRecorded.PortfolioID, e.ProfitRecorded.SnapshotID})
			if e.ProfitRecorded.Currency == "" {
				n.Currencies = append(n.Currencies, e.ProfitRecorded.PortfolioID)
			}
		}
	}
	slices.Sort(n.Currencies)
	n.Currencies = slices.Compact(n.Currencies)
	for _, id := range slices.Sorted(maps.Keys(owners)) {
		n.Owners = append(n.Owners, owners[id])
	}
	return n
}

// CarriesMoved are the portfolios (sorted, once each) whose loss
// carry-forward events move: those of new NAV profits (snapshots not seen
// before), of new manual allocations and of new manual outcomes that
// distributed nothing (profit.outcome_recorded).
func CarriesMoved(events []Event, newAllocations map[int64]bool, newSnapshots map[SnapshotKey]bool) []int64 {
	var ids []int64
	for _, e := range events {
		if p := e.ProfitRecorded; p != nil && newSnapshots[SnapshotKey{p.PortfolioID, p.SnapshotID}] {
			ids = append(ids, p.PortfolioID)
		}
		if a := e.Allocation; a != nil && a.Manual && newAllocations[a.AllocationID] {
			ids = append(ids, a.PortfolioID)
		}
		if o := e.Outcome; o != nil && newAllocations[o.AllocationID] {
			ids = append(ids, o.PortfolioID)
		}
		if r := e.Reversal; r != nil {
			ids = append(ids, r.PortfolioID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Prior is the state a run is decided over, as the store read it under
// row locks before the run: the portfolios, allocations, reallocations and
// snapshots the read models had not seen (claimed by this run), the stored
// states of the run's withdrawals, the carry-forwards it moves and the
// stored currencies of the portfolios of Needs.Currencies (those known).
type Prior struct {
	NewPortfolios, NewAllocations, NewReallocations map[int64]bool
	NewSnapshots                                    map[SnapshotKey]bool
	Withdrawals                                     map[int64]WithdrawalState
	Carry                                           map[int64]decimal.Decimal
	Currencies                                      map[int64]string
}

// OverviewAdds are what a run adds to the overview's counts.
type OverviewAdds struct {
	Portfolios, Allocations, Withdrawals, Reallocations, ProfitsRecorded, RatioChanges int64
}

// CurrencyAdds are what a run adds to the platform totals of one currency
// (the money of the overview): its sums and the amounts of withdrawals
// pending, completed and failed.
type CurrencyAdds struct {
	Profit, Distributed, ToTeam, ToPlatform, ToUser, LossCarry, Reallocated decimal.Decimal
	Pending, Completed, Failed                                              decimal.Decimal
}

// Add adds b to a.
func (a *CurrencyAdds) Add(b *CurrencyAdds) {
	a.Profit, a.Distributed = a.Profit.Add(b.Profit), a.Distributed.Add(b.Distributed)
	a.ToTeam, a.ToPlatform, a.ToUser = a.ToTeam.Add(b.ToTeam), a.ToPlatform.Add(b.ToPlatform), a.ToUser.Add(b.ToUser)
	a.LossCarry, a.Reallocated = a.LossCarry.Add(b.LossCarry), a.Reallocated.Add(b.Reallocated)
	a.Pending, a.Completed, a.Failed = a.Pending.Add(b.Pending), a.Completed.Add(b.Completed), a.Failed.Add(b.Failed)
}

// status is the amount of withdrawals in status.
func (a *CurrencyAdds) status(status string) *decimal.Decimal {
	switch status {
	case StatusPending:
		return &a.Pending
	case StatusCompleted:
		return &a.Completed
	default:
		return &a.Failed
	}
}

// TotalsAdds are what a run adds to one portfolio's totals.
type TotalsAdds struct {
	// Currency is the portfolio's (that of its events).
	Currency                                           string
	AccProfit, Distributed, ToTeam, ToPlatform, ToUser decimal.Decimal
	// UpdatedAt is the latest event's time; zero when only a portfolio
	// event touched the totals (the row exists so that it is listed).
	UpdatedAt time.Time
}

// HourKey names an owner's hour of credits in a currency.
type HourKey struct {
	OwnerType string
	OwnerID   int64
	Currency  string
	Hour      int64 // Unix seconds of the UTC hour
}

// SummaryKey names a summary row: a dimension (portfolio, team, user or
// "all"), its key and its bucket: the Unix seconds of the UTC hour in
// summary_hourly, of the UTC day's midnight in summary_daily, 0 in
// summary_totals.
// The currency is that of the row's amounts.
type SummaryKey struct {
	Dimension, Key, Currency string
	Bucket                   int64
}

// SummaryAdds are what a run adds to one summary row.
type SummaryAdds struct {
	Profit, Distributed, ToTeam, ToPlatform, ToUser, Withdrawn decimal.Decimal
}

// Add adds b to a.
func (a *SummaryAdds) Add(b *SummaryAdds) {
	a.Profit, a.Distributed = a.Profit.Add(b.Profit), a.Distributed.Add(b.Distributed)
	a.ToTeam, a.ToPlatform = a.ToTeam.Add(b.ToTeam), a.ToPlatform.Add(b.ToPlatform)
	a.ToUser, a.Withdrawn = a.ToUser.Add(b.ToUser), a.Withdrawn.Add(b.Withdrawn)
}

// StatusAdds are what a run adds to one status of withdrawals_by_status.
type StatusAdds struct {
	Amount decimal.Decimal
	Count  int64
}

func (s *StatusAdds) add(amount decimal.Decimal, count int64) {
	s.Amount, s.Count = s.Amount.Add(amount), s.Count+count
}

// Additions are a run's decided effects: the sums to add to each row, and
// the state it moved (withdrawal states and carry-forwards to store).
// ByStatus is summed over currencies; the amounts of each status per
// currency are in Currencies.
type Additions struct {
	Overview   OverviewAdds
	Currencies map[string]*CurrencyAdds
	Totals     map[int64]*TotalsAdds
	Hourly     map[HourKey]decimal.Decimal
	Summary    map[SummaryKey]*SummaryAdds // at the hour
	ByStatus   map[string]*StatusAdds
	// Withdrawals are the states that differ from the stored ones (or
	// have none): a new withdrawal, a pending one that reached an outcome.
	Withdrawals map[int64]WithdrawalState
	// Carry are the carry-forwards the run changed, as they now are.
	Carry map[int64]decimal.Decimal
}

// accumulator is a run being decided: what it has claimed, the state it
// moved so far and the additions summed so far.
type accumulator struct {
	prior Prior // its New* maps are the run's own copies (see claim)
	carry map[int64]decimal.Decimal
	// currencies are the portfolios' known currencies: the stored ones,
	// then those the run's portfolio events say.
	currencies map[int64]string
	adds       *Additions
}

// RunStore is the write side of the read models, bound to the transaction
// a run of events is applied in (the inbox consumer's).
type RunStore interface {
	// Load locks and reads the state a run is decided over, in an order
	// that keeps concurrent runs from deadlocking, and claims its ids.
	Load(ctx context.Context, events []Event) (Prior, error)
	// Write adds a run's additions to the read models.
	Write(ctx context.Context, adds *Additions) error
}

// ApplyRun applies a run of events, in order, through rs, with the effect
// of applying them one at a time: rs loads the state, Accumulate decides,
// rs writes. No events, no effect.
func ApplyRun(ctx context.Context, rs RunStore, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	prior, err := rs.Load(ctx, events)
	if err != nil {
		return err
	}
	adds, err := Accumulate(prior, events)
	if err != nil {
		return err
	}
	return rs.Write(ctx, adds)
}

// Accumulate decides a run of events, in order, over prior: it returns
// what they add to every read model, as applying them one at a time
// would. An event whose id is not new (seen before the run, or earlier in
// it) adds nothing. prior is not modified.
func Accumulate(prior Prior, events []Event) (*Additions, error) {
	a := &accumulator{
		prior: Prior{NewPortfolios: maps.Clone(prior.NewPortfolios), NewAllocations: maps.Clone(prior.NewAllocations),
			NewReallocations: maps.Clone(prior.NewReallocations), NewSnapshots: maps.Clone(prior.NewSnapshots),
			Withdrawals: prior.Withdrawals, Carry: prior.Carry},
		carry: maps.Clone(prior.Carry), currencies: maps.Clone(prior.Currencies),
		adds: &Additions{Currencies: map[string]*CurrencyAdds{}, Totals: map[int64]*TotalsAdds{}, Hourly: map[HourKey]decimal.Decimal{},
			Summary: map[SummaryKey]*SummaryAdds{}, ByStatus: map[string]*StatusAdds{},
			Withdrawals: map[int64]WithdrawalState{}, Carry: map[int64]decimal.Decimal{}},
	}
	if a.carry == nil {
		a.carry = map[int64]decimal.Decimal{}
	}
	if a.currencies == nil {
		a.currencies = map[int64]string{}
	}
	for _, e := range events {
		if err := a.event(e); err != nil {
			return nil, err
		}
	}
	for id, c := range a.carry {
		if !c.Equal(prior.Carry[id]) {
			a.adds.Carry[id] = c
		}
	}
	return a.adds, nil
}

// event adds one event.
func (a *accumulator) event(e Event) error {
	switch {
	case e.Portfolio != nil:
		a.portfolio(*e.Portfolio)
	case e.ProfitRecorded != nil:
		return a.profitRecorded(*e.ProfitRecorded, e.Time)
	case e.Allocation != nil:
		return a.allocated(*e.Allocation, e.Time)
	case e.Outcome != nil:
		return a.outcome(*e.Outcome, e.Time)
	case e.Reversal != nil:
		return a.reversed(*e.Reversal, e.Time)
	case e.RatioChanged:
		a.adds.Overview.RatioChanges++
	case e.Withdrawal != nil:
		a.withdrawal(*e.Withdrawal, e.Time)
	case e.Reallocation != nil:
		if r := e.Reallocation; claim(a.prior.NewReallocations, r.ID) {
			a.adds.Overview.Reallocations++
			c := a.money(eventbus.CurrencyOf(r.Currency))
			c.Reallocated = c.Reallocated.Add(r.Amount)
		}
	}
	return nil
}

// claim reports whether key is new to the read models and not yet applied
// in this run, and marks it applied: a repeat within the run adds nothing.
func claim[K comparable](fresh map[K]bool, key K) bool {
	if !fresh[key] {
		return false
	}
	delete(fresh, key)
	return true
}

// portfolio records portfolio.created or portfolio.updated: a portfolio
// new to the read models is counted, its currency (when the event says it)
// becomes known, and every portfolio gets a totals row so that it is
// listed.
func (a *accumulator) portfolio(o Owners) {
	if claim(a.prior.NewPortfolios, o.PortfolioID) {
		a.adds.Overview.Portfolios++
	}
	if o.Currency != "" {
		a.currencies[o.PortfolioID] = o.Currency
	}
	a.total(o.PortfolioID, a.currencyOf(o.PortfolioID, ""))
}

// currencyOf is the currency of an event of a portfolio that says given:
// given, or for an event without one the portfolio's known currency, else
// eventbus.BaseCurrency (docs/api.md#stats-service).
func (a *accumulator) currencyOf(portfolioID int64, given string) string {
	if given != "" {
		return given
	}
	if c, ok := a.currencies[portfolioID]; ok {
		return c
	}
	return eventbus.BaseCurrency
}

// profitRecorded records a NAV profit or loss. NAV profits are counted
// here, losses included, because the profit service announces only the
// NAV allocations that distribute something (profit.allocated): the total and
// accumulated profit, the summary's profit at the hour of period_end, and
// the portfolio's loss carry-forward. The money of the allocation comes
// with profit.allocated. A snapshot seen before is skipped, as the profit
// service skips it.
func (a *accumulator) profitRecorded(p ProfitRecorded, at time.Time) error {
	if !claim(a.prior.NewSnapshots, SnapshotKey{p.PortfolioID, p.SnapshotID}) {
		return nil
	}
	cur := a.currencyOf(p.PortfolioID, p.Currency)
	a.adds.Overview.ProfitsRecorded++
	c := a.money(cur)
	c.Profit = c.Profit.Add(p.Profit)
	t := a.total(p.PortfolioID, cur)
	t.AccProfit = t.AccProfit.Add(p.Profit)
	t.seen(at)
	for _, k := range summaryKeys(p.PortfolioID, p.UserID, p.TeamID, cur) {
		s := a.summaryRow(k, p.PeriodEnd)
		s.Profit = s.Profit.Add(p.Profit)
	}
	return a.carryForward(p.PortfolioID, p.Profit, cur)
}

// allocated adds one allocation to every model it touches: the portfolio's
// totals, the hourly credits of its user, team and the platform, the
// summary rows of its portfolio, team, user and the whole platform at the
// hour of period_end, and the overview. A manual profit also counts as
// profit (a NAV profit was counted when it was recorded) and moves the
// carry-forward. An allocation id seen before is skipped.
func (a *accumulator) allocated(al Allocation, at time.Time) error {
	if !claim(a.prior.NewAllocations, al.AllocationID) {
		return nil
	}
	profit := decimal.Zero
	if al.Manual {
		profit = al.Profit
	}
	cur := a.currencyOf(al.PortfolioID, al.Currency)
	a.adds.Overview.Allocations++
	o := a.money(cur)
	o.Profit, o.Distributed = o.Profit.Add(profit), o.Distributed.Add(al.Distributable)
	o.ToTeam, o.ToPlatform, o.ToUser = o.ToTeam.Add(al.ToTeam), o.ToPlatform.Add(al.ToPlatform), o.ToUser.Add(al.ToUser)
	t := a.total(al.PortfolioID, cur)
	t.AccProfit, t.Distributed = t.AccProfit.Add(profit), t.Distributed.Add(al.Distributable)
	t.ToTeam, t.ToPlatform, t.ToUser = t.ToTeam.Add(al.ToTeam), t.ToPlatform.Add(al.ToPlatform), t.ToUser.Add(al.ToUser)
	t.seen(at)
	a.credit(al, cur)
	for _, k := range summaryKeys(al.PortfolioID, al.UserID, al.TeamID, cur) {
		s := a.summaryRow(k, al.PeriodEnd)
		s.Profit, s.Distributed = s.Profit.Add(profit), s.Distributed.Add(al.Distributable)
		s.ToTeam, s.ToPlatform, s.ToUser = s.ToTeam.Add(al.ToTeam), s.ToPlatform.Add(al.ToPlatform), s.ToUser.Add(al.ToUser)
	}
	if al.Manual {
		return a.carryForward(al.PortfolioID, al.Profit, cur)
	}
	return nil
}

// outcome records a manual profit or loss that distributed nothing: its
// profit counts in the totals, the accumulated profit and the summary
// rows at the hour of period_end, and it moves the carry-forward, as a
// NAV profit does; it is not an allocation (the overview counts those
// that distributed something). An allocation id seen before is skipped.
func (a *accumulator) outcome(o Outcome, at time.Time) error {
	if !claim(a.prior.NewAllocations, o.AllocationID) {
		return nil
	}
	cur := a.currencyOf(o.PortfolioID, o.Currency)
	c := a.money(cur)
	c.Profit = c.Profit.Add(o.Profit)
	t := a.total(o.PortfolioID, cur)
	t.AccProfit = t.AccProfit.Add(o.Profit)
	t.seen(at)
	for _, k := range summaryKeys(o.PortfolioID, o.UserID, o.TeamID, cur) {
		s := a.summaryRow(k, o.PeriodEnd)
		s.Profit = s.Profit.Add(o.Profit)
	}
	return a.carryForward(o.PortfolioID, o.Profit, cur)
}

// credit adds an allocation's shares to the hourly credits of its user,
// team and the platform at the hour of period_end, in the allocation's
// currency cur; a zero share adds no row.
func (a *accumulator) credit(al Allocation, cur string) {
	h := hourOf(al.PeriodEnd)
	for _, c := range []struct {
		ownerType string
		ownerID   int64
		amount    decimal.Decimal
	}{{auth.OwnerUser, al.UserID, al.ToUser}, {auth.OwnerTeam, al.TeamID, al.ToTeam}, {auth.OwnerPlatform, 0, al.ToPlatform}} {
		if !c.amount.IsZero() {
			k := HourKey{c.ownerType, c.ownerID, cur, h}
			a.adds.Hourly[k] = a.adds.Hourly[k].Add(c.amount)
		}
	}
}

func errCarryNotLoaded(portfolioID int64) error {
	return fmt.Errorf("stats: carry-forward of portfolio %d not loaded", portfolioID)
}

// carryForward applies the allocation rule carry = max(0, carry − p)
// (docs/api.md#allocation-rule) to the portfolio's carry-forward and the
// total of its currency cur.
func (a *accumulator) carryForward(portfolioID int64, p decimal.Decimal, cur string) error {
	before, ok := a.carry[portfolioID]
	if !ok {
		return errCarryNotLoaded(portfolioID)
	}
	after := decimal.Max(decimal.Zero, before.Sub(p))
	a.carry[portfolioID] = after
	c := a.money(cur)
	c.LossCarry = c.LossCarry.Add(after.Sub(before))
	return nil
}

// withdrawal moves a withdrawal's amount between the status totals, once
// per transition, whatever order the events arrive in: the first event of
// a withdrawal adds it to its status (and to the count); pending →
// completed/failed moves the amount recorded when it was first seen;
// anything else (a repeat, a requested after its outcome, an outcome after
// the other outcome) changes nothing. The amount and currency are those
// first seen (an event without a currency is eventbus.BaseCurrency's).
// Completed amounts are also added to the summary's withdrawn at the hour
// of the event, under the whole platform and the owner's team or user key.
func (a *accumulator) withdrawal(w Withdrawal, at time.Time) {
	st, ok := a.adds.Withdrawals[w.ID]
	if !ok {
		st, ok = a.prior.Withdrawals[w.ID]
	}
	switch {
	case !ok:
		st = WithdrawalState{Status: w.Status, Amount: w.Amount, Currency: eventbus.CurrencyOf(w.Currency)}
		a.adds.Withdrawals[w.ID] = st
		a.adds.Overview.Withdrawals++
		a.move(st, w.Status, st.Amount, 1)
	case st.Status == StatusPending && w.Status != StatusPending:
		a.adds.Withdrawals[w.ID] = WithdrawalState{Status: w.Status, Amount: st.Amount, Currency: st.Currency}
		a.move(st, StatusPending, st.Amount.Neg(), -1)
		a.move(st, w.Status, st.Amount, 1)
	default:
		return
	}
	if w.Status != StatusCompleted {
		return
	}
	keys := []SummaryKey{{Dimension: "all", Currency: st.Currency}}
	switch w.FromType {
	case auth.OwnerUser:
		keys = append(keys, SummaryKey{Dimension: GroupUser, Key: strconv.FormatInt(w.OwnerID, 10), Currency: st.Currency})
	case auth.OwnerTeam:
		keys = append(keys, SummaryKey{Dimension: GroupTeam, Key: strconv.FormatInt(w.OwnerID, 10), Currency: st.Currency})
	}
	for _, k := range keys {
		s := a.summaryRow(k, at)
		s.Withdrawn = s.Withdrawn.Add(st.Amount)
	}
}

// move adds amount (and count) of withdrawal st to status, in the status
// totals and in those of its currency.
func (a *accumulator) move(st WithdrawalState, status string, amount decimal.Decimal, count int64) {
	a.status(status).add(amount, count)
	m := a.money(st.Currency).status(status)
	*m = m.Add(amount)
}

// summaryKeys are the summary rows a portfolio's profit in currency cur
// goes to (their Bucket unset).
func summaryKeys(portfolioID, userID, teamID int64, cur string) []SummaryKey {
	return []SummaryKey{
		{Dimension: GroupPortfolio, Key: strconv.FormatInt(portfolioID, 10), Currency: cur},
		{Dimension: GroupTeam, Key: strconv.FormatInt(teamID, 10), Currency: cur},
		{Dimension: GroupUser, Key: strconv.FormatInt(userID, 10), Currency: cur},
		{Dimension: "all", Currency: cur},
	}
}

// hourOf is the Unix seconds of t's UTC hour.
func hourOf(t time.Time) int64 { return t.UTC().Truncate(time.Hour).Unix() }

// total is the additions to the totals of a portfolio in currency cur.
func (a *accumulator) total(portfolioID int64, cur string) *TotalsAdds {
	t := a.adds.Totals[portfolioID]
	if t == nil {
		t = &TotalsAdds{}
		a.adds.Totals[portfolioID] = t
	}
	t.Currency = cur
	return t
}

// money is the additions to the platform totals of currency cur.
func (a *accumulator) money(cur string) *CurrencyAdds {
	c := a.adds.Currencies[cur]
	if c == nil {
		c = &CurrencyAdds{}
		a.adds.Currencies[cur] = c
	}
	return c
}

func (t *TotalsAdds) seen(at time.Time) {
	if at.After(t.UpdatedAt) {
		t.UpdatedAt = at
	}
}

// summaryRow is the additions of k's row at the hour of at.
func (a *accumulator) summaryRow(k SummaryKey, at time.Time) *SummaryAdds {
	k.Bucket = hourOf(at)
	return addsOf(a.adds.Summary, k)
}

func addsOf(m map[SummaryKey]*SummaryAdds, k SummaryKey) *SummaryAdds {
	s := m[k]
	if s == nil {
		s = &SummaryAdds{}
		m[k] = s
	}
	return s
}

func (a *accumulator) status(status string) *StatusAdds {
	s := a.adds.ByStatus[status]
	if s == nil {
		s = &StatusAdds{}
		a.adds.ByStatus[status] = s
	}
	return s
}

// Rollups sums hourly summary additions into those of the roll-ups
// summary_daily (each row at its UTC day's midnight) and summary_totals
// (bucket 0).
func Rollups(hourly map[SummaryKey]*SummaryAdds) (daily, totals map[SummaryKey]*SummaryAdds) {
	daily, totals = map[SummaryKey]*SummaryAdds{}, map[SummaryKey]*SummaryAdds{}
	for k, s := range hourly {
		day, total := k, k
		day.Bucket -= (k.Bucket%86400 + 86400) % 86400 // the UTC day's midnight
		total.Bucket = 0
		addsOf(daily, day).Add(s)
		addsOf(totals, total).Add(s)
	}
	return daily, totals
}

// AllCurrencies sums summary additions over currencies: the rows of the
// summary tables without a currency (their keys' Currency "").
func AllCurrencies(rows map[SummaryKey]*SummaryAdds) map[SummaryKey]*SummaryAdds {
	all := map[SummaryKey]*SummaryAdds{}
	for k, s := range rows {
		k.Currency = ""
		addsOf(all, k).Add(s)
	}
	return all
}

// LastTime is the latest time of events (zero for none): the overview's
// last_event_at never goes back.
func LastTime(events []Event) time.Time {
	var last time.Time
	for i, e := range events {
		if i == 0 || e.Time.After(last) {
			last = e.Time
		}
	}
	return last
}

// CompareSummaryKeys orders summary keys by dimension, key, currency and
// bucket.
func CompareSummaryKeys(a, b SummaryKey) int {
	return cmp.Or(cmp.Compare(a.Dimension, b.Dimension), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Currency, b.Currency),
		cmp.Compare(a.Bucket, b.Bucket))
}

// CompareHourKeys orders hour keys by owner type, owner id, hour and
// currency (the order of hourly_currency_profit's key).
func CompareHourKeys(a, b HourKey) int {
	return cmp.Or(cmp.Compare(a.OwnerType, b.OwnerType), cmp.Compare(a.OwnerID, b.OwnerID), cmp.Compare(a.Hour, b.Hour),
		cmp.Compare(a.Currency, b.Currency))
}
