package stats

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/shopspring/decimal"
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
	RatioChanged   bool // profit.ratio_changed
	Withdrawal     *Withdrawal
	Reallocation   *Reallocation
}

// ProfitRecorded is what a portfolio.profit_recorded event says.
type ProfitRecorded struct {
	PortfolioID, SnapshotID, UserID, TeamID int64
	PeriodEnd                               time.Time
	Profit                                  decimal.Decimal
}

// Allocation is what a profit.allocated event says.
type Allocation struct {
	AllocationID, PortfolioID, UserID, TeamID int64
	Manual                                    bool
	PeriodEnd                                 time.Time
	Profit, Distributable                     decimal.Decimal
	ToTeam, ToPlatform, ToUser                decimal.Decimal
}

// Withdrawal is what a withdrawal.* event says.
type Withdrawal struct {
	ID       int64
	FromType string
	OwnerID  int64
	Amount   decimal.Decimal
	// Status is pending (withdrawal.requested), completed or failed.
	Status string
}

// Reallocation is what a funds.reallocated event says.
type Reallocation struct {
	ID     int64
	Amount decimal.Decimal
}

// Withdrawal statuses (docs/api.md#withdrawal-service).
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// SnapshotKey names a NAV snapshot: its portfolio and its id.
type SnapshotKey struct{ PortfolioID, SnapshotID int64 }

// WithdrawalState is a withdrawal as the read models hold it: its status
// and the amount recorded when it was first seen.
type WithdrawalState struct {
	Status string
	Amount decimal.Decimal
}

// Needs are what a run of events must have claimed, read or written before
// it can be decided: the owners its portfolio events set (the last of each
// portfolio, by portfolio id), and the ids of its allocations,
// reallocations, snapshots and withdrawals, in event order.
type Needs struct {
	Owners                                        []Owners
	AllocationIDs, ReallocationIDs, WithdrawalIDs []int64
	Snapshots                                     []SnapshotKey
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
		case e.Reallocation != nil:
			n.ReallocationIDs = append(n.ReallocationIDs, e.Reallocation.ID)
		case e.Withdrawal != nil:
			n.WithdrawalIDs = append(n.WithdrawalIDs, e.Withdrawal.ID)
		case e.ProfitRecorded != nil:
			n.Snapshots = append(n.Snapshots, SnapshotKey{e.ProfitRecorded.PortfolioID, e.ProfitRecorded.SnapshotID})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(owners)) {
		n.Owners = append(n.Owners, owners[id])
	}
	return n
}

