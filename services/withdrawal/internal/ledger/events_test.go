package ledger_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// TestEventData: the payloads encode as docs/api.md#events describes them
// and match their JSON Schemas; each carries its movement's currency, with
// the owner's name (not the currency's account) as its account.
func TestEventData(t *testing.T) {
	reason := "cancelled"
	w := ledger.Withdrawal{ID: 5, Owner: ledger.Owner{Type: auth.OwnerUser, ID: 7}, Currency: "JPY", Amount: dec("2.5"),
		Status: ledger.StatusFailed, Reason: &reason, CreatedAt: time.Now()}
	r := ledger.Reallocation{ID: 8, From: ledger.Owner{Type: auth.OwnerPlatform}, To: ledger.Owner{Type: auth.OwnerTeam, ID: 3},
		Currency: "EUR", Amount: dec("1"), Reason: "bonus"}
	usd := w
	usd.Currency = eventbus.BaseCurrency
	for _, tc := range []struct {
		eventType string
		data      any
		want      string
	}{
		// The base currency is omitted (eventbus.EventCurrency).
		{ledger.EventWithdrawalFailed, ledger.WithdrawalEventData(usd),
			`{"withdrawal_id":5,"from_type":"user","owner_id":7,"account":"user:7","amount":"2.50000000","status":"failed","reason":"cancelled"}`},
		{ledger.EventWithdrawalFailed, ledger.WithdrawalEventData(w),
			`{"withdrawal_id":5,"from_type":"user","owner_id":7,"account":"user:7","amount":"2.50000000","status":"failed","reason":"cancelled","currency":"JPY"}`},
		{ledger.EventFundsReallocated, ledger.ReallocatedEventData(r),
			`{"reallocation_id":8,"from_account":"platform","to_account":"team:3","amount":"1.00000000","reason":"bonus","currency":"EUR"}`},
	} {
		got, err := json.Marshal(tc.data)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s data = %s, %v; want %s", tc.eventType, got, err, tc.want)
		}
		env, err := eventbus.NewEnvelope("withdrawal", tc.eventType, "x/1", tc.data)
		if err != nil {
			t.Fatal(err)
		}
		value, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		if err := eventbus.Validate(tc.eventType, value); err != nil {
			t.Errorf("%s: %v", tc.eventType, err)
		}
	}
}
