// Package inboxfuzz is the fuzz harness every service's events package uses
// for what its consumer does with a message before it touches the
// database: a table of the event types the service consumes (Event),
// AddSeeds to seed a fuzz target with each type's valid data and hostile
// variants of every field, and the checks the contract's rules need
// (Permanent, Amounts, Positive, UTC).
package inboxfuzz

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

// Event is an event type a service consumes: a valid data object, the data
// type its decoder fills, and what a decoded one guarantees.
type Event struct {
	Type  string
	Data  string
	Into  func() any
	Check func(t *testing.T, d any)
}

const eventID = "0b7e4a52-3c1d-4f8e-9a6b-2d5c8e1f7a90"

// raw are hostile JSON values put in place of data fields.
var raw = []string{
	`null`, `0`, `-1`, `9223372036854775808`, `"1"`, `"1.000000000"`, `"1.5"`, `1.5`, `"NaN"`,
	`"-0.00000000"`, `"0.00000000"`, `"999999999999.99999999"`, `"1000000000000.00000000"`, `"1e5"`,
	`"2026-03-01T12:00:00+01:00"`, `"2026-02-30T00:00:00Z"`, `"9999-12-31T23:59:59Z"`,
	`"'; DROP TABLE ledger;--"`, `"1 OR 1=1"`, `"../../etc/passwd"`, `{}`, `[]`, `true`, `""`, `"\u0000"`, `"é🦄\u202e"`,
	`"user:0"`, `"system:payout"`, `"platform"`, `"manual"`, `"nav"`,
}

// Envelope is the message value of an event of typ with data.
func Envelope(typ, data string) []byte {
	return []byte(`{"id":"` + eventID + `","type":"` + typ + `","version":1,"source":"test","time":"2026-03-01T12:00:00.5Z",` +
		`"subject":"portfolio/42","data":` + data + `}`)
}

func AddSeeds(f *testing.F, events []Event) {
	n := 0
	for _, ev := range events {
		f.Add(Envelope(ev.Type, ev.Data))
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(ev.Data), &fields); err != nil {
			f.Fatalf("%s: %v", ev.Type, err)
		}
		keys := slices.Sorted(maps.Keys(fields))
		for i, k := range keys {
			// Each field in turn gets a hostile value (they take turns so
			// the corpus stays small enough for a short run); every third
			// field is also left out.
			for _, raw := range []string{raw[n%len(raw)], raw[(n+7)%len(raw)]} {
				n++
				mutated := maps.Clone(fields)
				mutated[k] = json.RawMessage(raw)
				b, _ := json.Marshal(mutated)
				f.Add(Envelope(ev.Type, string(b)))
			}
			if i%3 == 0 {
				mutated := maps.Clone(fields)
				delete(mutated, k)
				b, _ := json.Marshal(mutated)
				f.Add(Envelope(ev.Type, string(b)))
			}
		}
		f.Add(Envelope(ev.Type, strings.Replace(ev.Data, "{", `{"extra":1,`, 1)))
		f.Add(Envelope(ev.Type, strings.Replace(ev.Data, "{", `{"`+keys[0]+`":`+string(fields[keys[0]])+`,`, 1)))
		f.Add(Envelope(ev.Type, `{}`))
		f.Add(Envelope(ev.Type, strings.Repeat(`{"a":`, 10001)+`1`+strings.Repeat(`}`, 10001)))
		f.Add(Envelope(ev.Type, ev.Data+` `))
	}
}

// Pick is the event of type typ among events, if the service consumes it.
func Pick(events []Event, typ string) (Event, bool) {
	for _, ev := range events {
		if ev.Type == typ {
			return ev, true
		}
	}
	return Event{}, false
}

// Permanent fails unless err is permanent: an event that cannot be
// decoded now never can, and is dead-lettered at once.
func Permanent(t *testing.T, what string, err error) {
	t.Helper()
	if !inbox.IsPermanent(err) {
		t.Fatalf("%s: error %q is not permanent", what, err)
	}
}

// Signs an amount may have.
const (
	AnySign = iota
	NotNegative
	PositiveAmount
)

func Amounts(t *testing.T, sign int, fields map[string]money.Amount) {
	t.Helper()
	for field, a := range fields {
		d := a.Decimal
		if !d.Truncate(money.Places).Equal(d) || d.Abs().GreaterThanOrEqual(decimal.New(1, money.IntegerDigits)) {
			t.Fatalf("%s = %s breaks the amount rules", field, d)
		}
		if sign != AnySign && d.IsNegative() || sign == PositiveAmount && d.IsZero() {
			t.Fatalf("%s = %s has the wrong sign", field, d)
		}
	}
}

func Positive(t *testing.T, fields map[string]int64) {
	t.Helper()
	for name, v := range fields {
		if v <= 0 {
			t.Fatalf("%s = %d is not positive", name, v)
		}
	}
}

func UTC(t *testing.T, name string, tm time.Time) {
	t.Helper()
	if _, off := tm.Zone(); off != 0 {
		t.Fatalf("%s = %v is not in UTC", name, tm)
	}
	if _, err := json.Marshal(tm); err != nil {
		t.Fatalf("%s = %v: %v", name, tm, err)
	}
}

// Run is the fuzz target of a consumer's decoding: eventbus.Decode, then
// decode (the schema check and the data decoding) for the types in events.
// A refused event must be a permanent error (dead-lettered at once, the
// consumer goes on), even where the schema is looser than the decoder
// (42.0 for an integer); what decodes must pass its type's Check.
func Run(f *testing.F, events []Event, decode func(eventbus.Envelope, any) error) {
	AddSeeds(f, events)
	f.Fuzz(func(t *testing.T, value []byte) {
		env, err := eventbus.Decode(value)
		if err != nil {
			return
		}
		ev, ok := Pick(events, env.Type)
		if !ok {
			return
		}
		d := ev.Into()
		if err := decode(env, d); err != nil {
			Permanent(t, env.Type, err)
			return
		}
		ev.Check(t, d)
	})
}
