package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/devstack/invariants"
)

// summary is what the run prints at the end.
type summary struct {
	seed       uint64
	kills      map[string]int
	restarts   int
	pgRestarts int
	count      *counters
	invariants invariants.Report
	checks     []string // the checks that passed, with their figures
	replays    int
	// rolled are the replicas restarted by the rolling restart, in order.
	rolled      []string
	rollingTook time.Duration
	rolling     *rolling
	// faults are the database fault phases, in order.
	faults []*phase
}

func (s *summary) print(w io.Writer, failures []string) {
	kills := 0
	var per []string
	for name, n := range s.kills {
		kills += n
		per = append(per, fmt.Sprintf("%s %d", name, n))
	}
	slices.Sort(per)
	fmt.Fprintf(w, "\n== chaos summary (seed %d)\n", s.seed)
	fmt.Fprintf(w, "requests sent      %d attempts; %d acknowledged (%d after a retry), %d given up; %d reads (%d failed during the chaos)\n",
		s.count.attempts.Load(), s.count.acked.Load(), s.count.retried.Load(), s.count.gaveUp.Load(), s.count.reads.Load(), s.count.readErrors.Load())
	fmt.Fprintf(w, "kills              %d SIGKILLs of single service processes (%s); %d service restarts; %d PostgreSQL restart(s)\n", kills, strings.Join(per, ", "), s.restarts, s.pgRestarts)
	s.printFaults(w)
	if s.rolling != nil {
		s.printRolling(w, s.rolling)
	}
	fmt.Fprintf(w, "replays            %d acknowledged requests sent again with their Idempotency-Key\n", s.replays)
	fmt.Fprintln(w, "invariants:")
	s.invariants.Print(w)
	for _, c := range s.checks {
		fmt.Fprintln(w, "ok  "+c)
	}
	for _, f := range failures {
		fmt.Fprintln(w, "FAILED  "+f)
	}
	if len(failures) == 0 {
		fmt.Fprintf(w, "result             PASS: %d invariant violations, every acknowledged movement present exactly once\n", len(s.invariants.Violations()))
	} else {
		fmt.Fprintf(w, "result             FAIL: %d check(s) failed, %d invariant violations\n", len(failures), len(s.invariants.Violations()))
	}
}

// verify waits for the stack to be quiet and runs every check; it returns
// the failures.
func verify(ctx context.Context, d *driver, w *world, quiet time.Duration, sum *summary) []string {
	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }

	checker := &invariants.Client{Edge: d.edge, Token: w.admin.token, HTTP: d.http}
	report, err := invariants.Wait(ctx, checker, quiet)
	sum.invariants = report
	if err != nil {
		fail("invariant checker: %v", err)
	}
	for _, v := range report.Violations() {
		fail("invariant %q: %s", v.Name, v.Detail)
	}

	// A request retried with its key for a minute without a definitive
	// answer is a key left stuck in flight (or a service that never came
	// back): its client never got the original answer.
	if n := d.count.gaveUp.Load(); n > 0 {
		fail("%d request(s) got no definitive answer within %v of retries with their Idempotency-Key", n, d.retryFor)
	}
	failures = append(failures, w.checkNAVs(ctx, checker, sum)...)
	failures = append(failures, w.checkMovements(ctx, checker, d.acknowledged(), sum)...)
	failures = append(failures, checkReplays(ctx, d, sum)...)
	failures = append(failures, checkRolling(d, sum)...)
	failures = append(failures, checkFaults(sum)...)

	// The replays changed nothing.
	after, err := invariants.Check(ctx, checker)
	if err != nil {
		fail("invariant checker after the replays: %v", err)
	} else {
		b, a := report.Figures, after.Figures
		if !after.OK() || a.Entries != b.Entries || a.Allocations != b.Allocations || a.Withdrawals != b.Withdrawals || a.Reallocations != b.Reallocations {
			fail("after the replays: %+v (ok %v), before %+v", a, after.OK(), b)
		} else {
			sum.checks = append(sum.checks, fmt.Sprintf("replays: every answer the original one, and nothing changed (%d ledger entries before and after)", a.Entries))
		}
	}
	return failures
}

