package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
)

// Fuzz targets of the shared request decoding (docs/api.md#conventions): strict
// JSON bodies, pagination, query parameters, path ids, amounts and ratios. Each
// checks that bad input is a client error (4xx with a stable code, never a
// panic or a 5xx) and that what is accepted keeps the contract's rules.

// nasty are hostile values tried in every position.
var nasty = []string{
	"", " ", "null", "0", "-0", "1", "-1", "01", "+1", "007", "1.5", "1.", ".5", "1e5", "1E+5", "1e-8", "0x10", "1_000",
	"9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
	"99999999999999999999999999999999", "1000", "1001", "999999999999.99999999", "1000000000000", "0.000000001",
	"NaN", "nan", "Infinity", "-Inf", "true", "false", "yes", "[]", "{}",
	"'; DROP TABLE users;--", "1 OR 1=1", "1; SELECT pg_sleep(10)", "../../etc/passwd", "%2e%2e%2f", "%00", "\x00", "\xff\xfe",
	"é🦄\u202e", "２", "١", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456789+05:30", "2026-13-01T00:00:00Z",
	"0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01", strings.Repeat("9", 400),
}

// bodies are hostile request bodies.
var bodies = []string{
	``, ` `, `null`, `{}`, `[]`, `[{}]`, `"x"`, `1`, `true`, `{`, `}`, `{"name":"a"}`, `{"name":"a"} {"name":"b"}`,
	`{"name":"a"}x`, `{"name":"a"}]`, `{"name":"a","name":"b"}`, `{"NAME":"a"}`, `{"extra":1}`, `{"":1}`,
	`{"count":1e5}`, `{"count":1.5}`, `{"count":-9223372036854775809}`, `{"count":"1"}`, `{"count":null}`,
	`{"amount":"1.5"}`, `{"amount":1.5}`, `{"amount":"1e5"}`, `{"amount":1e5}`, `{"amount":"NaN"}`, `{"amount":""}`,
	`{"amount":null}`, `{"amount":"0.123456789"}`, `{"amount":"1234567890123"}`, `{"amount":"-0"}`, `{"amount":[1]}`,
	`{"amount":{"a":1}}`, `{"amount":true}`, `{"amount":" 1"}`, `{"amount":"+1"}`, `{"amount":"\u0031"}`,
	`{"ratio":"0.5"}`, `{"ratio":1}`, `{"ratio":"1.0001"}`, `{"ratio":"-0.0000"}`, `{"ratio":0.00001}`,
	`{"nested":{"name":"a","extra":1}}`, `{"list":[1,2,"3"]}`, `{"flag":"true"}`,
	`{"name":"'; DROP TABLE users;--"}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", "\xef\xbb\xbf{}",
	strings.Repeat("[", 10001), strings.Repeat(`{"nested":`, 5000) + strings.Repeat("}", 5000),
	`{"name":"` + strings.Repeat("a", httpx.MaxBodyBytes) + `"}`, `{}` + strings.Repeat(" ", httpx.MaxBodyBytes),
}

var contentTypes = []string{"", "application/json", "application/json; charset=utf-8", "application/problem+json",
	"text/plain", "application/x-www-form-urlencoded", ";;;", "application/json; charset=\"", "APPLICATION/JSON"}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// clientError fails unless err is an *httpx.Error with a 4xx status, a
// stable snake_case code and a message.
func clientError(t *testing.T, err error) *httpx.Error {
	t.Helper()
	e, ok := httpx.As(err)
	if !ok {
		t.Fatalf("error %T %q is not a client error (it would be a 500)", err, err)
	}
	if e.Status < 400 || e.Status > 499 || !snakeCase.MatchString(e.Code) || e.Message == "" {
		t.Fatalf("error %+v is not a 4xx with a stable code and a message", e)
	}
	return e
}

// request builds a request as the router hands it to a decoder.
func request(t *testing.T, method, query, contentType string, body []byte) *http.Request {
	t.Helper()
	r, err := http.NewRequestWithContext(context.Background(), method, "http://service.test/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.URL.RawQuery = query
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// checkAmount fails unless d has at most 8 fractional and 12 integer digits.
func checkAmount(t *testing.T, field string, d decimal.Decimal) {
	t.Helper()
	if !d.Truncate(money.Places).Equal(d) || d.Abs().GreaterThanOrEqual(decimal.New(1, money.IntegerDigits)) {
		t.Fatalf("%s = %s breaks the amount rules", field, d)
	}
}

// checkRatio fails unless d is in [0, 1] with at most 4 fractional digits.
func checkRatio(t *testing.T, field string, d decimal.Decimal) {
	t.Helper()
	if !d.Truncate(money.RatioPlaces).Equal(d) || d.IsNegative() || d.GreaterThan(decimal.NewFromInt(1)) {
		t.Fatalf("%s = %s breaks the ratio rules", field, d)
	}
}

// fuzzBody exercises DecodeJSON with the field types request bodies use.
type fuzzBody struct {
	Name   string        `json:"name"`
	Count  int64         `json:"count"`
	Flag   *bool         `json:"flag"`
	Amount *money.Amount `json:"amount"`
	Ratio  *money.Ratio  `json:"ratio"`
	List   []int64       `json:"list"`
	Nested *struct {
		Name string `json:"name"`
	} `json:"nested"`
}

func FuzzDecodeJSON(f *testing.F) {
	for i, b := range bodies {
		f.Add(contentTypes[i%len(contentTypes)], []byte(b))
		f.Add("application/json", []byte(b))
	}
	for _, n := range nasty {
		f.Add("", []byte(n))
		f.Add(n, []byte(`{}`))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		var v fuzzBody
		err := httpx.DecodeJSON(request(t, http.MethodPost, "", contentType, body), &v)
		if err != nil {
			e := clientError(t, err)
			switch {
			case e.Status == http.StatusRequestEntityTooLarge && len(body) <= httpx.MaxBodyBytes:
				t.Fatalf("body of %d bytes refused as too large", len(body))
			case e.Status == http.StatusUnsupportedMediaType && contentType == "":
				t.Fatal("no Content-Type refused as an unsupported media type")
			case e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge &&
				e.Status != http.StatusUnsupportedMediaType:
				t.Fatalf("unexpected status %d", e.Status)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted a body that is not one JSON value: %q", body)
		}
		if len(body) > httpx.MaxBodyBytes {
			t.Fatalf("accepted a body of %d bytes", len(body))
		}
		if v.Amount != nil {
			checkAmount(t, "amount", v.Amount.Decimal)
		}
		if v.Ratio != nil {
			checkRatio(t, "ratio", v.Ratio.Decimal)
		}
	})
}

func FuzzParsePagination(f *testing.F) {
	f.Add("")
	f.Add("limit=10&offset=20")
	f.Add("limit=1000&offset=0")
	f.Add("limit=1&limit=2000")
	f.Add("limit=&offset=")
	f.Add("limit=%zz")
	for _, n := range nasty {
		f.Add("limit=" + url.QueryEscape(n))
		f.Add("offset=" + url.QueryEscape(n))
		f.Add("limit=" + n + "&offset=" + n)
	}
	f.Fuzz(func(t *testing.T, query string) {
		p, err := httpx.ParsePagination(request(t, http.MethodGet, query, "", nil))
		if err != nil {
			e := clientError(t, err)
			if e.Status != http.StatusBadRequest || e.Code != "validation_failed" || len(e.Fields) != 1 ||
				(e.Fields["limit"] == "" && e.Fields["offset"] == "") {
				t.Fatalf("pagination error %+v", e)
			}
			return
		}
		if p.Limit < 1 || p.Limit > 1000 || p.Offset < 0 {
			t.Fatalf("pagination %+v out of range", p)
		}
		q, _ := url.ParseQuery(query)
		if q.Get("limit") == "" && p.Limit != 100 || q.Get("offset") == "" && p.Offset != 0 {
			t.Fatalf("defaults not applied: %+v", p)
		}
	})
}

func FuzzQueryParams(f *testing.F) {
	f.Add("user_id", "user_id=7")
	f.Add("is_active", "is_active=true")
	f.Add("from", "from=2026-01-01T00:00:00Z")
	f.Add("from", "from=2026-01-01T00:00:00%2B05:30")
	f.Add("to", "to=2026-01-01T00:00:00+05:30")
	for _, n := range nasty {
		for _, name := range []string{"id", "is_active", "from"} {
			f.Add(name, name+"="+url.QueryEscape(n))
		}
	}
	f.Fuzz(func(t *testing.T, name, query string) {
		r := request(t, http.MethodGet, query, "", nil)
		raw := r.URL.Query().Get(name)

		id, err := httpx.QueryInt64(r, name)
		if !refused(t, "QueryInt64", name, err) && (raw == "" && id != nil || raw != "" && (id == nil || *id <= 0)) {
			t.Fatalf("QueryInt64(%q) = %v", raw, id)
		}

		b, err := httpx.QueryBool(r, name)
		if !refused(t, "QueryBool", name, err) && (raw == "" && b != nil || raw != "" && b == nil) {
			t.Fatalf("QueryBool(%q) = %v", raw, b)
		}

		tm, err := httpx.QueryTime(r, name)
		switch {
		case refused(t, "QueryTime", name, err):
		case raw == "" && tm != nil, raw != "" && tm == nil:
			t.Fatalf("QueryTime(%q) = %v", raw, tm)
		case tm != nil:
			if tm.Location() != time.UTC {
				t.Fatalf("QueryTime(%q) = %v, not in UTC", raw, tm)
			}
			back, err := time.Parse(time.RFC3339Nano, tm.Format(time.RFC3339Nano))
			if err != nil || !back.Equal(*tm) {
				t.Fatalf("QueryTime(%q) = %v does not round-trip as RFC 3339: %v", raw, tm, err)
			}
		}
	})
}

// refused reports whether a query reader refused the parameter name, and
// fails unless it did so with a 400 that names it.
func refused(t *testing.T, reader, name string, err error) bool {
	t.Helper()
	if err == nil {
		return false
	}
	if e := clientError(t, err); e.Status != http.StatusBadRequest || e.Fields[name] == "" {
		t.Fatalf("%s error %+v does not name %q", reader, e, name)
	}
	return true
}

func FuzzPathID(f *testing.F) {
	for _, n := range nasty {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := request(t, http.MethodGet, "", "", nil)
		r.SetPathValue("id", value)
		id, err := httpx.PathID(r, "id")
		if err != nil {
			if e := clientError(t, err); e.Status != http.StatusNotFound {
				t.Fatalf("PathID(%q): %+v, want 404", value, e)
			}
			return
		}
		if want, perr := strconv.ParseInt(value, 10, 64); id <= 0 || perr != nil || want != id {
			t.Fatalf("PathID(%q) = %d", value, id)
		}
	})
}

// plainAmount is the exact syntax of an amount or ratio (before the digit
// limits): optional minus, digits, optionally a point and digits.
var plainAmount = regexp.MustCompile(`^-?([0-9]+)(\.([0-9]+))?$`)

// oracle reports whether s is a valid amount (places 8, 12 integer digits)
// or ratio (places 4, in [0, 1]) by the contract's text alone.
// checkParse fails unless parse accepts s exactly when the contract does
// (oracle) and wraps invalid in its refusals; it returns what it parsed
// and whether it accepted s.
func checkParse(t *testing.T, name, s string, parse func(string) (decimal.Decimal, error), places int, ratio bool, invalid error) (decimal.Decimal, bool) {
	t.Helper()
	d, err := parse(s)
	if (err == nil) != oracle(s, places, ratio) {
		t.Fatalf("%s(%q) = %v, %v; the contract says otherwise", name, s, d, err)
	}
	if err != nil && !errors.Is(err, invalid) {
		t.Fatalf("%s(%q): %v does not wrap %v", name, s, err, invalid)
	}
	return d, err == nil
}

func oracle(s string, places int, ratio bool) bool {
	m := plainAmount.FindStringSubmatch(s)
	if m == nil || len(m[3]) > places || (m[2] != "" && m[3] == "") {
		return false
	}
	if ratio {
		d, err := decimal.NewFromString(s)
		return err == nil && !d.IsNegative() && !d.GreaterThan(decimal.NewFromInt(1))
	}
	return len(strings.TrimLeft(m[1], "0")) <= money.IntegerDigits
}

func FuzzMoney(f *testing.F) {
	for _, n := range nasty {
		f.Add(n)
		f.Add(strconv.Quote(n))
	}
	for _, s := range []string{"0.00000001", "-12.5", "0.2000", "1.0000", "1.00001", "000000000000001.5", `"1.5"`, `"\u0031"`,
		`" 1"`, `"1" `, `1 `, `"1`, `-`, `--1`, `1..2`, `-.5`, `1.5.`, `"-0.00000000"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Parse and ParseRatio: the text of an amount or ratio.
		if d, ok := checkParse(t, "Parse", s, money.Parse, money.Places, false, money.ErrInvalidAmount); ok {
			checkAmount(t, "amount", d)
			back, err := money.Parse(money.Format(d))
			if err != nil || !back.Equal(d) {
				t.Fatalf("Parse(%q) = %s does not round-trip: %v", s, d, err)
			}
		}
		if rt, ok := checkParse(t, "ParseRatio", s, money.ParseRatio, money.RatioPlaces, true, money.ErrInvalidRatio); ok {
			checkRatio(t, "ratio", rt)
		}

		// Amount and Ratio as JSON values: a string holding the text, or
		// a number literal; nothing else.
		text, isText := jsonText([]byte(s))
		var a money.Amount
		err := json.Unmarshal([]byte(s), &a)
		if err == nil && (!isText || !oracle(text, money.Places, false)) {
			t.Fatalf("Amount accepted JSON %q as %s", s, a)
		}
		if err == nil {
			checkAmount(t, "amount", a.Decimal)
			out, _ := json.Marshal(a)
			var back money.Amount
			if err := json.Unmarshal(out, &back); err != nil || !back.Equal(a.Decimal) {
				t.Fatalf("Amount %s written as %s does not read back: %v", a, out, err)
			}
		}
		var r money.Ratio
		if err := json.Unmarshal([]byte(s), &r); err == nil {
			if !isText || !oracle(text, money.RatioPlaces, true) {
				t.Fatalf("Ratio accepted JSON %q as %s", s, r.Decimal)
			}
			checkRatio(t, "ratio", r.Decimal)
		}
	})
}

// jsonText is the text a JSON value carries as an amount: a string's
// contents or a number's literal.
func jsonText(b []byte) (string, bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}