// CarriesMoved are the portfolios (sorted, once each) whose loss
// carry-forward events move: those of new NAV profits (snapshots not seen
// before) and of new manual allocations. Manual profits that distributed
// nothing never reach stats (see the package comment).
func CarriesMoved(events []Event, newAllocations map[int64]bool, newSnapshots map[SnapshotKey]bool) []int64 {
	var ids []int64
	for _, e := range events {
		if p := e.ProfitRecorded; p != nil && newSnapshots[SnapshotKey{p.PortfolioID, p.SnapshotID}] {
			ids = append(ids, p.PortfolioID)
		}
		if a := e.Allocation; a != nil && a.Manual && newAllocations[a.AllocationID] {
			ids = append(ids, a.PortfolioID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Prior is the state a run is decided over, as the store read it under
// row locks before the run: the portfolios, allocations, reallocations and
// snapshots the read models had not seen (claimed by this run), the stored
// states of the run's withdrawals and the carry-forwards it moves.
type Prior struct {
	NewPortfolios, NewAllocations, NewReallocations map[int64]bool
	NewSnapshots                                    map[SnapshotKey]bool
	Withdrawals                                     map[int64]WithdrawalState
	Carry                                           map[int64]decimal.Decimal
}

// OverviewAdds are what a run adds to the overview's sums and counts.
type OverviewAdds struct {
	Profit, Distributed, ToTeam, ToPlatform, ToUser, LossCarry, Reallocated            decimal.Decimal
	Portfolios, Allocations, Withdrawals, Reallocations, ProfitsRecorded, RatioChanges int64
}

// TotalsAdds are what a run adds to one portfolio's totals.
type TotalsAdds struct {
	AccProfit, Distributed, ToTeam, ToPlatform, ToUser decimal.Decimal
	// UpdatedAt is the latest event's time; zero when only a portfolio
	// event touched the totals (the row exists so that it is listed).
	UpdatedAt time.Time
}

// HourKey names an owner's hour of credits.
type HourKey struct {
	OwnerType string
	OwnerID   int64
	Hour      int64 // Unix seconds of the UTC hour
}

// SummaryKey names a summary row: a dimension (portfolio, team, user or
// "all"), its key and its bucket: the Unix seconds of the UTC hour in
// summary_hourly, of the UTC day's midnight in summary_daily, 0 in
// summary_totals.
type SummaryKey struct {
	Dimension, Key string
	Bucket         int64
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
type Additions struct {
	Overview OverviewAdds
	Totals   map[int64]*TotalsAdds
	Hourly   map[HourKey]decimal.Decimal
	Summary  map[SummaryKey]*SummaryAdds // at the hour
	ByStatus map[string]*StatusAdds
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
	adds  *Additions
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
		carry: maps.Clone(prior.Carry),
		adds: &Additions{Totals: map[int64]*TotalsAdds{}, Hourly: map[HourKey]decimal.Decimal{},
			Summary: map[SummaryKey]*SummaryAdds{}, ByStatus: map[string]*StatusAdds{},
			Withdrawals: map[int64]WithdrawalState{}, Carry: map[int64]decimal.Decimal{}},
	}
	if a.carry == nil {
		a.carry = map[int64]decimal.Decimal{}
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
	case e.RatioChanged:
		a.adds.Overview.RatioChanges++
	case e.Withdrawal != nil:
		a.withdrawal(*e.Withdrawal, e.Time)
	case e.Reallocation != nil:
		if claim(a.prior.NewReallocations, e.Reallocation.ID) {
			o := &a.adds.Overview
			o.Reallocations++
			o.Reallocated = o.Reallocated.Add(e.Reallocation.Amount)
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
// new to the read models is counted, and every portfolio gets a totals
// row so that it is listed.
func (a *accumulator) portfolio(o Owners) {
	if claim(a.prior.NewPortfolios, o.PortfolioID) {
		a.adds.Overview.Portfolios++
	}
	a.total(o.PortfolioID)
}

// profitRecorded records a NAV profit or loss. NAV profits are counted
// here, losses included, because the profit service announces only the
// allocations that distribute something (profit.allocated): the total and
// accumulated profit, the summary's profit at the hour of period_end, and
// the portfolio's loss carry-forward. The money of the allocation comes
// with profit.allocated. A snapshot seen before is skipped, as the profit
// service skips it.
func (a *accumulator) profitRecorded(p ProfitRecorded, at time.Time) error {
	if !claim(a.prior.NewSnapshots, SnapshotKey{p.PortfolioID, p.SnapshotID}) {
		return nil
	}
	a.adds.Overview.ProfitsRecorded++
	a.adds.Overview.Profit = a.adds.Overview.Profit.Add(p.Profit)
	t := a.total(p.PortfolioID)
	t.AccProfit = t.AccProfit.Add(p.Profit)
	t.seen(at)
	for _, k := range summaryKeys(p.PortfolioID, p.UserID, p.TeamID) {
		s := a.summaryRow(k, p.PeriodEnd)
		s.Profit = s.Profit.Add(p.Profit)
	}
	return a.carryForward(p.PortfolioID, p.Profit)
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
	o := &a.adds.Overview
	o.Allocations++
	o.Profit, o.Distributed = o.Profit.Add(profit), o.Distributed.Add(al.Distributable)
	o.ToTeam, o.ToPlatform, o.ToUser = o.ToTeam.Add(al.ToTeam), o.ToPlatform.Add(al.ToPlatform), o.ToUser.Add(al.ToUser)
	t := a.total(al.PortfolioID)
	t.AccProfit, t.Distributed = t.AccProfit.Add(profit), t.Distributed.Add(al.Distributable)
	t.ToTeam, t.ToPlatform, t.ToUser = t.ToTeam.Add(al.ToTeam), t.ToPlatform.Add(al.ToPlatform), t.ToUser.Add(al.ToUser)
	t.seen(at)
	a.credit(al)
	for _, k := range summaryKeys(al.PortfolioID, al.UserID, al.TeamID) {
		s := a.summaryRow(k, al.PeriodEnd)
		s.Profit, s.Distributed = s.Profit.Add(profit), s.Distributed.Add(al.Distributable)
		s.ToTeam, s.ToPlatform, s.ToUser = s.ToTeam.Add(al.ToTeam), s.ToPlatform.Add(al.ToPlatform), s.ToUser.Add(al.ToUser)
	}
	if al.Manual {
		return a.carryForward(al.PortfolioID, al.Profit)
	}
	return nil
}

// credit adds an allocation's shares to the hourly credits of its user,
// team and the platform at the hour of period_end; a zero share adds no
// row.
func (a *accumulator) credit(al Allocation) {
	h := hourOf(al.PeriodEnd)
	for _, c := range []struct {
		ownerType string
		ownerID   int64
		amount    decimal.Decimal
	}{{auth.OwnerUser, al.UserID, al.ToUser}, {auth.OwnerTeam, al.TeamID, al.ToTeam}, {auth.OwnerPlatform, 0, al.ToPlatform}} {
		if !c.amount.IsZero() {
			k := HourKey{c.ownerType, c.ownerID, h}
			a.adds.Hourly[k] = a.adds.Hourly[k].Add(c.amount)
		}
	}
}

// carryForward applies the allocation rule carry = max(0, carry − p)
// (docs/api.md#allocation-rule) to the portfolio's carry-forward and the
// overview's total.
func (a *accumulator) carryForward(portfolioID int64, p decimal.Decimal) error {
	before, ok := a.carry[portfolioID]
	if !ok {
		return fmt.Errorf("stats: carry-forward of portfolio %d not loaded", portfolioID)
	}
	after := decimal.Max(decimal.Zero, before.Sub(p))
	a.carry[portfolioID] = after
	a.adds.Overview.LossCarry = a.adds.Overview.LossCarry.Add(after.Sub(before))
	return nil
}

// withdrawal moves a withdrawal's amount between the status totals, once
// per transition, whatever order the events arrive in: the first event of
// a withdrawal adds it to its status (and to the count); pending →
// completed/failed moves the amount recorded when it was first seen;
// anything else (a repeat, a requested after its outcome, an outcome after
// the other outcome) changes nothing. Completed amounts are also added to
// the summary's withdrawn at the hour of the event, under the whole
// platform and the owner's team or user key.
func (a *accumulator) withdrawal(w Withdrawal, at time.Time) {
	st, ok := a.adds.Withdrawals[w.ID]
	if !ok {
		st, ok = a.prior.Withdrawals[w.ID]
	}
	switch {
	case !ok:
		a.adds.Withdrawals[w.ID] = WithdrawalState{Status: w.Status, Amount: w.Amount}
		a.adds.Overview.Withdrawals++
		a.status(w.Status).add(w.Amount, 1)
	case st.Status == StatusPending && w.Status != StatusPending:
		a.adds.Withdrawals[w.ID] = WithdrawalState{Status: w.Status, Amount: st.Amount}
		a.status(StatusPending).add(st.Amount.Neg(), -1)
		a.status(w.Status).add(st.Amount, 1)
	default:
		return
	}
	if w.Status != StatusCompleted {
		return
	}
	keys := []SummaryKey{{Dimension: "all"}}
	switch w.FromType {
	case auth.OwnerUser:
		keys = append(keys, SummaryKey{Dimension: GroupUser, Key: strconv.FormatInt(w.OwnerID, 10)})
	case auth.OwnerTeam:
		keys = append(keys, SummaryKey{Dimension: GroupTeam, Key: strconv.FormatInt(w.OwnerID, 10)})
	}
	for _, k := range keys {
		s := a.summaryRow(k, at)
		s.Withdrawn = s.Withdrawn.Add(w.Amount)
	}
}

// summaryKeys are the summary rows a portfolio's profit goes to (their
// Bucket unset).
func summaryKeys(portfolioID, userID, teamID int64) []SummaryKey {
	return []SummaryKey{
		{Dimension: GroupPortfolio, Key: strconv.FormatInt(portfolioID, 10)},
		{Dimension: GroupTeam, Key: strconv.FormatInt(teamID, 10)},
		{Dimension: GroupUser, Key: strconv.FormatInt(userID, 10)},
		{Dimension: "all"},
	}
}

// hourOf is the Unix seconds of t's UTC hour.
func hourOf(t time.Time) int64 { return t.UTC().Truncate(time.Hour).Unix() }

func (a *accumulator) total(portfolioID int64) *TotalsAdds {
	t := a.adds.Totals[portfolioID]
	if t == nil {
		t = &TotalsAdds{}
		a.adds.Totals[portfolioID] = t
	}
	return t
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

// CompareSummaryKeys orders summary keys by dimension, key and bucket.
func CompareSummaryKeys(a, b SummaryKey) int {
	return cmp.Or(cmp.Compare(a.Dimension, b.Dimension), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Bucket, b.Bucket))
}

// CompareHourKeys orders hour keys by owner type, owner id and hour.
func CompareHourKeys(a, b HourKey) int {
	return cmp.Or(cmp.Compare(a.OwnerType, b.OwnerType), cmp.Compare(a.OwnerID, b.OwnerID), cmp.Compare(a.Hour, b.Hour))
}
