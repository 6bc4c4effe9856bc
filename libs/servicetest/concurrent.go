package servicetest

import "sync"

// Concurrently sends n requests at once, send(i) sending the i-th, and
// returns the answers in that order: for the races the contract settles
// (docs/api.md#idempotency).
func Concurrently(n int, send func(i int) Result) []Result {
	rs := make([]Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rs[i] = send(i) })
	}
	wg.Wait()
	return rs
}

// Statuses counts answers by status.
func Statuses(rs []Result) map[int]int {
	n := map[int]int{}
	for _, r := range rs {
		n[r.Status]++
	}
	return n
}
