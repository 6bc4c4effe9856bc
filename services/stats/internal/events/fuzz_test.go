package events

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/money"
)

// fuzzEvent is an event type the service consumes: a valid data object,
// the data type decode fills, and what a decoded one guarantees.
type fuzzEvent struct {
	typ   string
	data  string
	into  func() any
	check func(t *testing.T, d any)
}

const fuzzPortfolioData = `{"portfolio_id":42,"name":"Growth","user_id":7,"team_id":3,"currency":"USD"}`

func fuzzPortfolio(t *testing.T, v any) {
	d := v.(*portfolioData)
	fuzzPositive(t, map[string]int64{"portfolio_id": d.PortfolioID, "user_id": d.UserID, "team_id": d.TeamID})
	if d.Name == "" || len(d.Currency) != 3 {
		t.Fatalf("portfolio %+v", d)
	}
}

// fuzzEvents are the types Handler decodes; the others it passes over
// (profit.ratio_changed it counts without reading its data).
var fuzzEvents = []fuzzEvent{
	{typ: eventbus.TypePortfolioCreated, data: fuzzPortfolioData, into: func() any { return new(portfolioData) }, check: fuzzPortfolio},
	{typ: eventbus.TypePortfolioUpdated, data: fuzzPortfolioData, into: func() any { return new(portfolioData) }, check: fuzzPortfolio},
	{typ: eventbus.TypePortfolioProfitRecorded,
		data: `{"portfolio_id":42,"snapshot_id":9,"user_id":7,"team_id":3,"as_of":"2026-03-01T12:00:00Z","period_end":"2026-03-01T12:00:00Z",` +
			`"profit":"-150.25000000","nav":"1000.00000000","prev_nav":"1100.25000000","net_flow":"50.00000000"}`,
		into: func() any { return new(profitRecordedData) },
		check: func(t *testing.T, v any) {
			d := v.(*profitRecordedData)
			fuzzPositive(t, map[string]int64{"portfolio_id": d.PortfolioID, "snapshot_id": d.SnapshotID, "user_id": d.UserID, "team_id": d.TeamID})
			fuzzUTC(t, "as_of", d.AsOf)
			fuzzUTC(t, "period_end", d.PeriodEnd)
			fuzzAmount(t, "profit", d.Profit, fuzzAnySign)
			fuzzAmount(t, "nav", d.NAV, fuzzNotNegative)
			fuzzAmount(t, "prev_nav", d.PrevNAV, fuzzNotNegative)
			fuzzAmount(t, "net_flow", d.NetFlow, fuzzAnySign)
		}},
	{typ: eventbus.TypeProfitAllocated,
		data: `{"allocation_id":11,"portfolio_id":42,"source":"manual","snapshot_id":null,"period_end":"2026-03-01T12:00:00Z",` +
			`"profit_amount":"100.00000000","distributable":"100.00000000","to_team_amount":"20.00000000",` +
			`"to_platform_amount":"10.00000000","to_user_amount":"70.00000000","user_id":7,"team_id":3,"ratio_id":5,"ratio_version":2}`,
		into: func() any { return new(allocatedData) },
		check: func(t *testing.T, v any) {
			d := v.(*allocatedData)
			fuzzAllocated(t, d.AllocationID, d.PortfolioID, d.UserID, d.TeamID, d.RatioID, int64(d.RatioVersion), d.SnapshotID, d.Source)
			fuzzUTC(t, "period_end", d.PeriodEnd)
			fuzzAmount(t, "profit_amount", d.ProfitAmount, fuzzAnySign)
			fuzzAmount(t, "distributable", d.Distributable, fuzzNotNegative)
			fuzzAmount(t, "to_team_amount", d.ToTeamAmount, fuzzNotNegative)
			fuzzAmount(t, "to_platform_amount", d.ToPlatformAmount, fuzzNotNegative)
			fuzzAmount(t, "to_user_amount", d.ToUserAmount, fuzzNotNegative)
		}},
	{typ: eventbus.TypeWithdrawalRequested, data: `{"withdrawal_id":1,"from_type":"user","owner_id":7,"account":"user:7","amount":"12.50000000","status":"pending","reason":null}`,
		into: func() any { return new(withdrawalData) }, check: fuzzWithdrawal},
	{typ: eventbus.TypeWithdrawalCompleted, data: `{"withdrawal_id":1,"from_type":"team","owner_id":3,"account":"team:3","amount":"12.50000000","status":"completed","reason":null}`,
		into: func() any { return new(withdrawalData) }, check: fuzzWithdrawal},
	{typ: eventbus.TypeWithdrawalFailed, data: `{"withdrawal_id":1,"from_type":"platform","owner_id":0,"account":"platform","amount":"12.50000000","status":"failed","reason":"cancelled"}`,
		into: func() any { return new(withdrawalData) }, check: fuzzWithdrawal},
	{typ: eventbus.TypeFundsReallocated, data: `{"reallocation_id":4,"from_account":"platform","to_account":"team:3","amount":"0.00000001","reason":"bonus"}`,
		into: func() any { return new(reallocatedData) },
		check: func(t *testing.T, v any) {
			d := v.(*reallocatedData)
			fuzzPositive(t, map[string]int64{"reallocation_id": d.ReallocationID})
			fuzzAmount(t, "amount", d.Amount, fuzzPositiveAmount)
			if d.FromAccount == "" || d.ToAccount == "" || d.Reason == "" {
				t.Fatalf("reallocation %+v", d)
			}
		}},
}

