package invariants

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func ptr[T any](v T) *T { return &v }

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
		verify: verifyResult{OK: true, Accounts: 6, Entries: 10, Checkpoint: checkpointResult{Status: "ok", OK: true}},
		balances: []Balance{
			{OwnerType: "user", OwnerID: 7, Credited: d("70"), Withdrawn: d("30"), Available: d("40")},
			{OwnerType: "team", OwnerID: 3, Credited: d("20"), ReallocatedIn: d("4"), Available: d("24")},
			{OwnerType: "platform", Credited: d("10"), ReallocatedOut: d("4"), Available: d("6")},
		},
		allocations: []Allocation{
			{ID: 9, PortfolioID: 1, Source: "nav", Status: "allocated", ProfitAmount: d("100"), Distributable: d("100"),
				ToTeam: d("20"), ToPlatform: d("10"), ToUser: d("70"), UserID: 7, TeamID: 3},
			{ID: 10, PortfolioID: 1, Source: "nav", Status: "no_distribution", ProfitAmount: d("-8"), LossCarryAfter: d("8"), UserID: 7, TeamID: 3},
			{ID: 21, PortfolioID: 1, Source: "manual", Status: "no_distribution", ProfitAmount: d("-5"), LossCarryBefore: d("8"),
				LossCarryAfter: d("13"), UserID: 7, TeamID: 3},
			{ID: 22, PortfolioID: 1, Source: "manual", Status: "no_distribution", ProfitAmount: d("3"), LossCarryBefore: d("13"),
				LossCarryAfter: d("10"), UserID: 7, TeamID: 3},
			{ID: 23, PortfolioID: 3, Source: "nav", Status: "awaiting_ratio", ProfitAmount: d("-4"), UserID: 7, TeamID: 3},
			{ID: 24, PortfolioID: 3, Source: "manual", Status: "awaiting_ratio", ProfitAmount: d("6"), UserID: 7, TeamID: 3},
		},
		accProfit: []accProfit{
			{PortfolioID: 1, AccProfit: d("90"), Distributed: d("100"), ToTeam: d("20"), ToPlatform: d("10"), ToUser: d("70"), LossCarry: ptr(d("10"))},
			{PortfolioID: 3, AccProfit: d("-4"), LossCarry: ptr(d("4"))},
		},
		withdrawals:   []withdrawal{{ID: 1, Amount: d("30"), Status: "completed"}, {ID: 2, Amount: d("5"), Status: "failed"}},
		reallocations: []reallocation{{ID: 1, Amount: d("4")}},
	}
	o := &s.overview
	o.TotalProfit, o.TotalDistributed, o.ToTeamTotal, o.ToPlatformTotal, o.ToUserTotal = d("86"), d("100"), d("20"), d("10"), d("70")
	o.LossCarryTotal = ptr(d("14"))
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
	if len(r.Results) != 9 || r.Figures.Entries != 10 || r.Figures.Allocations != 6 || !r.Figures.Distributed.Equal(d("100")) {
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
		{"entries rewritten with their hashes", func(s *snapshot) {
			account := "user:7"
			s.verify.OK, s.verify.Checkpoint = false, checkpointResult{Status: "divergent", FirstDivergentAccount: &account}
		}, "ledger matches its latest signed checkpoint"},
		{"a forged checkpoint", func(s *snapshot) {
			s.verify.OK, s.verify.Checkpoint = false, checkpointResult{Status: "invalid"}
		}, "ledger matches its latest signed checkpoint"},
		{"an overdraft", func(s *snapshot) { s.balances[0].Withdrawn, s.balances[0].Available = d("80"), d("-10") }, "every account's available >= 0"},
		{"a credit applied twice", func(s *snapshot) {
			s.entries = append(s.entries,
				entry{TransferID: 5, Account: "system:profit", Amount: d("-70"), Kind: "profit_credit", RefID: 9},
				entry{TransferID: 5, Account: "user:7", Amount: d("70"), Kind: "profit_credit", RefID: 9})
		}, "each allocation credited once, exactly"},
		{"a credit lost", func(s *snapshot) { s.entries = s.entries[4:] }, "each allocation credited once, exactly"},
		{"a profit recorded again after a restore credited again under its new id", func(s *snapshot) {
			rederive(s)
			s.entries = append(s.entries, redoneCredit(5, 109, "")...)
		}, "each allocation credited once, exactly"},
		{"a profit recorded again after a restore credited under another identity", func(s *snapshot) {
			rederive(s)
			s.entries = append(s.entries, redoneCredit(5, 109, "7d1f7a6e-0000-5000-8000-000000000002")...)
		}, "each allocation credited once, exactly"},
		{"stats lost an allocation", func(s *snapshot) { s.accProfit[0].ToUser = d("0") }, "per portfolio: profit service == ledger == stats"},
		{"stats lost a loss", func(s *snapshot) { s.accProfit[0].AccProfit = d("100") }, "per portfolio: profit service == ledger == stats"},
		{"stats lost a manual loss", func(s *snapshot) { s.accProfit[0].AccProfit, s.accProfit[0].LossCarry = d("95"), ptr(d("5")) },
			"per portfolio: profit service == ledger == stats"},
		{"stats lost a manual no-distribution profit", func(s *snapshot) { s.accProfit[0].LossCarry = ptr(d("13")) },
			"per portfolio: profit service == ledger == stats"},
		{"stats counted a waiting manual profit", func(s *snapshot) { s.accProfit[1].AccProfit = d("2") },
			"per portfolio: profit service == ledger == stats"},
		{"stats' carry-forward of a waiting NAV loss lost", func(s *snapshot) { s.accProfit[1].LossCarry = ptr(d("0")) },
			"per portfolio: profit service == ledger == stats"},
		{"overview carry-forward off", func(s *snapshot) { s.overview.LossCarryTotal = ptr(d("10")) }, "platform totals: profit service == balances == stats"},
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

// twoCurrencies is a quiet stack with the books of consistent() in USD and
// user 7's JPY portfolio 2: an allocation of 1 000 000 (team 200 000,
// platform 100 000, user 700 000) and a completed withdrawal of 500 000.
// The JPY accounts carry a ":JPY" suffix, the USD ones none; every record
// names its currency.
func twoCurrencies() *snapshot {
	s := consistent()
	for i := range s.entries {
		s.entries[i].Currency = "USD"
	}
	s.entries = append(s.entries,
		entry{TransferID: 5, Account: "system:profit:JPY", Amount: d("-1000000"), Kind: "profit_credit", RefType: "allocation", RefID: 11, Currency: "JPY"},
		entry{TransferID: 5, Account: "user:7:JPY", Amount: d("700000"), Kind: "profit_credit", RefType: "allocation", RefID: 11, Currency: "JPY"},
		entry{TransferID: 5, Account: "team:3:JPY", Amount: d("200000"), Kind: "profit_credit", RefType: "allocation", RefID: 11, Currency: "JPY"},
		entry{TransferID: 5, Account: "platform:JPY", Amount: d("100000"), Kind: "profit_credit", RefType: "allocation", RefID: 11, Currency: "JPY"},
		entry{TransferID: 6, Account: "user:7:JPY", Amount: d("-500000"), Kind: "withdrawal_hold", Currency: "JPY"},
		entry{TransferID: 6, Account: "held:user:7:JPY", Amount: d("500000"), Kind: "withdrawal_hold", Currency: "JPY"},
		entry{TransferID: 7, Account: "held:user:7:JPY", Amount: d("-500000"), Kind: "withdrawal_payout", Currency: "JPY"},
		entry{TransferID: 7, Account: "system:payout:JPY", Amount: d("500000"), Kind: "withdrawal_payout", Currency: "JPY"},
	)
	for i := range s.balances {
		s.balances[i].Currency = "USD"
	}
	s.balances = append(s.balances,
		Balance{OwnerType: "user", OwnerID: 7, Currency: "JPY", Credited: d("700000"), Withdrawn: d("500000"), Available: d("200000")},
		Balance{OwnerType: "team", OwnerID: 3, Currency: "JPY", Credited: d("200000"), Available: d("200000")},
		Balance{OwnerType: "platform", Currency: "JPY", Credited: d("100000"), Available: d("100000")})
	for i := range s.allocations {
		s.allocations[i].Currency = "USD"
	}
	s.allocations = append(s.allocations, Allocation{ID: 11, PortfolioID: 2, Currency: "JPY", Source: "nav", Status: "allocated",
		ProfitAmount: d("1000000"), Distributable: d("1000000"), ToTeam: d("200000"), ToPlatform: d("100000"), ToUser: d("700000"),
		UserID: 7, TeamID: 3})
	s.accProfit[0].Currency = "USD"
	s.accProfit = append(s.accProfit, accProfit{PortfolioID: 2, Currency: "JPY", AccProfit: d("1000000"), Distributed: d("1000000"),
		ToTeam: d("200000"), ToPlatform: d("100000"), ToUser: d("700000")})
	for i := range s.withdrawals {
		s.withdrawals[i].Currency = "USD"
	}
	s.withdrawals = append(s.withdrawals, withdrawal{ID: 3, Amount: d("500000"), Status: "completed", Currency: "JPY"})
	s.reallocations[0].Currency = "USD"
	usd := s.overview.currencyTotals
	usd.Currency = "USD"
	s.overview.currencyTotals = currencyTotals{}
	s.overview.Totals = []currencyTotals{{Currency: "JPY", TotalProfit: d("1000000"), TotalDistributed: d("1000000"),
		ToTeamTotal: d("200000"), ToPlatformTotal: d("100000"), ToUserTotal: d("700000"), WithdrawnCompleted: d("500000")}, usd}
	s.overview.Counts.Allocations, s.overview.Counts.Withdrawals = 2, 3
	return s
}

func TestTwoCurrenciesHold(t *testing.T) {
	r := twoCurrencies().check()
	if !r.OK() {
		var b strings.Builder
		r.Print(&b)
		t.Fatalf("a consistent stack in two currencies reported violations:\n%s", b.String())
	}
	if f := r.Figures; !f.Distributed.Equal(d("100")) || !f.DistributedIn["JPY"].Equal(d("1000000")) || len(f.DistributedIn) != 2 {
		t.Errorf("figures = %+v", f)
	}
}

// Money moved to the wrong currency, or added across currencies, breaks
// the invariant that guards it even where the sums over all currencies
// would agree.
func TestCurrencyViolationsAreReported(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(s *snapshot)
		want   string
	}{
		{"a transfer across currencies", func(s *snapshot) { s.entries[11].Currency = "USD" }, "ledger postings sum to zero"},
		{"a JPY credit booked in USD", func(s *snapshot) {
			for i := 10; i < 14; i++ {
				s.entries[i].Currency, s.entries[i].Account = "USD", strings.TrimSuffix(s.entries[i].Account, ":JPY")
			}
		}, "each allocation credited once, exactly"},
		{"stats adds the currencies up", func(s *snapshot) {
			s.overview.Totals[1].TotalDistributed = d("1000100")
			s.overview.Totals[0].TotalDistributed = d("0")
		}, "platform totals: profit service == balances == stats"},
		{"a balance credited in the wrong currency", func(s *snapshot) {
			s.balances[3].Currency = "USD"
		}, "platform totals: profit service == balances == stats"},
		{"stats has the portfolio in USD", func(s *snapshot) { s.accProfit[len(s.accProfit)-1].Currency = "USD" }, "per portfolio: profit service == ledger == stats"},
		{"a JPY withdrawal counted in USD", func(s *snapshot) {
			s.overview.Totals[0].WithdrawnCompleted = d("0")
			s.overview.Totals[1].WithdrawnCompleted = d("500030")
		}, "withdrawals by status: withdrawal service == stats"},
		{"a reallocation in the other currency", func(s *snapshot) { s.reallocations[0].Currency = "JPY" }, "reallocations: withdrawal service == stats"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := twoCurrencies()
			c.break_(s)
			r := s.check()
			found := false
			for _, res := range r.Violations() {
				found = found || res.Name == c.want
			}
			if !found || r.OK() {
				t.Fatalf("violations %+v, want %q among them", r.Violations(), c.want)
			}
		})
	}
}

