package ledger

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
)

func reversal() Reversal {
	return Reversal{ReversalID: 1, CorrectionID: 2, Credit: Credit{AllocationID: 9, Distributable: decimal.RequireFromString("10"),
		ToUser: decimal.RequireFromString("7"), ToTeam: decimal.RequireFromString("2"), ToPlatform: decimal.RequireFromString("1"),
		UserID: 7, TeamID: 3, Currency: "EUR"}}
}

// A reversal is the exact mirror of its credit: same accounts, opposite
// amounts and credited buckets, balanced, of its own kind.
func TestReversalTransferMirrorsTheCredit(t *testing.T) {
	r := reversal()
	credit, err := CreditTransfer(r.Credit)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := ReversalTransfer(r)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Kind != KindProfitReversal || rev.RefType != RefAllocation || rev.RefID != 9 || len(rev.Legs) != len(credit.Legs) {
		t.Fatalf("reversal %+v", rev)
	}
	for i, l := range rev.Legs {
		c := credit.Legs[i]
		if l.Account != c.Account || !l.Amount.Equal(c.Amount.Neg()) || !l.Credited.Equal(c.Credited.Neg()) {
			t.Fatalf("leg %d: %+v, credit's %+v", i, l, c)
		}
	}
	if err := rev.Check(); err != nil {
		t.Fatal(err)
	}
	if credit.Kind != KindProfitCredit || !credit.Legs[1].Amount.IsPositive() {
		t.Fatalf("building the reversal changed the credit: %+v", credit)
	}
}

// Covered: every owner account must cover its share; system:profit needs
// nothing.
func TestCovered(t *testing.T) {
	rev, err := ReversalTransfer(reversal())
	if err != nil {
		t.Fatal(err)
	}
	enough := map[string]decimal.Decimal{"user:7:EUR": decimal.RequireFromString("7"), "team:3:EUR": decimal.RequireFromString("2"),
		"platform:EUR": decimal.RequireFromString("1"), "system:profit:EUR": decimal.RequireFromString("-100")}
	if err := Covered(enough, rev); err != nil {
		t.Fatalf("covered: %v", err)
	}
	short := map[string]decimal.Decimal{"user:7:EUR": decimal.RequireFromString("6.99999999"), "team:3:EUR": decimal.RequireFromString("2"),
		"platform:EUR": decimal.RequireFromString("1")}
	if err := Covered(short, rev); !errors.Is(err, ErrInsufficientBalance) {
		t.Fatalf("user short: %v", err)
	}
}