func fuzzWithdrawal(t *testing.T, v any) {
	d := v.(*withdrawalData)
	fuzzPositive(t, map[string]int64{"withdrawal_id": d.WithdrawalID})
	fuzzAmount(t, "amount", d.Amount, fuzzPositiveAmount)
	if !slices.Contains([]string{"user", "team", "platform"}, d.FromType) || d.OwnerID < 0 || d.Account == "" {
		t.Fatalf("withdrawal %+v", d)
	}
}

func fuzzAllocated(t *testing.T, allocationID, portfolioID, userID, teamID, ratioID, ratioVersion int64, snapshotID *int64, source string) {
	t.Helper()
	fuzzPositive(t, map[string]int64{"allocation_id": allocationID, "portfolio_id": portfolioID, "user_id": userID,
		"team_id": teamID, "ratio_id": ratioID, "ratio_version": ratioVersion})
	if snapshotID != nil {
		fuzzPositive(t, map[string]int64{"snapshot_id": *snapshotID})
	}
	if source != "nav" && source != "manual" {
		t.Fatalf("source %q", source)
	}
}

// FuzzDecode runs what Handler does with a message before it touches the
// database: the inbox's eventbus.Decode, then validate (the schema check)
// and decode for the types the service reads. A refused event is a
// permanent error (dead-lettered, the consumer goes on); what decodes
// keeps the schema's rules.
func FuzzDecode(f *testing.F) {
	fuzzAddEvents(f)
	f.Fuzz(func(t *testing.T, value []byte) {
		env, err := eventbus.Decode(value)
		if err != nil || eventbus.TopicOf(env.Type) == "" {
			return
		}
		if err := validate(env); err != nil {
			fuzzPermanent(t, env.Type, err)
			return
		}
		ev, ok := fuzzPick(env.Type)
		if !ok {
			return
		}
		d := ev.into()
		if err := decode(env, d); err != nil {
			// Refused although the schema accepts it (e.g. 42.0 for an
			// integer): dead-lettered at once, the consumer goes on.
			fuzzPermanent(t, env.Type, err)
			return
		}
		ev.check(t, d)
	})
}

// The rest of the file is the same in every service's events package.

const fuzzEventID = "0b7e4a52-3c1d-4f8e-9a6b-2d5c8e1f7a90"

// fuzzRaw are hostile JSON values put in place of data fields.
var fuzzRaw = []string{
	`null`, `0`, `-1`, `9223372036854775808`, `"1"`, `"1.000000000"`, `"1.5"`, `1.5`, `"NaN"`,
	`"-0.00000000"`, `"0.00000000"`, `"999999999999.99999999"`, `"1000000000000.00000000"`, `"1e5"`,
	`"2026-03-01T12:00:00+01:00"`, `"2026-02-30T00:00:00Z"`, `"9999-12-31T23:59:59Z"`,
	`"'; DROP TABLE ledger;--"`, `"1 OR 1=1"`, `"../../etc/passwd"`, `{}`, `[]`, `true`, `""`, `"\u0000"`, `"é🦄\u202e"`,
	`"user:0"`, `"system:payout"`, `"platform"`, `"manual"`, `"nav"`,
}

