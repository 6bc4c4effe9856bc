package eventbus

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// fuzzData are data objects of every event type, as the producers emit
// them, and hostile ones.
var fuzzData = map[string]string{
	TypePortfolioCreated:         `{"portfolio_id":42,"name":"Growth","user_id":7,"team_id":3,"currency":"USD"}`,
	TypePortfolioUpdated:         `{"portfolio_id":42,"name":"<b>Growth</b> & co","user_id":8,"team_id":3,"currency":"EUR"}`,
	TypePortfolioProfitRecorded:  `{"portfolio_id":42,"snapshot_id":9,"user_id":7,"team_id":3,"as_of":"2026-03-01T12:00:00Z","period_end":"2026-03-01T12:00:00Z","profit":"-150.25000000","nav":"1000.00000000","prev_nav":"1100.25000000","net_flow":"50.00000000"}`,
	TypePortfolioNAVCorrected:    `{"correction_id":2,"portfolio_id":42,"snapshot_id":9,"user_id":7,"team_id":3,"as_of":"2026-03-01T12:00:00Z","period_end":"2026-03-01T12:00:00Z","old_profit":"100.00000000","profit":"-150.25000000","nav":"1000.00000000","prev_nav":"1100.25000000","net_flow":"50.00000000"}`,
	TypeProfitAllocationReversed: `{"reversal_id":1,"allocation_id":11,"correction_id":2,"portfolio_id":42,"source":"nav","status":"allocated","snapshot_id":9,"period_end":"2026-03-01T12:00:00Z","profit_amount":"100.00000000","loss_carryforward_before":"5.00000000","distributable":"100.00000000","to_team_amount":"20.00000000","to_platform_amount":"10.00000000","to_user_amount":"70.00000000","user_id":7,"team_id":3}`,
	TypeProfitRatioChanged:       `{"portfolio_id":42,"ratio_id":5,"version":2,"to_team":"0.2000","to_platform":"0.1000","to_user":"0.7000"}`,
	TypeProfitAllocated:          `{"allocation_id":11,"portfolio_id":42,"source":"manual","snapshot_id":null,"period_end":"2026-03-01T12:00:00Z","profit_amount":"100.00000000","distributable":"100.00000000","to_team_amount":"20.00000000","to_platform_amount":"10.00000000","to_user_amount":"70.00000000","user_id":7,"team_id":3,"ratio_id":5,"ratio_version":2}`,
	TypeWithdrawalRequested:      `{"withdrawal_id":1,"from_type":"user","owner_id":7,"account":"user:7","amount":"12.50000000","status":"pending","reason":null}`,
	TypeWithdrawalCompleted:      `{"withdrawal_id":1,"from_type":"team","owner_id":3,"account":"team:3","amount":"12.50000000","status":"completed","reason":null}`,
	TypeWithdrawalFailed:         `{"withdrawal_id":1,"from_type":"platform","owner_id":0,"account":"platform","amount":"12.50000000","status":"failed","reason":"cancelled"}`,
	TypeFundsReallocated:         `{"reallocation_id":4,"from_account":"platform","to_account":"team:3","amount":"0.00000001","reason":"bonus"}`,
}

const fuzzID = "0b7e4a52-3c1d-4f8e-9a6b-2d5c8e1f7a90"

// fuzzEnvelope is an envelope's JSON with the given fields.
func fuzzEnvelope(id, typ, version, tm, data string) []byte {
	return []byte(`{"id":"` + id + `","type":"` + typ + `","version":` + version + `,"source":"profit","time":"` + tm +
		`","subject":"portfolio/42","data":` + data + `}`)
}

