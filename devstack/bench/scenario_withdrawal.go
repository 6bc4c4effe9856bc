package main

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// withdrawalResult is scenario (a): withdrawal requests through the edge.
type withdrawalResult struct {
	Accounts int      // distinct funded user accounts the requests spread over
	Steps    []result // one closed-loop step per concurrency
	Peak     result   // the step with the most requests per second
	HalfPeak result   // paced at half the peak rate
}

// withdrawalAmount is what each request withdraws.
const withdrawalAmount = "0.0001"

// fundedAccounts waits until the withdrawal service has credited the
// users' shares of the NAV profits, and returns the user ids whose
// available balance in USD (the fixture's portfolios' currency) covers at
// least need withdrawals.
func fundedAccounts(ctx context.Context, p *progress, f *fixture, need int, bound time.Duration) ([]int64, error) {
	minimum := float64(need) * 0.0001
	deadline := time.Now().Add(bound)
	for {
		var rows []struct {
			OwnerID   int64  `json:"owner_id"`
			Available string `json:"available"`
		}
		var ids []int64
		for offset := 0; ; offset += 1000 {
			var page []struct {
				OwnerID   int64  `json:"owner_id"`
				Available string `json:"available"`
			}
			if _, err := f.admin.do(ctx, "GET", fmt.Sprintf("/api/v1/balances?owner_type=user&currency=USD&limit=1000&offset=%d", offset), nil, 200, &page); err != nil {
				return nil, err
			}
			rows = append(rows, page...)
			if len(page) < 1000 {
				break
			}
		}
		for _, r := range rows {
			if a, err := strconv.ParseFloat(r.Available, 64); err == nil && a >= minimum {
				ids = append(ids, r.OwnerID)
			}
		}
		if len(ids) >= len(f.users) || time.Now().After(deadline) {
			if len(ids) == 0 {
				return nil, fmt.Errorf("no user account has %.2f available after %s", minimum, bound)
			}
			return ids, nil
		}
		p.stepf("withdrawal: %d/%d user accounts funded, waiting for the ledger", len(ids), len(f.users))
		time.Sleep(2 * time.Second)
	}
}

// runWithdrawals measures POST /api/v1/withdrawals at each concurrency,
// then at half the peak rate. Every request has its own Idempotency-Key
// and goes to the next account round-robin. onHalfPeak is called as the
// half-peak step starts (the bench profiles it).
func runWithdrawals(ctx context.Context, p *progress, f *fixture, accounts []int64, concurrency []int, step time.Duration, onHalfPeak func()) withdrawalResult {
	out := withdrawalResult{Accounts: len(accounts)}
	next := 0
	request := func(tag string) op {
		base := next
		next += 10_000_000
		return func(ctx context.Context, _, seq int) error {
			n := base + seq
			_, err := f.admin.do(ctx, "POST", "/api/v1/withdrawals", map[string]any{
				"from_type": "user", "owner_id": accounts[n%len(accounts)], "currency": "USD", "amount": withdrawalAmount,
			}, 201, nil, "Idempotency-Key", fmt.Sprintf("bench-wd-%s-%d", tag, n))
			return err
		}
	}
	for _, c := range concurrency {
		r := runClosed(ctx, c, step, request(fmt.Sprintf("c%d", c)))
		out.Steps = append(out.Steps, r)
		if r.Throughput() > out.Peak.Throughput() {
			out.Peak = r
		}
		p.stepf("withdrawal: concurrency %d: %.0f req/s, p50 %.1f ms, p99 %.1f ms, %d errors %s",
			c, r.Throughput(), r.P(50), r.P(99), r.Errors, r.FirstErr)
	}
	rate := out.Peak.Throughput() / 2
	if rate >= 1 {
		p.stepf("withdrawal: paced at %.0f req/s (half the peak) for %s", rate, step)
		onHalfPeak()
		out.HalfPeak = runPaced(ctx, rate, step, 64, request("half"))
		p.stepf("withdrawal: half peak: p50 %.1f ms, p99 %.1f ms, %d errors", out.HalfPeak.P(50), out.HalfPeak.P(99), out.HalfPeak.Errors)
	}
	return out
}