// fuzzEnvelopeOf is the message value of an event of typ with data.
func fuzzEnvelopeOf(typ, data string) []byte {
	return []byte(`{"id":"` + fuzzEventID + `","type":"` + typ + `","version":1,"source":"test","time":"2026-03-01T12:00:00.5Z",` +
		`"subject":"portfolio/42","data":` + data + `}`)
}

func fuzzAddEvents(f *testing.F) {
	n := 0
	for _, ev := range fuzzEvents {
		f.Add(fuzzEnvelopeOf(ev.typ, ev.data))
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(ev.data), &fields); err != nil {
			f.Fatalf("%s: %v", ev.typ, err)
		}
		keys := slices.Sorted(maps.Keys(fields))
		for i, k := range keys {
			// Each field in turn gets a hostile value (they take turns so
			// the corpus stays small enough for a short run); every third
			// field is also left out.
			for _, raw := range []string{fuzzRaw[n%len(fuzzRaw)], fuzzRaw[(n+7)%len(fuzzRaw)]} {
				n++
				mutated := maps.Clone(fields)
				mutated[k] = json.RawMessage(raw)
				b, _ := json.Marshal(mutated)
				f.Add(fuzzEnvelopeOf(ev.typ, string(b)))
			}
			if i%3 == 0 {
				mutated := maps.Clone(fields)
				delete(mutated, k)
				b, _ := json.Marshal(mutated)
				f.Add(fuzzEnvelopeOf(ev.typ, string(b)))
			}
		}
		f.Add(fuzzEnvelopeOf(ev.typ, strings.Replace(ev.data, "{", `{"extra":1,`, 1)))
		f.Add(fuzzEnvelopeOf(ev.typ, strings.Replace(ev.data, "{", `{"`+keys[0]+`":`+string(fields[keys[0]])+`,`, 1)))
		f.Add(fuzzEnvelopeOf(ev.typ, `{}`))
		f.Add(fuzzEnvelopeOf(ev.typ, strings.Repeat(`{"a":`, 10001)+`1`+strings.Repeat(`}`, 10001)))
		f.Add(fuzzEnvelopeOf(ev.typ, ev.data+` `))
	}
}

// fuzzPick is the consumed event type typ, if the service consumes it.
func fuzzPick(typ string) (fuzzEvent, bool) {
	for _, ev := range fuzzEvents {
		if ev.typ == typ {
			return ev, true
		}
	}
	return fuzzEvent{}, false
}

// fuzzPermanent fails unless err is permanent: an event that cannot be
// decoded now never can, and is dead-lettered at once.
func fuzzPermanent(t *testing.T, what string, err error) {
	t.Helper()
	if !inbox.IsPermanent(err) {
		t.Fatalf("%s: error %q is not permanent", what, err)
	}
}

// Signs an amount may have.
const (
	fuzzAnySign = iota
	fuzzNotNegative
	fuzzPositiveAmount
)

func fuzzAmount(t *testing.T, field string, a money.Amount, sign int) {
	t.Helper()
	d := a.Decimal
	if !d.Truncate(money.Places).Equal(d) || d.Abs().GreaterThanOrEqual(decimal.New(1, money.IntegerDigits)) {
		t.Fatalf("%s = %s breaks the amount rules", field, d)
	}
	if sign != fuzzAnySign && d.IsNegative() || sign == fuzzPositiveAmount && d.IsZero() {
		t.Fatalf("%s = %s has the wrong sign", field, d)
	}
}

func fuzzPositive(t *testing.T, fields map[string]int64) {
	t.Helper()
	for name, v := range fields {
		if v <= 0 {
			t.Fatalf("%s = %d is not positive", name, v)
		}
	}
}

func fuzzUTC(t *testing.T, name string, tm time.Time) {
	t.Helper()
	if _, off := tm.Zone(); off != 0 {
		t.Fatalf("%s = %v is not in UTC", name, tm)
	}
	if _, err := json.Marshal(tm); err != nil {
		t.Fatalf("%s = %v: %v", name, tm, err)
	}
}
