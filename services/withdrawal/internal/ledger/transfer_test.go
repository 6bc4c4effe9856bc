package ledger_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// leg is a leg's account, entry amount and bucket changes (credited,
// reallocated_in, reallocated_out, held, withdrawn) as strings ("" is 0).
type leg struct{ account, amount, credited, in, out, held, withdrawn string }

func legOf(l ledger.Leg) leg {
	s := func(d decimal.Decimal) string {
		if d.IsZero() {
			return ""
		}
		return d.String()
	}
	return leg{l.Account, s(l.Amount), s(l.Credited), s(l.ReallocatedIn), s(l.ReallocatedOut), s(l.Held), s(l.Withdrawn)}
}

// TestTransferBuilders: each builder's legs balance, go to the right
// accounts with the right bucket changes, in the order they are posted.
func TestTransferBuilders(t *testing.T) {
	user7, team3 := ledger.Owner{Type: auth.OwnerUser, ID: 7}, ledger.Owner{Type: auth.OwnerTeam, ID: 3}
	pending := ledger.Withdrawal{ID: 5, Owner: user7, Currency: "USD", Amount: dec("2.5"), Status: ledger.StatusPending}
	pendingJPY := pending
	pendingJPY.Currency = "JPY"
	creditJPY, err := ledger.CreditTransfer(ledger.Credit{AllocationID: 11, Distributable: dec("10"),
		ToUser: dec("6"), ToTeam: dec("3"), ToPlatform: dec("1"), UserID: 7, TeamID: 3, Currency: "JPY"})
	if err != nil {
		t.Fatal(err)
	}
	credit, err := ledger.CreditTransfer(ledger.Credit{AllocationID: 9, Distributable: dec("10"),
		ToUser: dec("6"), ToTeam: dec("3"), ToPlatform: dec("1"), UserID: 7, TeamID: 3, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	noTeam, err := ledger.CreditTransfer(ledger.Credit{AllocationID: 10, Distributable: dec("4"),
		ToUser: dec("4"), ToTeam: decimal.Zero, ToPlatform: decimal.Zero, UserID: 7, TeamID: 3, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		got           ledger.Transfer
		kind, refType string
		refID         int64
		legs          []leg
	}{
		{"hold", ledger.HoldTransfer(5, user7, "USD", dec("2.5")), ledger.KindWithdrawalHold, ledger.RefWithdrawal, 5, []leg{
			{account: "user:7", amount: "-2.5", held: "2.5"},
			{account: "held:user:7", amount: "2.5"},
		}},
		{"release", ledger.ReleaseTransfer(pending), ledger.KindWithdrawalRelease, ledger.RefWithdrawal, 5, []leg{
			{account: "user:7", amount: "2.5", held: "-2.5"},
			{account: "held:user:7", amount: "-2.5"},
		}},
		{"payout", ledger.PayoutTransfer(pending), ledger.KindWithdrawalPayout, ledger.RefWithdrawal, 5, []leg{
			{account: "user:7", held: "-2.5", withdrawn: "2.5"},
			{account: "held:user:7", amount: "-2.5"},
			{account: "system:payout", amount: "2.5"},
		}},
		{"platform payout", ledger.PayoutTransfer(ledger.Withdrawal{ID: 6, Owner: ledger.Owner{Type: auth.OwnerPlatform}, Currency: "USD", Amount: dec("1")}),
			ledger.KindWithdrawalPayout, ledger.RefWithdrawal, 6, []leg{
				{account: "platform", held: "-1", withdrawn: "1"},
				{account: "held:platform", amount: "-1"},
				{account: "system:payout", amount: "1"},
			}},
		{"reallocation", ledger.ReallocationTransfer(8, team3, user7, "USD", dec("0.00000001")), ledger.KindReallocation, ledger.RefReallocation, 8, []leg{
			{account: "team:3", amount: "-0.00000001", out: "0.00000001"},
			{account: "user:7", amount: "0.00000001", in: "0.00000001"},
		}},
		{"credit", credit, ledger.KindProfitCredit, ledger.RefAllocation, 9, []leg{
			{account: "system:profit", amount: "-10"},
			{account: "user:7", amount: "6", credited: "6"},
			{account: "team:3", amount: "3", credited: "3"},
			{account: "platform", amount: "1", credited: "1"},
		}},
		{"credit without zero shares", noTeam, ledger.KindProfitCredit, ledger.RefAllocation, 10, []leg{
			{account: "system:profit", amount: "-4"},
			{account: "user:7", amount: "4", credited: "4"},
		}},
		// Another currency than the base: every account is that currency's.
		{"hold in JPY", ledger.HoldTransfer(5, user7, "JPY", dec("2.5")), ledger.KindWithdrawalHold, ledger.RefWithdrawal, 5, []leg{
			{account: "user:7:JPY", amount: "-2.5", held: "2.5"},
			{account: "held:user:7:JPY", amount: "2.5"},
		}},
		{"release in JPY", ledger.ReleaseTransfer(pendingJPY), ledger.KindWithdrawalRelease, ledger.RefWithdrawal, 5, []leg{
			{account: "user:7:JPY", amount: "2.5", held: "-2.5"},
			{account: "held:user:7:JPY", amount: "-2.5"},
		}},
		{"payout in JPY", ledger.PayoutTransfer(pendingJPY), ledger.KindWithdrawalPayout, ledger.RefWithdrawal, 5, []leg{
			{account: "user:7:JPY", held: "-2.5", withdrawn: "2.5"},
			{account: "held:user:7:JPY", amount: "-2.5"},
			{account: "system:payout:JPY", amount: "2.5"},
		}},
		{"reallocation in JPY", ledger.ReallocationTransfer(8, team3, user7, "JPY", dec("1")), ledger.KindReallocation, ledger.RefReallocation, 8, []leg{
			{account: "team:3:JPY", amount: "-1", out: "1"},
			{account: "user:7:JPY", amount: "1", in: "1"},
		}},
		{"credit in JPY", creditJPY, ledger.KindProfitCredit, ledger.RefAllocation, 11, []leg{
			{account: "system:profit:JPY", amount: "-10"},
			{account: "user:7:JPY", amount: "6", credited: "6"},
			{account: "team:3:JPY", amount: "3", credited: "3"},
			{account: "platform:JPY", amount: "1", credited: "1"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.got.Check(); err != nil {
				t.Errorf("does not balance: %v", err)
			}
			if tc.got.Kind != tc.kind || tc.got.RefType != tc.refType || tc.got.RefID != tc.refID {
				t.Errorf("transfer %s %s %d, want %s %s %d", tc.got.Kind, tc.got.RefType, tc.got.RefID, tc.kind, tc.refType, tc.refID)
			}
			if len(tc.got.Legs) != len(tc.legs) {
				t.Fatalf("%d legs %+v, want %d", len(tc.got.Legs), tc.got.Legs, len(tc.legs))
			}
			for i, l := range tc.got.Legs {
				if legOf(l) != tc.legs[i] {
					t.Errorf("leg %d = %+v, want %+v", i, legOf(l), tc.legs[i])
				}
			}
		})
	}
}

func TestCreditTransferRefusesBadShares(t *testing.T) {
	for name, c := range map[string]ledger.Credit{
		"shares above":   {Distributable: dec("10"), ToUser: dec("6"), ToTeam: dec("3"), ToPlatform: dec("2"), UserID: 7, TeamID: 3, Currency: "USD"},
		"shares below":   {Distributable: dec("10"), ToUser: dec("6"), ToTeam: dec("3"), ToPlatform: dec("0.5"), UserID: 7, TeamID: 3, Currency: "USD"},
		"zero":           {Distributable: decimal.Zero, ToUser: decimal.Zero, ToTeam: decimal.Zero, ToPlatform: decimal.Zero, UserID: 7, TeamID: 3, Currency: "USD"},
		"negative":       {Distributable: dec("-1"), ToUser: dec("-1"), ToTeam: decimal.Zero, ToPlatform: decimal.Zero, UserID: 7, TeamID: 3, Currency: "USD"},
		"negative share": {Distributable: dec("1"), ToUser: dec("2"), ToTeam: dec("-1"), ToPlatform: decimal.Zero, UserID: 7, TeamID: 3, Currency: "USD"},
		"no user":        {Distributable: dec("1"), ToUser: dec("1"), ToTeam: decimal.Zero, ToPlatform: decimal.Zero, TeamID: 3},
		"no team":        {Distributable: dec("1"), ToUser: dec("1"), ToTeam: decimal.Zero, ToPlatform: decimal.Zero, UserID: 7, TeamID: -3},
		"no currency":    {Distributable: dec("1"), ToUser: dec("1"), ToTeam: decimal.Zero, ToPlatform: decimal.Zero, UserID: 7, TeamID: 3},
		"bad currency":   {Distributable: dec("1"), ToUser: dec("1"), ToTeam: decimal.Zero, ToPlatform: decimal.Zero, UserID: 7, TeamID: 3, Currency: "jpy"},
	} {
		if err := ledger.CheckCredit(c); !errors.Is(err, ledger.ErrInvalidCredit) {
			t.Errorf("%s: CheckCredit = %v, want ErrInvalidCredit", name, err)
		}
		if _, err := ledger.CreditTransfer(c); !errors.Is(err, ledger.ErrInvalidCredit) {
			t.Errorf("%s: CreditTransfer = %v, want ErrInvalidCredit", name, err)
		}
	}
}

func TestCheckRefusesAnUnbalancedTransfer(t *testing.T) {
	tr := ledger.HoldTransfer(1, ledger.Owner{Type: auth.OwnerUser, ID: 7}, "USD", dec("1"))
	tr.Legs[1].Amount = dec("0.99999999")
	if err := tr.Check(); err == nil {
		t.Error("an unbalanced transfer passed the check")
	}
}

// TestCheckRefusesMixedCurrencies: a transfer whose legs are in different
// currencies is ErrCurrencyMismatch, even when its amounts balance; no
// builder makes one, so the check is the last guard.
func TestCheckRefusesMixedCurrencies(t *testing.T) {
	user7, team3 := ledger.Owner{Type: auth.OwnerUser, ID: 7}, ledger.Owner{Type: auth.OwnerTeam, ID: 3}
	for name, legs := range map[string][2]string{
		"USD to JPY": {"team:3", "user:7:JPY"},
		"JPY to USD": {"team:3:JPY", "user:7"},
		"JPY to EUR": {"team:3:JPY", "user:7:EUR"},
	} {
		tr := ledger.ReallocationTransfer(8, team3, user7, "USD", dec("1"))
		tr.Legs[0].Account, tr.Legs[1].Account = legs[0], legs[1]
		if err := tr.Check(); !errors.Is(err, ledger.ErrCurrencyMismatch) {
			t.Errorf("%s: Check = %v, want ErrCurrencyMismatch", name, err)
		}
	}
	hold := ledger.HoldTransfer(1, user7, "JPY", dec("1"))
	hold.Legs[1].Account = "held:user:7"
	if err := hold.Check(); !errors.Is(err, ledger.ErrCurrencyMismatch) {
		t.Errorf("a JPY hold into the USD hold account: %v, want ErrCurrencyMismatch", err)
	}
	if err := ledger.ReallocationTransfer(8, team3, user7, "JPY", dec("1")).Check(); err != nil {
		t.Errorf("a reallocation within JPY: %v", err)
	}
}

func TestSufficient(t *testing.T) {
	for _, tc := range []struct {
		available, amount string
		err               error
	}{
		{"5", "5", nil}, {"5", "4.99999999", nil}, {"5", "5.00000001", ledger.ErrInsufficientBalance}, {"0", "1", ledger.ErrInsufficientBalance},
	} {
		if err := ledger.Sufficient(dec(tc.available), dec(tc.amount)); !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("Sufficient(%s, %s) = %v, want %v", tc.available, tc.amount, err, tc.err)
		}
	}
}

// Pinned hashes: computed by EntryHash before the hash moved behind
// Transfer.Entries; the stored chains depend on them never changing.
const (
	pinnedFirst  = "5fbc8273a28ef38c84dd8a41bdb37a9819c0af7af770e508e8e7e72f5389f5fe"
	pinnedSecond = "5e8eea573fc3a2af500def880912ab556671a8187be13c48a3909b5e7144f0eb"
)

func TestEntryHashIsPinned(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	first := ledger.EntryHash(nil, "user:7", dec("12.5"), "profit_credit", "allocation", 1, 10, at)
	if hex.EncodeToString(first) != pinnedFirst {
		t.Fatalf("EntryHash = %x, want %s", first, pinnedFirst)
	}
	second := ledger.EntryHash(first, "user:7", dec("-2.5"), "withdrawal_hold", "withdrawal", 4, 11, at.Add(time.Second))
	if hex.EncodeToString(second) != pinnedSecond {
		t.Fatalf("chained EntryHash = %x, want %s", second, pinnedSecond)
	}
}

// TestEntriesChain: Transfer.Entries writes the pinned hashes, chains each
// entry onto its account's head and advances the heads; a leg without an
// amount has no entry.
func TestEntriesChain(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	heads := map[string][]byte{}
	credit := ledger.Transfer{Kind: ledger.KindProfitCredit, RefType: ledger.RefAllocation, RefID: 1, Legs: []ledger.Leg{
		{Account: "system:profit", Amount: dec("-12.5")},
		{Account: "user:7", Amount: dec("12.5"), Credited: dec("12.5")},
	}}
	es := credit.Entries(10, at, heads)
	if len(es) != 2 || hex.EncodeToString(es[1].Hash) != pinnedFirst || es[1].PrevHash != nil || es[0].PrevHash != nil {
		t.Fatalf("credit entries = %+v", es)
	}
	if !bytes.Equal(heads["user:7"], es[1].Hash) || !bytes.Equal(heads["system:profit"], es[0].Hash) {
		t.Fatal("the heads did not advance")
	}
	hold := ledger.HoldTransfer(4, ledger.Owner{Type: auth.OwnerUser, ID: 7}, "USD", dec("2.5"))
	es2 := hold.Entries(11, at.Add(time.Second), heads)
	if len(es2) != 2 || hex.EncodeToString(es2[0].Hash) != pinnedSecond || !bytes.Equal(es2[0].PrevHash, es[1].Hash) || es2[1].PrevHash != nil {
		t.Fatalf("hold entries = %+v", es2)
	}
	for _, e := range append(es, es2...) {
		if !bytes.Equal(e.Hash, e.ExpectedHash(e.PrevHash)) || e.TransferID == 0 || !e.CreatedAt.Equal(e.CreatedAt.UTC()) {
			t.Errorf("entry %+v", e)
		}
	}
	payout := ledger.PayoutTransfer(ledger.Withdrawal{ID: 4, Owner: ledger.Owner{Type: auth.OwnerUser, ID: 7}, Currency: "USD", Amount: dec("2.5")})
	es3 := payout.Entries(12, at.Add(2*time.Second), heads)
	if len(es3) != 2 || es3[0].Account != "held:user:7" || es3[1].Account != "system:payout" {
		t.Fatalf("payout entries = %+v; want none for the owner account", es3)
	}
	if !bytes.Equal(heads["user:7"], es2[0].Hash) {
		t.Error("a leg without an amount moved its account's head")
	}
}

// TestNext is the state machine, every status × target status.
func TestNext(t *testing.T) {
	w := ledger.Withdrawal{ID: 5, Owner: ledger.Owner{Type: auth.OwnerTeam, ID: 3}, Currency: "USD", Amount: dec("2")}
	type want struct {
		kind, event string // "" kind: ErrInvalidStateTransition
	}
	statuses := []string{ledger.StatusPending, ledger.StatusCompleted, ledger.StatusFailed, "", "cancelled"}
	targets := []string{ledger.StatusPending, ledger.StatusCompleted, ledger.StatusFailed, "", "cancelled"}
	allowed := map[[2]string]want{
		{ledger.StatusPending, ledger.StatusCompleted}: {ledger.KindWithdrawalPayout, ledger.EventWithdrawalCompleted},
		{ledger.StatusPending, ledger.StatusFailed}:    {ledger.KindWithdrawalRelease, ledger.EventWithdrawalFailed},
	}
	for _, from := range statuses {
		for _, to := range targets {
			w.Status = from
			step, err := ledger.Next(w, to)
			exp, ok := allowed[[2]string{from, to}]
			if !ok {
				if !errors.Is(err, ledger.ErrInvalidStateTransition) {
					t.Errorf("%q → %q: %+v, %v; want ErrInvalidStateTransition", from, to, step, err)
				}
				continue
			}
			if err != nil || step.Transfer.Kind != exp.kind || step.EventType != exp.event || step.Transfer.RefID != w.ID {
				t.Errorf("%q → %q: %+v, %v; want %s, %s", from, to, step, err, exp.kind, exp.event)
			}
			if err := step.Transfer.Check(); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestEventTypes: the domain's event types are those of docs/api.md#events
// (as libs/eventbus names them).
func TestEventTypes(t *testing.T) {
	for got, want := range map[string]string{
		ledger.EventWithdrawalRequested: eventbus.TypeWithdrawalRequested,
		ledger.EventWithdrawalCompleted: eventbus.TypeWithdrawalCompleted,
		ledger.EventWithdrawalFailed:    eventbus.TypeWithdrawalFailed,
		ledger.EventFundsReallocated:    eventbus.TypeFundsReallocated,
	} {
		if got != want {
			t.Errorf("event type %q, want %q", got, want)
		}
	}
}