// reversedAndParked is consistent() after a NAV correction reversed
// allocation 9 (its corrected profit 0, so nothing replaces it) while the
// user had already withdrawn part of the credit: the ledger parked the
// reversal, so it still holds the credit, and stats no longer count it.
func reversedAndParked() *snapshot {
	s := consistent()
	s.allocations[0].ReversedBy = ptr(int64(1))
	s.parked = map[int64]parked{9: {AllocationID: 9, Currency: "USD", Distributable: d("100"), ToTeam: d("20"),
		ToPlatform: d("10"), ToUser: d("70")}}
	s.accProfit[0] = accProfit{PortfolioID: 1, AccProfit: d("-10"), LossCarry: ptr(d("10"))}
	o := &s.overview
	o.TotalProfit, o.TotalDistributed, o.ToTeamTotal, o.ToPlatformTotal, o.ToUserTotal = d("-14"), d("0"), d("0"), d("0"), d("0")
	o.Counts.Allocations = 0
	return s
}

// A parked reversal is the exact difference between the ledger and the
// profit service: accounted for, the stack holds; forgotten, the credit
// and the platform totals are reported (a credit that does not match is
// left out of the per-portfolio comparison).
func TestParkedReversalIsTheLedgersDifference(t *testing.T) {
	if r := reversedAndParked().check(); !r.OK() {
		var b strings.Builder
		r.Print(&b)
		t.Fatalf("a parked reversal reported violations:\n%s", b.String())
	}
	s := reversedAndParked()
	s.parked = nil
	r := s.check()
	var violated []string
	for _, v := range r.Violations() {
		violated = append(violated, v.Name)
	}
	want := []string{"each allocation credited once, exactly", "platform totals: profit service == balances == stats"}
	if strings.Join(violated, "|") != strings.Join(want, "|") {
		t.Fatalf("violations %q, want %q", violated, want)
	}
	// Posted, the reversal cancels the credit: nothing is left to compare.
	s = reversedAndParked()
	s.parked = nil
	for _, e := range s.entries[:4] {
		e.Kind, e.Amount, e.TransferID = "profit_reversal", e.Amount.Neg(), 5
		s.entries = append(s.entries, e)
	}
	s.balances = []Balance{
		{OwnerType: "user", OwnerID: 7, Credited: d("0"), Withdrawn: d("30"), Available: d("-30")},
		{OwnerType: "team", OwnerID: 3, Credited: d("0"), ReallocatedIn: d("4"), Available: d("4")},
		{OwnerType: "platform", Credited: d("0"), ReallocatedOut: d("4"), Available: d("-4")},
	}
	r = s.check()
	violated = nil
	for _, v := range r.Violations() {
		violated = append(violated, v.Name)
	}
	// Only the balances below zero, which is why such a reversal is parked.
	if strings.Join(violated, "|") != "every account's available >= 0" {
		t.Fatalf("violations %q", violated)
	}
}

