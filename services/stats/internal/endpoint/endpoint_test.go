package endpoint

import (
	"encoding/json"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/money"
)

// TestSummaryRowJSON: the hand-written MarshalJSON writes what encoding/json
// writes from the struct tags.
func TestSummaryRowJSON(t *testing.T) {
	type tagged SummaryRow // the same fields and tags, without the method
	amount := func(s string) money.Amount { return money.NewAmount(decimal.RequireFromString(s)) }
	for _, r := range []SummaryRow{
		{Key: "42", Profit: amount("1.5"), Distributed: amount("0"), ToTeam: amount("-3.00000001"),
			ToPlatform: amount("123456789012.12345678"), ToUser: amount("99999999999999999999.99999999"), Withdrawn: amount("0.00000001")},
		{Key: "2026-01-31T05:00:00Z"},
		{Key: `odd "key" <&> é`},
	} {
		got, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(tagged(r))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("MarshalJSON = %s\nencoding/json = %s", got, want)
		}
	}
}
