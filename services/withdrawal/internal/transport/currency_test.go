package transport_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fundplatform/platform/libs/eventbus"
)

// TestCurrenciesAreKeptApart (docs/api.md#currencies): one owner's profits
// in two currencies land in two accounts with separate balances, read by
// currency now and at an instant; a withdrawal or reallocation takes only
// from the account of its currency (refused when another currency would
// cover it); lists, the ledger and its verification are per currency; and
// the events carry the currency beside the owner's name.
func TestCurrenciesAreKeptApart(t *testing.T) {
	e := newEnv(t)
	admin, owner := e.Token(1, "admin"), e.Token(7, "user", 3)
	e.creditIn("JPY", 7, 3, "1000000", "0", "0")
	e.credit(7, 3, "100", "50", "10")
	beforeWithdrawals := time.Now()

	var bs ownerBalances
	e.Do("GET", "/api/v1/balances/user/7", owner, nil).OK(t, 200, &bs)
	if len(bs.Balances) != 2 || bs.Balances[0].Currency != "JPY" || bs.Balances[0].Available != amt("1000000") ||
		bs.Balances[1].Currency != "USD" || bs.Balances[1].Available != amt("100") || bs.OwnerType != "user" || bs.OwnerID != 7 {
		t.Fatalf("user 7's balances = %+v, want JPY 1000000 then USD 100", bs)
	}

	// Withdrawals: each from its currency's account only.
	body := func(currency, amount string) map[string]any {
		return map[string]any{"from_type": "user", "owner_id": 7, "currency": currency, "amount": amount}
	}
	e.Do("POST", withdrawalsPath, owner, body("USD", "200")).Fails(t, 422, "insufficient_balance")
	e.Do("POST", withdrawalsPath, owner, body("EUR", "1")).Fails(t, 422, "insufficient_balance")
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "1")).OK(t, 201, nil)
	e.Do("POST", withdrawalsPath, owner, map[string]any{"from_type": "user", "owner_id": 7, "amount": "1"}).
		FailsOn(t, 400, "validation_failed", "currency")
	e.Do("POST", withdrawalsPath, owner, body("jpy", "1")).FailsOn(t, 400, "validation_failed", "currency")
	var w withdrawal
	e.Do("POST", withdrawalsPath, owner, body("JPY", "500000"), "Idempotency-Key", "jpy-1").OK(t, 201, &w)
	if w.Currency != "JPY" || w.Amount != amt("500000") {
		t.Fatalf("withdrawal = %+v", w)
	}
	// The request's currency is part of what an Idempotency-Key stands for.
	e.Do("POST", withdrawalsPath, owner, body("USD", "500000"), "Idempotency-Key", "jpy-1").Fails(t, 409, "idempotency_key_reused")
	if b := e.balanceIn(owner, "user/7", "JPY"); b.Held != amt("500000") || b.Available != amt("500000") {
		t.Fatalf("JPY after the withdrawal = %+v", b)
	}
	if b := e.balance(owner, "user/7"); b.Held != amt("1") || b.Available != amt("99") {
		t.Fatalf("USD after the withdrawals = %+v", b)
	}

	// Reallocations: both accounts in the request's currency.
	realloc := func(currency, amount string) map[string]any {
		return map[string]any{"from_type": "user", "from_id": 7, "to_type": "team", "to_id": 3, "currency": currency,
			"amount": amount, "reason": "move"}
	}
	e.Do("POST", reallocationsPath, admin, realloc("JPY", "1000")).OK(t, 201, nil)
	e.Do("POST", reallocationsPath, admin, realloc("USD", "500000")).Fails(t, 422, "insufficient_balance")
	e.Do("POST", reallocationsPath, admin, map[string]any{"from_type": "user", "from_id": 7, "to_type": "team", "to_id": 3,
		"amount": "1", "reason": "move"}).FailsOn(t, 400, "validation_failed", "currency")
	if b := e.balanceIn(admin, "team/3", "JPY"); b.ReallocatedIn != amt("1000") || b.Credited != amt("0") || b.Available != amt("1000") {
		t.Fatalf("team 3 in JPY = %+v", b)
	}
	if b := e.balance(admin, "team/3"); b.Credited != amt("50") || b.ReallocatedIn != amt("0") {
		t.Fatalf("team 3 in USD = %+v", b)
	}
	checkCurrencyLists(t, e, admin, beforeWithdrawals)
	checkCurrencyEvents(t, e)
	e.checkLedger()
	checkVerifyPerCurrency(t, e, admin)
}

