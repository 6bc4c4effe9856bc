package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/fundplatform/platform/devstack/internal/edgeclient"
)

// portfolio is one portfolio of the fixture and its NAV history as the
// benchmark wrote it. mu serialises its NAV posts: as_of must increase.
type portfolio struct {
	id, userID, teamID int64

	mu       sync.Mutex
	navs     int     // NAV snapshots recorded so far (the baseline included)
	expected float64 // sum of the profits recorded: what stats must show as distributed
}

// fixture is the data the scenarios run on.
type fixture struct {
	admin      *client
	users      []int64
	teams      []int64
	portfolios []*portfolio
}

// navEpoch is the as_of of every portfolio's baseline snapshot; snapshot k
// is k days later.
var navEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// parallel runs fn(i) for i in [0, n) on workers goroutines and returns the
// first error.
func parallel(n, workers int, fn func(i int) error) error {
	var (
		mu    sync.Mutex
		first error
		next  int
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := i >= n || first != nil
				mu.Unlock()
				if stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return first
}

type idOnly struct {
	ID int64 `json:"id"`
}

// buildFixture creates the teams, users and portfolios, records every
// portfolio's baseline NAV and gives it a ratio (90 % to the user, 5 % to
// the team and the platform), so that every later NAV profit is allocated
// at once and funds the portfolio's user account.
func buildFixture(ctx context.Context, p *progress, admin *client, nUsers, nTeams, nPortfolios int) (*fixture, error) {
	f := &fixture{admin: admin, users: make([]int64, nUsers), teams: make([]int64, nTeams),
		portfolios: make([]*portfolio, nPortfolios)}
	run := time.Now().UnixNano()
	if err := parallel(nTeams, 4, func(i int) error {
		var t idOnly
		_, err := admin.do(ctx, "POST", "/api/v1/teams", map[string]string{"name": fmt.Sprintf("Bench desk %d", i)}, 201, &t)
		f.teams[i] = t.ID
		return err
	}); err != nil {
		return nil, fmt.Errorf("create teams: %w", err)
	}
	p.stepf("fixture: %d teams created", nTeams)
	if err := parallel(nUsers, 4, func(i int) error {
		var u idOnly
		_, err := admin.do(ctx, "POST", "/api/v1/users", map[string]string{
			"email": fmt.Sprintf("bench-%d-%d@example.com", run, i), "username": fmt.Sprintf("bench%d", i),
			"password": "bench-password-123", "role": "user"}, 201, &u)
		f.users[i] = u.ID
		return err
	}); err != nil {
		return nil, fmt.Errorf("create users: %w", err)
	}
	p.stepf("fixture: %d users created", nUsers)
	if err := parallel(nPortfolios, 8, func(i int) error {
		pf := &portfolio{userID: f.users[i%nUsers], teamID: f.teams[i%nTeams]}
		var out idOnly
		if _, err := admin.do(ctx, "POST", "/api/v1/portfolios", map[string]any{"name": fmt.Sprintf("Bench %d", i),
			"user_id": pf.userID, "team_id": pf.teamID, "currency": "USD"}, 201, &out); err != nil {
			return err
		}
		pf.id = out.ID
		f.portfolios[i] = pf
		if _, err := postNAV(ctx, admin, pf); err != nil {
			return err
		}
		if i%200 == 199 {
			p.stepf("fixture: %d/%d portfolios", i+1, nPortfolios)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("create portfolios: %w", err)
	}
	// The profit service learns of a portfolio from its portfolio.created
	// event: until then a ratio for it is 404.
	if err := parallel(nPortfolios, 8, func(i int) error {
		body := map[string]any{"portfolio_id": f.portfolios[i].id, "to_team": "0.0500", "to_platform": "0.0500", "to_user": "0.9000"}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			_, err := admin.do(ctx, "POST", "/api/v1/profit/profit_allocation_ratios", body, 201, nil)
			var se *edgeclient.StatusError
			if err == nil || !errors.As(err, &se) || se.Status != 404 || time.Now().After(deadline) {
				return err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}); err != nil {
		return nil, fmt.Errorf("create ratios: %w", err)
	}
	p.stepf("fixture: %d portfolios with baseline NAV and ratio", nPortfolios)
	return f, nil
}

// postNAV records pf's next snapshot: NAV 1000 + k on day k, so every
// snapshot after the baseline is a profit of 1. The caller holds pf.mu or
// owns pf alone. It returns the snapshot's id.
func postNAV(ctx context.Context, c *client, pf *portfolio) (snapshot int64, err error) {
	k := pf.navs
	var snap struct {
		ID     int64  `json:"id"`
		Profit string `json:"profit"`
	}
	_, err = c.do(ctx, "POST", fmt.Sprintf("/api/v1/portfolios/%d/nav", pf.id), map[string]any{
		"as_of": navEpoch.AddDate(0, 0, k).Format(time.RFC3339), "nav": strconv.Itoa(1000 + k),
	}, 201, &snap, "Idempotency-Key", fmt.Sprintf("bench-nav-%d-%d", pf.id, k))
	if err != nil {
		return 0, err
	}
	pf.navs++
	profit, err := strconv.ParseFloat(snap.Profit, 64)
	if err != nil {
		return 0, fmt.Errorf("NAV profit %q: %w", snap.Profit, err)
	}
	pf.expected += profit
	return snap.ID, nil
}
