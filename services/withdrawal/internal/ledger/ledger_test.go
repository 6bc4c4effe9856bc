package ledger_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

func TestAccounts(t *testing.T) {
	for _, tc := range []struct {
		account  string
		owner    ledger.Owner
		currency string
		ok       bool
	}{
		{"user:7", ledger.Owner{Type: "user", ID: 7}, "USD", true},
		{"team:3", ledger.Owner{Type: "team", ID: 3}, "USD", true},
		{"platform", ledger.Owner{Type: "platform"}, "USD", true},
		{"user:7:JPY", ledger.Owner{Type: "user", ID: 7}, "JPY", true},
		{"platform:EUR", ledger.Owner{Type: "platform"}, "EUR", true},
		{"user:7:USD", ledger.Owner{}, "", false}, // the base currency's account is user:7
		{"user:7:jpy", ledger.Owner{}, "", false},
		{"user:7:JPYX", ledger.Owner{}, "", false},
		{"user:07", ledger.Owner{}, "", false},
		{"user:0", ledger.Owner{}, "", false},
		{"system:profit", ledger.Owner{}, "", false},
		{"held:user:7", ledger.Owner{}, "", false},
		{"held:user:7:JPY", ledger.Owner{}, "", false},
	} {
		o, c, ok := ledger.ParseAccount(tc.account)
		if ok != tc.ok || (ok && (o != tc.owner || c != tc.currency)) {
			t.Errorf("ParseAccount(%q) = %+v, %q, %v", tc.account, o, c, ok)
		}
		if ok && ledger.OwnerAccount(o, c) != tc.account {
			t.Errorf("OwnerAccount(%+v, %s) = %q", o, c, ledger.OwnerAccount(o, c))
		}
	}
	for account, want := range map[string][2]string{
		"held:user:7:JPY": {"held:user:7", "JPY"}, "system:profit": {"system:profit", "USD"},
		"system:payout:EUR": {"system:payout", "EUR"}, "held:platform": {"held:platform", "USD"},
	} {
		if name, c := ledger.AccountCurrency(account); name != want[0] || c != want[1] {
			t.Errorf("AccountCurrency(%q) = %q, %q; want %v", account, name, c, want)
		}
	}
	if ledger.HoldAccount("user:7") != "held:user:7" {
		t.Error("hold account name")
	}
	user := ledger.Caller{UserID: 7, Role: auth.RoleUser, Teams: []int64{3}}
	for o, want := range map[ledger.Owner]bool{
		{Type: "user", ID: 7}: true, {Type: "team", ID: 3}: true, {Type: "user", ID: 8}: false,
		{Type: "team", ID: 4}: false, {Type: "platform"}: false,
	} {
		if user.CanReadAccount(o.Type, o.ID) != want {
			t.Errorf("user 7 reads %+v: %v, want %v", o, !want, want)
		}
	}
}

func TestEntryHashCoversEveryField(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	amount := decimal.RequireFromString("12.5")
	base := ledger.EntryHash(nil, "user:7", amount, "profit_credit", "allocation", 1, 10, at)
	if len(base) != 32 {
		t.Fatalf("hash is %d bytes", len(base))
	}
	if !bytes.Equal(base, ledger.EntryHash(nil, "user:7", decimal.RequireFromString("12.50000000"), "profit_credit", "allocation", 1, 10, at.In(time.FixedZone("x", 3600)))) {
		t.Error("the hash depends on the amount's or the time's representation")
	}
	for name, h := range map[string][]byte{
		"prev":     ledger.EntryHash([]byte{1}, "user:7", amount, "profit_credit", "allocation", 1, 10, at),
		"account":  ledger.EntryHash(nil, "user:8", amount, "profit_credit", "allocation", 1, 10, at),
		"amount":   ledger.EntryHash(nil, "user:7", amount.Neg(), "profit_credit", "allocation", 1, 10, at),
		"kind":     ledger.EntryHash(nil, "user:7", amount, "reallocation", "allocation", 1, 10, at),
		"ref_type": ledger.EntryHash(nil, "user:7", amount, "profit_credit", "withdrawal", 1, 10, at),
		"ref_id":   ledger.EntryHash(nil, "user:7", amount, "profit_credit", "allocation", 2, 10, at),
		"transfer": ledger.EntryHash(nil, "user:7", amount, "profit_credit", "allocation", 1, 11, at),
		"time":     ledger.EntryHash(nil, "user:7", amount, "profit_credit", "allocation", 1, 10, at.Add(time.Microsecond)),
	} {
		if bytes.Equal(h, base) {
			t.Errorf("changing %s does not change the hash", name)
		}
	}
}