// FuzzDecode checks Decode on any message value: it never panics; what it
// accepts has a UUID id, a type, version 1 and a data object; and the
// accepted envelope, written again as the producers write it, decodes to
// the same envelope (and writes the same bytes).
func FuzzDecode(f *testing.F) {
	for _, typ := range Types {
		f.Add(fuzzEnvelope(fuzzID, typ, "1", "2026-03-01T12:00:00.123456Z", fuzzData[typ]))
	}
	good := fuzzData[TypeProfitAllocated]
	for _, v := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"id":`, `{"id":"` + fuzzID + `"}`,
		string(fuzzEnvelope(fuzzID, "", "1", "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope(fuzzID, "x", "2", "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope(fuzzID, "x", "1.0", "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope(fuzzID, "x", "1e0", "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope(fuzzID, "x", `"1"`, "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope(fuzzID, "x", "9223372036854775808", "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope(fuzzID, "x", "1", "2026-03-01T12:00:00Z", `null`)),
		string(fuzzEnvelope(fuzzID, "x", "1", "2026-03-01T12:00:00Z", `[1]`)),
		string(fuzzEnvelope(fuzzID, "x", "1", "2026-03-01T12:00:00Z", `"{}"`)),
		string(fuzzEnvelope(fuzzID, "x", "1", "2026-03-01T12:00:00Z", `{ "a" : "<&>\u2028" }`)),
		string(fuzzEnvelope(fuzzID, "x", "1", "2026-03-01T12:00:00Z", `{"a":1,"a":2}`)),
		string(fuzzEnvelope(fuzzID, "x", "1", "2026-03-01T12:00:00Z", strings.Repeat(`{"a":`, 10001)+`1`+strings.Repeat(`}`, 10001))),
		string(fuzzEnvelope(fuzzID, "x", "1", "2026-03-01T12:00:00+01:00", good)),
		string(fuzzEnvelope(fuzzID, "x", "1", "not a time", good)),
		string(fuzzEnvelope("not-a-uuid", "x", "1", "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope("{"+fuzzID+"}", "x", "1", "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope("urn:uuid:"+fuzzID, "x", "1", "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope(strings.ReplaceAll(fuzzID, "-", ""), "x", "1", "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope(fuzzID, "'; DROP TABLE inbox;--", "1", "2026-03-01T12:00:00Z", good)),
		string(fuzzEnvelope(fuzzID, "../../etc/passwd", "1", "2026-03-01T12:00:00Z", `{"amount":"NaN","x":1e400}`)),
		string(fuzzEnvelope(fuzzID, "é🦄\u202e", "1", "2026-03-01T12:00:00Z", `{"amount":1e5}`)),
		`{"id":"` + fuzzID + `","type":"a","version":1,"data":{}}`,
		`{"id":"` + fuzzID + `","type":"a","version":1,"data":{},"extra":1}`,
		`{"id":"` + fuzzID + `","ID":"x","type":"a","version":1,"data":{}}`,
		`{"id":"` + fuzzID + `","type":"a","version":1,"data":{}} trailing`,
		`{"id":"` + fuzzID + `","type":"a","version":1,"data":{}}{"id":"x"}`,
		`{"id":"` + fuzzID + `","type":"a","version":1,"time":null,"data":{}}`,
		"{\"id\":\"" + fuzzID + "\",\"type\":\"\xff\",\"version\":1,\"data\":{}}",
		strings.Repeat("[", 10001),
	} {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		env, err := Decode(value)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "eventbus: ") {
				t.Fatalf("error %q does not say where it comes from", err)
			}
			return
		}
		if _, err := uuid.Parse(env.ID); err != nil {
			t.Fatalf("accepted id %q", env.ID)
		}
		if env.Type == "" || env.Version != Version || len(env.Data) == 0 || env.Data[0] != '{' || !json.Valid(env.Data) {
			t.Fatalf("accepted envelope %q", value)
		}
		out, err := json.Marshal(env)
		if err != nil {
			t.Fatalf("accepted envelope %q cannot be written again: %v", value, err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("written envelope %s does not decode: %v", out, err)
		}
		if again.ID != env.ID || again.Type != env.Type || again.Version != env.Version || again.Source != env.Source ||
			again.Subject != env.Subject || !again.Time.Equal(env.Time) || !sameJSON(t, again.Data, env.Data) {
			t.Fatalf("round trip changed the envelope:\n%+v\n%+v", env, again)
		}
		if out2, err := json.Marshal(again); err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("writing is not stable:\n%s\n%s (%v)", out, out2, err)
		}
	})
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	for _, p := range []struct {
		raw []byte
		v   *any
	}{{a, &va}, {b, &vb}} {
		dec := json.NewDecoder(bytes.NewReader(p.raw))
		dec.UseNumber()
		if err := dec.Decode(p.v); err != nil {
			t.Fatalf("data %s: %v", p.raw, err)
		}
	}
	return reflect.DeepEqual(va, vb)
}