const allocation9Key = "7d1f7a6e-0000-5000-8000-000000000001"

// rederive makes allocation 9 one the profit service recorded again after
// its database was restored: credited under id 9 with its identity, now
// allocation 109 with the same identity.
func rederive(s *snapshot) {
	for i := range s.entries[:4] {
		s.entries[i].AllocationKey = allocation9Key
	}
	s.allocations[0].ID, s.allocations[0].Key = 109, allocation9Key
}

// redoneCredit is a second credit of allocation 9's shares, as allocation
// id with identity key.
func redoneCredit(transfer, id int64, key string) []entry {
	var out []entry
	for _, e := range []entry{{Account: "system:profit", Amount: d("-100")}, {Account: "user:7", Amount: d("70")},
		{Account: "team:3", Amount: d("20")}, {Account: "platform", Amount: d("10")}} {
		e.TransferID, e.Kind, e.RefType, e.RefID, e.AllocationKey = transfer, "profit_credit", "allocation", id, key
		out = append(out, e)
	}
	return out
}

// TestReDerivedAllocationMatchesItsCredit: an allocation the profit
// service recorded again after a restore (a new id, the same identity) is
// matched with the credit made under its old id by its identity.
func TestReDerivedAllocationMatchesItsCredit(t *testing.T) {
	s := consistent()
	rederive(s)
	if r := s.check(); !r.OK() {
		var b strings.Builder
		r.Print(&b)
		t.Fatalf("a re-derived allocation credited once reported violations:\n%s", b.String())
	}
}

// TestCreditsOfMixedReleasesMatch: an allocation the previous release's
// profit service recorded (no identity) credited by this release's ledger
// (which derives one for a NAV profit), and an allocation with an identity
// credited by the previous release's ledger (none), match by id.
func TestCreditsOfMixedReleasesMatch(t *testing.T) {
	for name, mix := range map[string]func(s *snapshot){
		"credit with an identity, allocation without": func(s *snapshot) {
			for i := range s.entries[:4] {
				s.entries[i].AllocationKey = allocation9Key
			}
		},
		"allocation with an identity, credit without": func(s *snapshot) { s.allocations[0].Key = allocation9Key },
	} {
		s := consistent()
		mix(s)
		if r := s.check(); !r.OK() {
			var b strings.Builder
			r.Print(&b)
			t.Errorf("%s reported violations:\n%s", name, b.String())
		}
	}
}