// snapshot and snapshotAllocation are what checkNAVs reads of NAV
// snapshots and of their allocations.
type (
	snapshot struct {
		ID     int64           `json:"id"`
		AsOf   time.Time       `json:"as_of"`
		Profit decimal.Decimal `json:"profit"`
	}
	snapshotAllocation struct {
		ID         int64  `json:"id"`
		SnapshotID *int64 `json:"snapshot_id"`
	}
)

// checkNAVs: every acknowledged snapshot is stored once, with the id its
// answer gave; nothing is stored that was not sent; every non-zero profit
// has exactly one allocation.
func (w *world) checkNAVs(ctx context.Context, c *invariants.Client, sum *summary) []string {
	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
	snapshots, allocated, acked := 0, 0, 0
	for _, pf := range w.portfolios {
		stored, err := invariants.ListAll[snapshot](ctx, c, fmt.Sprintf("/api/v1/portfolios/%d/nav", pf), nil)
		if err != nil {
			return append(failures, fmt.Sprintf("list NAV of portfolio %d: %v", pf, err))
		}
		w.mu.Lock()
		sent := slices.Clone(w.navs[pf])
		w.mu.Unlock()
		byAsOf := map[time.Time]int64{}
		for _, s := range stored {
			if _, dup := byAsOf[s.AsOf]; dup {
				fail("portfolio %d: two snapshots as of %s", pf, s.AsOf)
			}
			byAsOf[s.AsOf.UTC()] = s.ID
		}
		sentAt := map[time.Time]bool{}
		for _, s := range sent {
			sentAt[s.asOf] = true
			id, ok := byAsOf[s.asOf]
			if s.acked {
				acked++
				if !ok || id != s.snapshotID {
					fail("portfolio %d: acknowledged snapshot %d as of %s stored as %d (present %v)", pf, s.snapshotID, s.asOf, id, ok)
				}
			}
		}
		for at := range byAsOf {
			if !sentAt[at] {
				fail("portfolio %d: a snapshot as of %s that was never sent", pf, at)
			}
		}
		snapshots += len(stored)

		allocs, err := invariants.ListAll[snapshotAllocation](ctx, c, "/api/v1/profit/allocations",
			url.Values{"portfolio_id": {fmt.Sprint(pf)}})
		if err != nil {
			return append(failures, fmt.Sprintf("list allocations of portfolio %d: %v", pf, err))
		}
		perSnapshot := map[int64]int{}
		for _, a := range allocs {
			if a.SnapshotID != nil {
				perSnapshot[*a.SnapshotID]++
			}
		}
		for _, s := range stored {
			want := 1
			if s.Profit.IsZero() {
				want = 0
			}
			if perSnapshot[s.ID] != want {
				fail("portfolio %d: snapshot %d (profit %s) has %d allocations, want %d", pf, s.ID, s.Profit, perSnapshot[s.ID], want)
			}
			delete(perSnapshot, s.ID)
			allocated += want
		}
		for id, n := range perSnapshot {
			fail("portfolio %d: %d allocations of snapshot %d, which does not exist", pf, n, id)
		}
	}
	if len(failures) == 0 {
		sum.checks = append(sum.checks, fmt.Sprintf("NAV: %d acknowledged snapshots stored exactly once (%d stored in all), %d profits allocated exactly once",
			acked, snapshots, allocated))
	}
	return failures
}

