package eventtest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
)

// Fed is a consumer's handlers over a fresh database and the Inbox that
// feeds them.
type Fed struct {
	*Inbox
	Handler inbox.Handler
	Batch   inbox.BatchHandler
}

// BatchEqualsOneByOne checks what inbox.Config asks of a BatchHandler:
// the same effects as its Handler applying the events one by one. For
// seeds 0 to 3, the events stream draws from rand.NewPCG(seed, seq) are
// applied one per transaction through Handler to a database of newDB, and
// in runs of random length through Batch to another; each query must then
// give the same rows on both. check, when not nil, tests more of the first
// (e.g. that the stream did exercise the handler).
func BatchEqualsOneByOne(t *testing.T, seq uint64, stream func(*testing.T, *rand.Rand) []eventbus.Envelope,
	newDB func(*testing.T) Fed, queries []string, check func(t *testing.T, single *Inbox)) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seq))
			envs := stream(t, rng)
			single, batched := newDB(t), newDB(t)
			single.applyEach(t, envs, single.Handler)
			batched.applyInRuns(t, rng, envs, batched.Batch)
			for _, q := range queries {
				if want, got := single.dump(t, q), batched.dump(t, q); got != want {
					t.Errorf("%.60s…\nafter the runs:\n%s\nafter one event per transaction:\n%s", q, got, want)
				}
			}
			if check != nil {
				check(t, single.Inbox)
			}
		})
	}
}

// applyEach applies each event of stream in a run of its own with h, and
// fails the test on an error.
func (in *Inbox) applyEach(t testing.TB, stream []eventbus.Envelope, h inbox.Handler) {
	t.Helper()
	for _, env := range stream {
		if err := in.Apply([]eventbus.Envelope{env}, One(h)); err != nil {
			t.Fatalf("%s %s: %v", env.Type, env.ID, err)
		}
	}
}

// applyInRuns applies stream in runs of 1 to 60 events, their lengths
// drawn from rng, with h (as the inbox hands a batch handler the messages
// of a partition at hand), and fails the test on an error.
func (in *Inbox) applyInRuns(t testing.TB, rng *rand.Rand, stream []eventbus.Envelope, h inbox.BatchHandler) {
	t.Helper()
	for rest := stream; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(60))
		if err := in.Apply(rest[:n], h); err != nil {
			t.Fatalf("run of %d: %v", n, err)
		}
		rest = rest[n:]
	}
}

// dump is the rows of query on the inbox's database as JSON, in a stable
// order.
func (in *Inbox) dump(t testing.TB, query string) string {
	t.Helper()
	var out string
	if err := in.Pool.QueryRow(t.Context(), `SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY to_jsonb(r)::text), '[]')::text
		FROM (`+query+`) r`).Scan(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
