package invariants

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// consistent is a small quiet stack: one allocation of 100 (team 20,
// platform 10, user 70), a completed withdrawal of 30 and a failed one of
// 5 from the user, and a reallocation of 4 from the platform to the team.
func consistent() *snapshot {
	s := &snapshot{
		entries: []entry{
			{TransferID: 1, Account: "system:profit", Amount: d("-100"), Kind: "profit_credit", RefType: "allocation", RefID: 9},
			{TransferID: 1, Account: "user:7", Amount: d("70"), Kind: "profit_credit", RefType: "allocation", RefID: 9},
			{TransferID: 1, Account: "team:3", Amount: d("20"), Kind: "profit_credit", RefType: "allocation", RefID: 9},
			{TransferID: 1, Account: "platform", Amount: d("10"), Kind: "profit_credit", RefType: "allocation", RefID: 9},
			{TransferID: 2, Account: "user:7", Amount: d("-30"), Kind: "withdrawal_hold"},
			{TransferID: 2, Account: "held:user:7", Amount: d("30"), Kind: "withdrawal_hold"},
			{TransferID: 3, Account: "held:user:7", Amount: d("-30"), Kind: "withdrawal_payout"},
			{TransferID: 3, Account: "system:payout", Amount: d("30"), Kind: "withdrawal_payout"},
			{TransferID: 4, Account: "platform", Amount: d("-4"), Kind: "reallocation"},
			{TransferID: 4, Account: "team:3", Amount: d("4"), Kind: "reallocation"},
		},
		verify: verifyResult{OK: true, Accounts: 6, Entries: 10},
		balances: []Balance{
			{OwnerType: "user", OwnerID: 7, Credited: d("70"), Withdrawn: d("30"), Available: d("40")},
			{OwnerType: "team", OwnerID: 3, Credited: d("20"), ReallocatedIn: d("4"), Available: d("24")},
			{OwnerType: "platform", Credited: d("10"), ReallocatedOut: d("4"), Available: d("6")},
		},
		allocations: []Allocation{
			{ID: 9, PortfolioID: 1, Source: "nav", Status: "allocated", ProfitAmount: d("100"), Distributable: d("100"),
				ToTeam: d("20"), ToPlatform: d("10"), ToUser: d("70"), UserID: 7, TeamID: 3},
			{ID: 10, PortfolioID: 1, Source: "nav", Status: "no_distribution", ProfitAmount: d("-8"), UserID: 7, TeamID: 3},
		},
		accProfit:     []accProfit{{PortfolioID: 1, AccProfit: d("92"), Distributed: d("100"), ToTeam: d("20"), ToPlatform: d("10"), ToUser: d("70")}},
		withdrawals:   []withdrawal{{ID: 1, Amount: d("30"), Status: "completed"}, {ID: 2, Amount: d("5"), Status: "failed"}},
		reallocations: []reallocation{{ID: 1, Amount: d("4")}},
	}
	o := &s.overview
	o.TotalProfit, o.TotalDistributed, o.ToTeamTotal, o.ToPlatformTotal, o.ToUserTotal = d("92"), d("100"), d("20"), d("10"), d("70")
	o.WithdrawnCompleted, o.WithdrawnFailed, o.ReallocatedTotal = d("30"), d("5"), d("4")
	o.Counts.Allocations, o.Counts.Withdrawals, o.Counts.Reallocations = 1, 2, 1
	return s
}

func TestConsistentStackHolds(t *testing.T) {
	r := consistent().check()
	if !r.OK() {
		var b strings.Builder
		r.Print(&b)
		t.Fatalf("a consistent stack reported violations:\n%s", b.String())
	}
	if len(r.Results) != 8 || r.Figures.Entries != 10 || r.Figures.Allocations != 2 || !r.Figures.Distributed.Equal(d("100")) {
		t.Fatalf("report = %+v", r)
	}
}

// Each way money can go wrong breaks exactly the invariant that guards it.
func TestEachViolationIsReported(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(s *snapshot)
		want   string
	}{
		{"a posting edited", func(s *snapshot) { s.entries[1].Amount = d("71") }, "ledger postings sum to zero"},
		{"hash chain broken", func(s *snapshot) { bad := int64(4); s.verify = verifyResult{FirstBadEntryID: &bad} }, "ledger hash chains verify"},
		{"an overdraft", func(s *snapshot) { s.balances[0].Withdrawn, s.balances[0].Available = d("80"), d("-10") }, "every account's available >= 0"},
		{"a credit applied twice", func(s *snapshot) {
			s.entries = append(s.entries,
				entry{TransferID: 5, Account: "system:profit", Amount: d("-70"), Kind: "profit_credit", RefID: 9},
				entry{TransferID: 5, Account: "user:7", Amount: d("70"), Kind: "profit_credit", RefID: 9})
		}, "each allocation credited once, exactly"},
		{"a credit lost", func(s *snapshot) { s.entries = s.entries[4:] }, "each allocation credited once, exactly"},
		{"stats lost an allocation", func(s *snapshot) { s.accProfit[0].ToUser = d("0") }, "per portfolio: profit service == ledger == stats"},
		{"stats lost a loss", func(s *snapshot) { s.accProfit[0].AccProfit = d("100") }, "per portfolio: profit service == ledger == stats"},
		{"overview counted twice", func(s *snapshot) { s.overview.TotalDistributed = d("200") }, "platform totals: profit service == balances == stats"},
		{"a withdrawal missing in stats", func(s *snapshot) { s.overview.WithdrawnFailed = d("0") }, "withdrawals by status: withdrawal service == stats"},
		{"a reallocation counted twice", func(s *snapshot) { s.overview.Counts.Reallocations = 2 }, "reallocations: withdrawal service == stats"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := consistent()
			c.break_(s)
			r := s.check()
			v := r.Violations()
			found := false
			for _, res := range v {
				found = found || res.Name == c.want
			}
			if !found || r.OK() {
				t.Fatalf("violations %+v, want %q among them", v, c.want)
			}
		})
	}
}