// checkCurrencyLists: ?currency= narrows every list, and ?at= reads each
// currency's account as it stood.
func checkCurrencyLists(t *testing.T, e *env, admin string, before time.Time) {
	t.Helper()
	var items []balance
	e.Do("GET", "/api/v1/balances?currency=JPY", admin, nil).OK(t, 200, &items)
	if len(items) != 2 { // user 7 and team 3 (the reallocation opened its JPY account)
		t.Errorf("JPY balances = %+v, want user 7's and team 3's", items)
	}
	for _, b := range items {
		if b.Currency != "JPY" {
			t.Errorf("a JPY list item in %s", b.Currency)
		}
	}
	var ws []withdrawal
	e.Do("GET", withdrawalsPath+"?currency=JPY", admin, nil).OK(t, 200, &ws)
	if len(ws) != 1 || ws[0].Currency != "JPY" {
		t.Errorf("JPY withdrawals = %+v", ws)
	}
	var es []entry
	e.Do("GET", "/api/v1/ledger/entries?currency=JPY&limit=1000", admin, nil).OK(t, 200, &es)
	if len(es) != 6 { // the credit (2), the hold (2), the reallocation (2)
		t.Errorf("%d JPY entries, want 6: %+v", len(es), es)
	}
	for _, en := range es {
		if en.Currency != "JPY" || !strings.HasSuffix(en.Account, ":JPY") {
			t.Errorf("a JPY entry %+v", en)
		}
	}
	for _, c := range []string{"currency=jp", "currency=usd"} {
		e.Do("GET", "/api/v1/balances?"+c, admin, nil).FailsOn(t, 400, "validation_failed", "currency")
		e.Do("GET", "/api/v1/ledger/entries?"+c, admin, nil).FailsOn(t, 400, "validation_failed", "currency")
	}
	var then ownerBalances
	e.Do("GET", "/api/v1/balances/user/7?at="+before.UTC().Format(time.RFC3339Nano), admin, nil).OK(t, 200, &then)
	if len(then.Balances) != 2 || then.Balances[0].Currency != "JPY" || then.Balances[0].Available != amt("1000000") ||
		then.Balances[0].Held != amt("0") || then.Balances[1].Currency != "USD" || then.Balances[1].Available != amt("100") {
		t.Errorf("user 7 before the withdrawals = %+v", then)
	}
	var none ownerBalances
	e.Do("GET", "/api/v1/balances/user/999", admin, nil).OK(t, 200, &none)
	if none.Balances == nil || len(none.Balances) != 0 {
		t.Errorf("an owner without accounts = %+v, want no balances", none)
	}
}

// checkCurrencyEvents: every event carries its movement's currency (none
// for the base currency, eventbus.EventCurrency), with the owner's name as
// its account and key.
func checkCurrencyEvents(t *testing.T, e *env) {
	t.Helper()
	e.outboxTypes() // schemas and keys
	rows, err := e.Pool.Query(context.Background(), `SELECT type, key, payload::text FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	currencies := map[string]bool{}
	for rows.Next() {
		var typ, key, payload string
		if err := rows.Scan(&typ, &key, &payload); err != nil {
			t.Fatal(err)
		}
		env, _ := eventbus.Decode([]byte(payload))
		var d struct{ Currency string }
		if err := json.Unmarshal(env.Data, &d); err != nil || d.Currency == eventbus.BaseCurrency || (d.Currency != "" && strings.Contains(key, ":"+d.Currency)) {
			t.Errorf("%s keyed %q: currency %q (%v), want JPY or none, beside the owner's name", typ, key, d.Currency, err)
		}
		currencies[eventbus.CurrencyOf(d.Currency)] = true
	}
	if !currencies["JPY"] || !currencies["USD"] {
		t.Errorf("event currencies %v, want JPY and USD", currencies)
	}
}

// checkVerifyPerCurrency: the verification reports each currency; an
// account whose chain head is broken is named with its currency, and only
// its currency fails.
func checkVerifyPerCurrency(t *testing.T, e *env, admin string) {
	t.Helper()
	var v verification
	e.Do("GET", "/api/v1/ledger/verify", admin, nil).OK(t, 200, &v)
	if !v.OK || len(v.Currencies) != 2 || v.Currencies[0].Currency != "JPY" || !v.Currencies[0].OK ||
		v.Currencies[0].Entries != 6 || v.Currencies[1].Currency != "USD" || v.Entries != v.Currencies[0].Entries+v.Currencies[1].Entries {
		t.Fatalf("verify = %+v", v)
	}
	if _, err := e.Pool.Exec(context.Background(), `UPDATE accounts SET last_hash = NULL WHERE account = 'team:3:JPY'`); err != nil {
		t.Fatal(err)
	}
	e.Do("GET", "/api/v1/ledger/verify", admin, nil).OK(t, 200, &v)
	if v.OK || v.FirstBadAccount == nil || *v.FirstBadAccount != "team:3:JPY" || v.FirstBadCurrency == nil || *v.FirstBadCurrency != "JPY" ||
		v.Currencies[0].OK || v.Currencies[0].FirstBadAccount == nil || !v.Currencies[1].OK {
		t.Fatalf("verify after breaking team:3:JPY's head = %+v", v)
	}
}