// checkMovements: every acknowledged withdrawal, transition and
// reallocation is present exactly once (found by its unique amount), in
// the state its acknowledged transition says; nothing else exists.
func (w *world) checkMovements(ctx context.Context, c *invariants.Client, ledger []acked, sum *summary) []string {
	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
	type withdrawal struct {
		ID     int64           `json:"id"`
		Amount decimal.Decimal `json:"amount"`
		Status string          `json:"status"`
		Reason *string         `json:"reason"`
	}
	type reallocation struct {
		ID     int64           `json:"id"`
		Amount decimal.Decimal `json:"amount"`
	}
	withdrawals, err := invariants.ListAll[withdrawal](ctx, c, "/api/v1/withdrawals", nil)
	if err != nil {
		return []string{fmt.Sprintf("list withdrawals: %v", err)}
	}
	reallocations, err := invariants.ListAll[reallocation](ctx, c, "/api/v1/reallocations", nil)
	if err != nil {
		return []string{fmt.Sprintf("list reallocations: %v", err)}
	}
	wByAmount := map[string][]withdrawal{}
	wByID := map[int64]withdrawal{}
	for _, x := range withdrawals {
		wByAmount[x.Amount.StringFixed(8)] = append(wByAmount[x.Amount.StringFixed(8)], x)
		wByID[x.ID] = x
	}
	rByAmount := map[string][]reallocation{}
	for _, x := range reallocations {
		rByAmount[x.Amount.StringFixed(8)] = append(rByAmount[x.Amount.StringFixed(8)], x)
	}
	// Every amount is unique to one request: two rows with one amount are
	// a request executed twice.
	for amount, xs := range wByAmount {
		if len(xs) > 1 {
			fail("%d withdrawals of %s: one request executed %d times", len(xs), amount, len(xs))
		}
	}
	for amount, xs := range rByAmount {
		if len(xs) > 1 {
			fail("%d reallocations of %s: one request executed %d times", len(xs), amount, len(xs))
		}
	}
	sent := map[string]bool{}
	nW, nT, nR := 0, 0, 0
	for _, a := range ledger {
		body, _ := a.body.(map[string]any)
		switch a.kind {
		case "withdrawal":
			amount := body["amount"].(string)
			sent[amount] = true
			if a.answer.status != 201 {
				continue
			}
			nW++
			var got withdrawal
			_ = json.Unmarshal(a.answer.data, &got)
			if xs := wByAmount[amount]; len(xs) != 1 || xs[0].ID != got.ID {
				fail("acknowledged withdrawal %d of %s: stored as %+v", got.ID, amount, xs)
			}
		case "transition":
			if a.answer.status != 200 {
				continue
			}
			nT++
			var got withdrawal
			_ = json.Unmarshal(a.answer.data, &got)
			stored, ok := wByID[got.ID]
			if !ok || stored.Status != got.Status {
				fail("acknowledged %s of withdrawal %d (→ %s): stored as %+v", a.path, got.ID, got.Status, stored)
			}
		case "reallocation":
			amount := body["amount"].(string)
			sent[amount] = true
			if a.answer.status != 201 {
				continue
			}
			nR++
			if xs := rByAmount[amount]; len(xs) != 1 {
				fail("acknowledged reallocation of %s: stored %d times", amount, len(xs))
			}
		}
	}
	for amount := range wByAmount {
		if !sent[amount] {
			fail("a withdrawal of %s that no request asked for", amount)
		}
	}
	for amount := range rByAmount {
		if !sent[amount] {
			fail("a reallocation of %s that no request asked for", amount)
		}
	}
	if len(failures) == 0 {
		sum.checks = append(sum.checks, fmt.Sprintf("movements: %d acknowledged withdrawals, %d transitions, %d reallocations each present exactly once (%d withdrawals, %d reallocations stored)",
			nW, nT, nR, len(withdrawals), len(reallocations)))
	}
	return failures
}

// checkReplays sends every acknowledged request once more with its key:
// the answer must be the original one, marked as replayed, and change
// nothing (the movement checks above ran before; the invariant checker
// runs again after).
func checkReplays(ctx context.Context, d *driver, sum *summary) []string {
	var failures []string
	for _, a := range d.acknowledged() {
		if a.answer.status/100 != 2 {
			continue // a refusal before any effect stores nothing to replay
		}
		got, err := d.do(ctx, a.caller, "POST", a.path, a.body, a.key)
		if err != nil {
			failures = append(failures, fmt.Sprintf("replay %s %s: %v", a.path, a.key, err))
			continue
		}
		sum.replays++
		if got.status != a.answer.status || !got.replayed || !bytes.Equal(got.body, a.answer.body) {
			failures = append(failures, fmt.Sprintf("replay of %s (key %s, retried %v): %d replayed=%v %s, original %d %s",
				a.path, a.key, a.retried, got.status, got.replayed, got.body, a.answer.status, a.answer.body))
		}
		if len(failures) > 20 {
			break
		}
	}
	return failures
}
