package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/devstack/stack"
)

// world is what the load works on.
type world struct {
	admin      caller
	users      []user
	teams      []int64
	portfolios []int64
	// seq numbers every withdrawal and reallocation: its amount carries
	// the number in its last digits, so each one can be found again.
	seq atomic.Int64

	mu   sync.Mutex
	navs map[int64][]sentNAV // per portfolio, in as_of order
}

type user struct {
	id     int64
	caller caller
}

// sentNAV is a NAV snapshot the load sent.
type sentNAV struct {
	asOf time.Time
	// snapshotID is set when it was acknowledged.
	snapshotID int64
	acked      bool
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func login(ctx context.Context, d *driver, email, password string) (caller, error) {
	a, err := d.do(ctx, caller{}, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, "")
	if err != nil {
		return caller{}, err
	}
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	if a.status != 200 || json.Unmarshal(a.data, &tk) != nil {
		return caller{}, fmt.Errorf("log in as %s: %d %s", email, a.status, a.body)
	}
	return caller{name: email, token: tk.AccessToken}, nil
}

// must sends a set-up request and decodes its data.
func must(ctx context.Context, d *driver, c caller, method, path string, body, out any, want int) error {
	a, err := d.do(ctx, c, method, path, body, "")
	if err != nil {
		return err
	}
	if a.status != want {
		return fmt.Errorf("%s %s = %d %s, want %d", method, path, a.status, a.body, want)
	}
	if out != nil {
		return json.Unmarshal(a.data, out)
	}
	return nil
}

// setUp creates the teams, users and portfolios, gives each portfolio a
// ratio and a large first profit, and waits until every user is credited.
func setUp(ctx context.Context, d *driver, ready stack.Ready, users int) (*world, error) {
	admin, err := login(ctx, d, ready.AdminEmail, ready.AdminPassword)
	if err != nil {
		return nil, err
	}
	w := &world{admin: admin, navs: map[int64][]sentNAV{}}
	var id struct {
		ID int64 `json:"id"`
	}
	for i := range (users + 1) / 2 {
		if err := must(ctx, d, admin, "POST", "/api/v1/teams", map[string]string{"name": fmt.Sprintf("chaos team %d", i)}, &id, 201); err != nil {
			return nil, err
		}
		w.teams = append(w.teams, id.ID)
	}
	for i := range users {
		email, password := fmt.Sprintf("chaos-%d@example.com", i), fmt.Sprintf("chaos-password-%d", i)
		if err := must(ctx, d, admin, "POST", "/api/v1/users", map[string]string{"email": email,
			"username": fmt.Sprintf("chaos%d", i), "password": password, "role": "user"}, &id, 201); err != nil {
			return nil, err
		}
		uid := id.ID
		team := w.teams[i/2]
		if err := must(ctx, d, admin, "PUT", fmt.Sprintf("/api/v1/teams/%d/members/%d", team, uid), nil, nil, 200); err != nil {
			return nil, err
		}
		c, err := login(ctx, d, email, password)
		if err != nil {
			return nil, err
		}
		w.users = append(w.users, user{id: uid, caller: c})
		if err := must(ctx, d, admin, "POST", "/api/v1/portfolios", map[string]any{"name": fmt.Sprintf("chaos portfolio %d", i),
			"user_id": uid, "team_id": team}, &id, 201); err != nil {
			return nil, err
		}
		w.portfolios = append(w.portfolios, id.ID)
	}
	for _, pf := range w.portfolios {
		if err := eventually(ctx, fmt.Sprintf("ratio of portfolio %d", pf), func() error {
			return must(ctx, d, admin, "POST", "/api/v1/profit/profit_allocation_ratios", map[string]any{"portfolio_id": pf,
				"to_team": "0.2", "to_platform": "0.1", "to_user": "0.7"}, nil, 201)
		}); err != nil {
			return nil, err
		}
		// The baseline and a first profit of 1 000 000: the user gets
		// 700 000 to withdraw from, the platform 100 000 to reallocate.
		for _, nav := range []string{"1000", "1001000"} {
			if _, err := w.sendNAV(ctx, d, pf, nav); err != nil {
				return nil, err
			}
		}
	}
	for _, u := range w.users {
		if err := eventually(ctx, fmt.Sprintf("user %d credited", u.id), func() error {
			// The world's portfolios book in USD, their default currency.
			var b struct {
				Balances []struct {
					Credited decimal.Decimal `json:"credited"`
				} `json:"balances"`
			}
			if err := must(ctx, d, u.caller, "GET", fmt.Sprintf("/api/v1/balances/user/%d?currency=USD", u.id), nil, &b, 200); err != nil {
				return err
			}
			if len(b.Balances) != 1 || b.Balances[0].Credited.IsZero() {
				return fmt.Errorf("not credited yet")
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func eventually(ctx context.Context, what string, f func() error) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// sendNAV records the portfolio's next snapshot, a minute after its last.
func (w *world) sendNAV(ctx context.Context, d *driver, pf int64, nav string) (answer, error) {
	w.mu.Lock()
	n := len(w.navs[pf])
	asOf := t0.Add(time.Duration(n) * time.Minute)
	w.navs[pf] = append(w.navs[pf], sentNAV{asOf: asOf})
	w.mu.Unlock()
	a, err := d.send(ctx, "nav", w.admin, fmt.Sprintf("/api/v1/portfolios/%d/nav", pf), fmt.Sprintf("chaos-nav-%d-%d", pf, n),
		map[string]any{"as_of": asOf.Format(time.RFC3339), "nav": nav})
	if err != nil {
		return a, err
	}
	if a.status != 201 {
		return a, fmt.Errorf("NAV %d of portfolio %d = %d %s", n, pf, a.status, a.body)
	}
	var snap struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(a.data, &snap); err != nil {
		return a, err
	}
	w.mu.Lock()
	w.navs[pf][n].snapshotID, w.navs[pf][n].acked = snap.ID, true
	w.mu.Unlock()
	return a, nil
}

// navLoop records a random walk of valuations of one portfolio.
func (w *world) navLoop(ctx context.Context, d *driver, stop *atomic.Bool, pf int64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	nav := decimal.NewFromInt(1001000)
	for !stop.Load() {
		// −2 % … +3 %, to 8 places: profits and losses.
		change := decimal.NewFromInt(int64(rng.IntN(5_000_000) - 2_000_000)).Shift(-8)
		next := nav.Add(nav.Mul(change).Truncate(8))
		if _, err := w.sendNAV(ctx, d, pf, next.String()); err != nil {
			logf("%v", err)
		} else {
			nav = next
		}
		time.Sleep(time.Duration(20+rng.IntN(40)) * time.Millisecond)
	}
}

// uniqueAmount is base plus seq × 10⁻⁸: every movement of the run has an
// amount of its own.
func uniqueAmount(base int64, seq int64) string {
	return decimal.NewFromInt(base).Add(decimal.NewFromInt(seq).Shift(-8)).StringFixed(8)
}

// withdrawalLoop requests withdrawals from random users and then
// completes, fails, cancels or leaves each one pending.
func (w *world) withdrawalLoop(ctx context.Context, d *driver, stop *atomic.Bool, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	for !stop.Load() {
		u := w.users[rng.IntN(len(w.users))]
		seq := w.seq.Add(1)
		a, err := d.send(ctx, "withdrawal", u.caller, "/api/v1/withdrawals", fmt.Sprintf("chaos-w-%d", seq),
			map[string]any{"from_type": "user", "owner_id": u.id, "currency": "USD", "amount": uniqueAmount(int64(1+rng.IntN(100)), seq)})
		if err != nil {
			logf("%v", err)
			continue
		}
		var wd struct {
			ID int64 `json:"id"`
		}
		if a.status != 201 || json.Unmarshal(a.data, &wd) != nil {
			continue
		}
		path := fmt.Sprintf("/api/v1/withdrawals/%d/", wd.ID)
		var terr error
		switch rng.IntN(4) {
		case 0:
			_, terr = d.send(ctx, "transition", w.admin, path+"complete", fmt.Sprintf("chaos-w-%d-complete", seq), nil)
		case 1:
			_, terr = d.send(ctx, "transition", w.admin, path+"fail", fmt.Sprintf("chaos-w-%d-fail", seq), map[string]string{"reason": "bank rejected"})
		case 2:
			_, terr = d.send(ctx, "transition", u.caller, path+"cancel", fmt.Sprintf("chaos-w-%d-cancel", seq), nil)
		}
		if terr != nil {
			logf("%v", terr)
		}
		time.Sleep(time.Duration(10+rng.IntN(30)) * time.Millisecond)
	}
}

// reallocationLoop moves small amounts from the platform to the teams.
func (w *world) reallocationLoop(ctx context.Context, d *driver, stop *atomic.Bool, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	for !stop.Load() {
		seq := w.seq.Add(1)
		team := w.teams[rng.IntN(len(w.teams))]
		if _, err := d.send(ctx, "reallocation", w.admin, "/api/v1/reallocations", fmt.Sprintf("chaos-r-%d", seq),
			map[string]any{"from_type": "platform", "from_id": 0, "to_type": "team", "to_id": team, "currency": "USD",
				"amount": uniqueAmount(int64(rng.IntN(10)), seq), "reason": "chaos"}); err != nil {
			logf("%v", err)
		}
		time.Sleep(time.Duration(50+rng.IntN(100)) * time.Millisecond)
	}
}

// readLoop reads what users, SREs and dashboards read.
func (w *world) readLoop(ctx context.Context, d *driver, stop *atomic.Bool, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 4))
	for !stop.Load() {
		u := w.users[rng.IntN(len(w.users))]
		pf := w.portfolios[rng.IntN(len(w.portfolios))]
		for _, r := range []struct {
			c    caller
			path string
		}{
			{u.caller, fmt.Sprintf("/api/v1/balances/user/%d", u.id)},
			{u.caller, "/api/v1/withdrawals?limit=10"},
			{w.admin, fmt.Sprintf("/api/v1/stats/acc_profit/%d", pf)},
			{w.admin, "/api/v1/stats/overview"},
			{w.admin, fmt.Sprintf("/api/v1/profit/allocations?portfolio_id=%d&limit=10", pf)},
		} {
			d.read(ctx, r.c, r.path)
		}
		time.Sleep(time.Duration(50+rng.IntN(100)) * time.Millisecond)
	}
}
