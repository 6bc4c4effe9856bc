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
	rows := []SummaryRow{
		{Key: "42", Profit: amount("1.5"), Distributed: amount("0"), ToTeam: amount("-3.00000001"),
			ToPlatform: amount("123456789012.12345678"), ToUser: amount("99999999999999999999.99999999"), Withdrawn: amount("0.00000001")},
		{Key: "2026-01-31T05:00:00Z"},
		{Key: `odd "key" <&> é`},
		{Key: "tab\there \u2028 back\\slash \x7f"},
	}
	for _, r := range rows {
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

// TestSummaryRowsJSON: a summary's answer, written by hand into the
// envelope, is what encoding/json writes for the same rows.
func TestSummaryRowsJSON(t *testing.T) {
	type tagged SummaryRow
	amount := func(s string) money.Amount { return money.NewAmount(decimal.RequireFromString(s)) }
	for _, rows := range []SummaryRows{
		{},
		{{Key: "1", Profit: amount("10.5"), Withdrawn: amount("-0.00000001")}},
		{{Key: "2026-01-01"}, {Key: "2026-01-02", ToUser: amount("99999999999999999999.99999999")}, {Key: `"<q>"`}},
	} {
		got := rows.AppendJSON(nil)
		if !json.Valid(got) {
			t.Fatalf("AppendJSON wrote invalid JSON: %s", got)
		}
		plain := make([]tagged, len(rows))
		for i, r := range rows {
			plain[i] = tagged(r)
		}
		want, err := json.Marshal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("AppendJSON = %s\nencoding/json = %s", got, want)
		}
	}
}
