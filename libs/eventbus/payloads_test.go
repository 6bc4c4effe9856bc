package eventbus_test

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/money"
)

// populated is a value of every event type's data object with every field
// set (no zero value, no nil), as its producer would build it.
func populated() map[string]any {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	snapshot, reason := int64(9), "cancelled"
	portfolio := eventbus.PortfolioData{PortfolioID: 42, Name: "Growth", UserID: 7, TeamID: 3, Currency: "USD"}
	withdrawal := func(fromType, account, status string) eventbus.WithdrawalData {
		return eventbus.WithdrawalData{WithdrawalID: 1, FromType: fromType, OwnerID: 7, Account: account,
			Amount: money.MustAmount("12.5"), Status: status, Reason: &reason, Currency: "JPY"}
	}
	return map[string]any{
		eventbus.TypePortfolioCreated: portfolio,
		eventbus.TypePortfolioUpdated: portfolio,
		eventbus.TypePortfolioProfitRecorded: eventbus.ProfitRecordedData{PortfolioID: 42, SnapshotID: snapshot, UserID: 7, TeamID: 3,
			AsOf: at, PeriodEnd: at, Profit: money.MustAmount("-150.25"), NAV: money.MustAmount("1000"),
			PrevNAV: money.MustAmount("1100.25"), NetFlow: money.MustAmount("50"), Currency: "USD"},
		eventbus.TypePortfolioNAVCorrected: eventbus.NAVCorrectedData{CorrectionID: 2, PortfolioID: 42, SnapshotID: snapshot, UserID: 7, TeamID: 3,
			AsOf: at, PeriodEnd: at, OldProfit: money.MustAmount("100"), Profit: money.MustAmount("-150.25"), NAV: money.MustAmount("1000"),
			PrevNAV: money.MustAmount("1100.25"), NetFlow: money.MustAmount("50"), Currency: "USD"},
		eventbus.TypeProfitAllocationReversed: eventbus.AllocationReversedData{ReversalID: 1, AllocationID: 11, AllocationKey: eventbus.NAVAllocationKey(42, 900), CorrectionID: 2,
			PortfolioID: 42, Source: "nav", Status: "allocated", SnapshotID: &snapshot, PeriodEnd: at, ProfitAmount: money.MustAmount("100"),
			CarryBefore: money.MustAmount("5"), Distributable: money.MustAmount("100"), ToTeamAmount: money.MustAmount("20"), ToPlatformAmount: money.MustAmount("10"),
			ToUserAmount: money.MustAmount("70"), UserID: 7, TeamID: 3, Currency: "EUR"},
		eventbus.TypeProfitRatioChanged: eventbus.RatioChangedData{PortfolioID: 42, RatioID: 5, Version: 2,
			ToTeam: money.Ratio{Decimal: decimal.RequireFromString("0.2")}, ToPlatform: money.Ratio{Decimal: decimal.RequireFromString("0.1")},
			ToUser: money.Ratio{Decimal: decimal.RequireFromString("0.7")}},
		eventbus.TypeProfitAllocated: eventbus.AllocatedData{AllocationID: 11, AllocationKey: "7d1f7a6e-0000-5000-8000-000000000001", PortfolioID: 42, Source: "nav", SnapshotID: &snapshot,
			PeriodEnd: at, ProfitAmount: money.MustAmount("100"), Distributable: money.MustAmount("100"),
			ToTeamAmount: money.MustAmount("20"), ToPlatformAmount: money.MustAmount("10"), ToUserAmount: money.MustAmount("70"),
			UserID: 7, TeamID: 3, RatioID: 5, RatioVersion: 2, Currency: "EUR"},
		eventbus.TypeProfitOutcomeRecorded: eventbus.OutcomeRecordedData{AllocationID: 12, AllocationKey: "7d1f7a6e-0000-5000-8000-000000000002", PortfolioID: 42, Source: "manual",
			Status: "no_distribution", PeriodEnd: at, ProfitAmount: money.MustAmount("-40"),
			LossCarryforwardBefore: money.MustAmount("10"), LossCarryforwardAfter: money.MustAmount("50"),
			UserID: 7, TeamID: 3, Currency: "EUR"},
		eventbus.TypeWithdrawalRequested: withdrawal("user", "user:7", "pending"),
		eventbus.TypeWithdrawalCompleted: withdrawal("team", "team:7", "completed"),
		eventbus.TypeWithdrawalFailed:    withdrawal("user", "user:7", "failed"),
		eventbus.TypeFundsReallocated: eventbus.ReallocatedData{ReallocationID: 4, FromAccount: "platform", ToAccount: "team:3",
			Amount: money.MustAmount("0.00000001"), Reason: "bonus", Currency: "USD"},
		eventbus.TypeLedgerCheckpoint: eventbus.CheckpointData{KeyID: "kid-1", TakenAt: at, MaxEntryID: 12,
			Accounts: []eventbus.CheckpointHead{{Account: "user:7:JPY", Currency: "JPY", LastEntryID: 12,
				Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}, Signature: "c2ln"},
	}
}

// jsonFields are the JSON names of the fields of struct type t.
func jsonFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// schemaDataFields are the names of the data properties of eventType's
// JSON Schema.
func schemaDataFields(t *testing.T, eventType string) []string {
	t.Helper()
	raw, err := eventbus.Schemas.ReadFile("schemas/" + eventType + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Data struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"data"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(schema.Properties.Data.Properties))
}

// validate marshals data in an envelope of eventType and checks it against
// the type's schema; it returns the data object's JSON field names.
func validate(t *testing.T, eventType string, data any) []string {
	t.Helper()
	env, err := eventbus.NewEnvelope("test", eventType, "portfolio/42", data)
	if err != nil {
		t.Fatal(err)
	}
	value, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := eventbus.Validate(eventType, value); err != nil {
		t.Errorf("%s: %v", eventType, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(env.Data, &fields); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(fields))
}

// TestPayloadsMatchSchemas: for every event type, the Go data object of
// NewData has exactly the fields of the type's JSON Schema, and a
// populated value of it (and one with its nullable fields null) marshals
// to an event that passes the schema.
func TestPayloadsMatchSchemas(t *testing.T) {
	values := populated()
	for _, typ := range eventbus.Types {
		into := eventbus.NewData(typ)
		if into == nil {
			t.Errorf("%s: no data type", typ)
			continue
		}
		v := reflect.ValueOf(values[typ])
		if want := reflect.TypeOf(into).Elem(); !v.IsValid() || v.Type() != want {
			t.Errorf("%s: the test's value is %v, want a %v", typ, v.Type(), want)
			continue
		}
		for i := range v.NumField() {
			if v.Field(i).IsZero() {
				t.Errorf("%s: the test's value leaves %s unset", typ, v.Type().Field(i).Name)
			}
		}
		schema := schemaDataFields(t, typ)
		if got := jsonFields(v.Type()); !slices.Equal(got, schema) {
			t.Errorf("%s: %v has the fields %v, its schema %v", typ, v.Type(), got, schema)
		}
		if got := validate(t, typ, v.Interface()); !slices.Equal(got, schema) {
			t.Errorf("%s: marshals the fields %v, its schema has %v", typ, got, schema)
		}
		nulled := reflect.New(v.Type()).Elem()
		nulled.Set(v)
		for i := range nulled.NumField() {
			if f := nulled.Field(i); f.Kind() == reflect.Pointer {
				f.SetZero()
			}
		}
		validate(t, typ, nulled.Interface())
	}
	if eventbus.NewData("portfolio.archived") != nil {
		t.Error("NewData of an unknown type is not nil")
	}
}

// TestEventCurrency: the base currency is omitted from an event and read
// back as itself; any other currency is stated.
func TestEventCurrency(t *testing.T) {
	for _, c := range []string{eventbus.BaseCurrency, "JPY", "EUR"} {
		if got := eventbus.CurrencyOf(eventbus.EventCurrency(c)); got != c {
			t.Errorf("%s is read back as %s", c, got)
		}
	}
	if eventbus.EventCurrency(eventbus.BaseCurrency) != "" || eventbus.EventCurrency("JPY") != "JPY" {
		t.Error("the base currency is stated or another omitted")
	}
	raw, err := json.Marshal(eventbus.AllocatedData{Currency: eventbus.EventCurrency(eventbus.BaseCurrency)})
	if err != nil || strings.Contains(string(raw), "currency") {
		t.Errorf("profit.allocated in the base currency = %s, %v; want no currency field", raw, err)
	}
}

// TestAllocationKey: a NAV profit's identity is derived from its portfolio
// and snapshot (its event need not carry it), the same every time and
// different for another snapshot or portfolio; an event's own
// allocation_key wins; a manual profit's event without one has none.
func TestAllocationKey(t *testing.T) {
	snapshot := int64(900)
	nav := eventbus.AllocatedData{PortfolioID: 42, Source: "nav", SnapshotID: &snapshot}
	want := eventbus.NAVAllocationKey(42, 900)
	if nav.Key() != want || want == eventbus.NAVAllocationKey(42, 901) || want == eventbus.NAVAllocationKey(43, 900) {
		t.Fatalf("NAV identities: %s for 42/900, %s for 42/901, %s for 43/900", want,
			eventbus.NAVAllocationKey(42, 901), eventbus.NAVAllocationKey(43, 900))
	}
	manual := eventbus.AllocatedData{PortfolioID: 42, AllocationKey: eventbus.ManualAllocationKey(42, "admin\x00k\x00h")}
	if manual.Key() != eventbus.ManualAllocationKey(42, "admin\x00k\x00h") || manual.Key() == eventbus.ManualAllocationKey(42, "admin\x00k2\x00h") {
		t.Fatalf("manual identity %s", manual.Key())
	}
	if k := (eventbus.AllocatedData{PortfolioID: 42}).Key(); k != "" {
		t.Fatalf("a manual profit's event without an identity has %q", k)
	}
	// A correction's replacement names the snapshot it corrects: it is not
	// that snapshot's NAV allocation (which the ledger credited already).
	replacement := eventbus.AllocatedData{PortfolioID: 42, Source: "correction", SnapshotID: &snapshot}
	if k := replacement.Key(); k != "" {
		t.Fatalf("a replacement without an identity has %q (the NAV identity is %s)", k, want)
	}
	replacement.AllocationKey = eventbus.CorrectionAllocationKey(42, 7, 0)
	if replacement.Key() == want || replacement.Key() == eventbus.CorrectionAllocationKey(42, 7, 1) ||
		replacement.Key() == eventbus.CorrectionAllocationKey(42, 8, 0) || replacement.Key() != eventbus.CorrectionAllocationKey(42, 7, 0) {
		t.Fatalf("replacement identity %s", replacement.Key())
	}
}
