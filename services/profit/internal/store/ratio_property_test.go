package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// history is what happens to one portfolio: a NAV profit (or loss) every
// hour, and ratio versions created along the way.
type history struct {
	base   time.Time
	navs   []historyNAV
	ratios []historyRatio
}

type historyNAV struct {
	end    time.Time
	amount string
}

type historyRatio struct {
	at                   time.Time
	team, platform, user string
}

// versionAt is the version in effect at end: the last one created at or
// before it, or the first.
func (h history) versionAt(end time.Time) int {
	v := 1
	for j, r := range h.ratios {
		if !r.at.After(end) {
			v = j + 1
		}
	}
	return v
}

// TestRatioVersionDoesNotDependOnConsumerLag feeds one history with random
// consumer delays, random NAV runs (one at a time or batched) and random
// interleavings of the profits with the ratio creations, and gets the same
// allocations every time: each profit is split with the version in effect
// at its period_end; one dated before the first version waits for it and
// gets it (docs/api.md#allocation-rule).
func TestRatioVersionDoesNotDependOnConsumerLag(t *testing.T) {
	h := history{base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	amounts := rand.New(rand.NewPCG(2026, 12))
	for i := 1; i <= 24; i++ {
		h.navs = append(h.navs, historyNAV{h.base.Add(time.Duration(i) * time.Hour),
			fmt.Sprintf("%d.%08d", amounts.IntN(150)-50, amounts.IntN(1e8))})
	}
	for _, r := range []historyRatio{{time.Time{}.Add(150 * time.Minute), "0.2", "0.1", "0.7"},
		{time.Time{}.Add(6*time.Hour + 30*time.Minute), "0.5", "0", "0.5"},
		{time.Time{}.Add(13 * time.Hour), "0.3333", "0.3334", "0.3333"},
		{time.Time{}.Add(20*time.Hour + time.Second), "0", "1", "0"}} {
		r.at = h.base.Add(r.at.Sub(time.Time{}))
		h.ratios = append(h.ratios, r)
	}
	var first []string
	for seed := range 6 {
		got := replay(t, h, rand.New(rand.NewPCG(uint64(seed), 7)))
		for i, a := range got {
			if a.status != profit.StatusNoDistribution && a.version != h.versionAt(h.navs[i].end) {
				t.Errorf("seed %d: the profit of %s is split with version %d, want %d",
					seed, h.navs[i].end.Format(time.TimeOnly), a.version, h.versionAt(h.navs[i].end))
			}
			line := fmt.Sprintf("%+v", a)
			if seed == 0 {
				first = append(first, line)
			} else if line != first[i] {
				t.Errorf("seed %d: allocation %s differs from seed 0's %s", seed, line, first[i])
			}
		}
	}
}

// replayed is what the rule made of one profit.
type replayed struct {
	snapshot                    int64
	status                      string
	version                     int
	team, platform, user, carry string
}

// replay runs h on a fresh store: each profit is consumed some time after
// its period ends (never before: as_of is not in the future), in order; a
// ratio is created at its time. Sorting by those times interleaves them.
func replay(t *testing.T, h history, rng *rand.Rand) []replayed {
	st, pool := newStore(t)
	ctx := context.Background()
	portfolio42(t, st, pool, false)
	type step struct {
		at         time.Time
		nav, ratio int // an index into h.navs or h.ratios; -1 for the other
	}
	var steps []step
	consumed := h.base
	for i, n := range h.navs {
		if at := n.end.Add(time.Duration(rng.IntN(600)) * time.Minute); at.After(consumed) {
			consumed = at
		}
		steps = append(steps, step{consumed, i, -1})
	}
	for j, r := range h.ratios {
		steps = append(steps, step{r.at, -1, j})
	}
	slices.SortStableFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })
	var pending []profit.NewProfit
	flush := func() {
		if len(pending) > 0 {
			inTx(t, pool, func(tx pgx.Tx) (any, error) { return nil, st.RecordNAVProfits(ctx, tx, pending) })
			pending = nil
		}
	}
	for _, s := range steps {
		if s.nav >= 0 {
			pending = append(pending, navProfit(42, int64(s.nav+1), h.navs[s.nav].end, h.navs[s.nav].amount))
			if rng.IntN(3) > 0 {
				flush()
			}
			continue
		}
		flush()
		r := h.ratios[s.ratio]
		in := profit.NewRatio{PortfolioID: 42, ToTeam: dec(r.team), ToPlatform: dec(r.platform), ToUser: dec(r.user), At: s.at}
		if _, err := st.CreateRatio(ctx, in, 1); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	rows, err := pool.Query(ctx, `SELECT snapshot_id, status, COALESCE(ratio_version, 0), to_team_amount::text,
		to_platform_amount::text, to_user_amount::text, loss_carryforward_after::text FROM allocations ORDER BY snapshot_id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (replayed, error) {
		var a replayed
		return a, r.Scan(&a.snapshot, &a.status, &a.version, &a.team, &a.platform, &a.user, &a.carry)
	})
	if err != nil || len(got) != len(h.navs) {
		t.Fatalf("%d allocations, %v", len(got), err)
	}
	return got
}
