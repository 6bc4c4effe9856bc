// Package decodefuzz is the fuzz harness every service's transport package
// uses for its request decoders: a table of the router's routes (Route),
// CheckCoverage to fail when a served route is missing from it, and Run, a
// fuzz target that builds requests from fuzzed path values, query,
// Content-Type and body, seeded with each route's valid examples and
// hostile values, and checks that a decoder either refuses with a 4xx and
// a stable code or yields what the route's Check accepts. The As, Page,
// ID, Amount and Time helpers are the checks the contract's rules need.
package decodefuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
)

// Route is one route of a service's router with the decoder its go-kit
// server runs, the query parameters and body fields that decoder reads,
// what a successful decode guarantees, and valid examples. Every route the
// router serves must be listed (CheckCoverage); Decode is nil only for a
// route that reads no request at all.
type Route struct {
	Route  string // as Router.Routes lists it: "METHOD /path/{param}"
	Decode kithttp.DecodeRequestFunc
	Query  []string
	Fields []string
	Check  func(t *testing.T, req any)
	Valid  []Input
}

// Input is one request: the path values in the order of the pattern, the
// raw query and the body.
type Input struct {
	Path  []string
	Query string
	Body  string
}

// nasty are hostile values tried in every path value, query parameter
// and body field.
var nasty = []string{
	"", " ", "null", "0", "-0", "1", "-1", "01", "+1", "1.5", "1.", ".5", "1e5", "1E+5", "0x10", "1_000",
	"9223372036854775807", "9223372036854775808", "-9223372036854775809", "99999999999999999999999999999999",
	"1000", "1001", "999999999999.99999999", "1000000000000", "0.000000001", "0.00001", "1.0001", "-0.5",
	"NaN", "Infinity", "-Inf", "true", "yes", "user", "team", "platform", "user:1", "system:payout", "hour", "portfolio",
	"'; DROP TABLE users;--", "1 OR 1=1", "1; SELECT pg_sleep(10)", "../../etc/passwd", "%2e%2e%2f", "\x00", "\xff\xfe",
	"é🦄\u202e", "２", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456789+05:30", "2026-13-01T00:00:00Z",
	"0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01", strings.Repeat("9", 300),
}

// bodies are hostile bodies tried on every route.
var bodies = []string{
	``, ` `, `null`, `{}`, `[]`, `"x"`, `1`, `{`, `{}{}`, `{} x`, `{}]`, `{"extra":1}`, `{"":1}`,
	strings.Repeat("[", 10001), strings.Repeat(`{"a":`, 10001), "\xef\xbb\xbf{}", "{\"x\":\"\xff\"}",
}

var contentTypes = []string{"", "application/json", "application/json; charset=utf-8", "text/plain", ";;;"}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

var param = regexp.MustCompile(`\{([a-z_]+)\}`)

func CheckCoverage(t *testing.T, routes []Route, served []string) {
	t.Helper()
	var listed []string
	for _, r := range routes {
		listed = append(listed, r.Route)
	}
	slices.Sort(listed)
	for _, r := range served {
		if _, found := slices.BinarySearch(listed, r); !found {
			t.Errorf("route %s has no fuzz case in routes", r)
		}
	}
	for _, r := range listed {
		if !slices.Contains(served, r) {
			t.Errorf("fuzz case %s names no route", r)
		}
	}
}

func Run(f *testing.F, routes []Route, mapErr func(error) error) {
	var decodable, withBody, withQuery []Route
	for _, r := range routes {
		if r.Decode == nil {
			continue
		}
		decodable = append(decodable, r)
		if len(r.Fields) > 0 {
			withBody = append(withBody, r)
		}
		if len(r.Query) > 0 {
			withQuery = append(withQuery, r)
		}
		for _, in := range r.Valid {
			p := append(in.Path, "", "")
			f.Add(r.Route, p[0], p[1], in.Query, "application/json", []byte(in.Body))
			if in.Body != "" {
				// Trailing data, a duplicate unknown key and a cut body.
				f.Add(r.Route, p[0], p[1], in.Query, "", []byte(in.Body+in.Body))
				f.Add(r.Route, p[0], p[1], in.Query, "application/json", []byte(strings.Replace(in.Body, "{", `{"dup":1,"dup":2,`, 1)))
				f.Add(r.Route, p[0], p[1], in.Query, "application/json", []byte(in.Body[:len(in.Body)/2]))
			}
		}
	}
	// Each hostile value goes in every path value, query parameter and the
	// body of one route, as a query parameter of another, and as a body
	// field (raw and as a JSON string) of a third: the routes take turns so
	// the corpus stays small enough for a short run.
	for i, n := range nasty {
		r := decodable[i%len(decodable)]
		var q []string
		for _, k := range r.Query {
			q = append(q, k+"="+url.QueryEscape(n))
		}
		f.Add(r.Route, n, n, strings.Join(q, "&"), "", []byte(n))
		if len(withQuery) > 0 {
			r := withQuery[i%len(withQuery)]
			f.Add(r.Route, "1", "1", r.Query[i%len(r.Query)]+"="+n, "", []byte(nil))
		}
		if len(withBody) > 0 {
			r := withBody[i%len(withBody)]
			field := r.Fields[i%len(r.Fields)]
			value := n
			if i%2 == 1 {
				quoted, _ := json.Marshal(n)
				value = string(quoted)
			}
			f.Add(r.Route, "1", "1", "", "application/json", []byte(`{"`+field+`":`+value+`}`))
		}
	}
	for i, b := range bodies {
		r := decodable[i%len(decodable)]
		if len(withBody) > 0 {
			r = withBody[i%len(withBody)]
		}
		f.Add(r.Route, "1", "1", "", contentTypes[i%len(contentTypes)], []byte(b))
	}
	f.Fuzz(func(t *testing.T, route, path1, path2, query, contentType string, body []byte) {
		r := pick(decodable, route)
		req := request(t, r.Route, []string{path1, path2}, query, contentType, body)
		v, err := r.Decode(context.Background(), req)
		if err != nil {
			e, ok := httpx.As(mapErr(err))
			if !ok {
				t.Fatalf("%s: error %T %q becomes a 500", r.Route, err, err)
			}
			if e.Status < 400 || e.Status > 499 || !snakeCase.MatchString(e.Code) || e.Message == "" {
				t.Fatalf("%s: error %+v is not a 4xx with a stable code and a message", r.Route, e)
			}
			switch {
			case e.Status == http.StatusNotFound && !strings.Contains(r.Route, "{"):
				t.Fatalf("%s: 404 %s without a path value", r.Route, e.Code)
			case e.Status == http.StatusRequestEntityTooLarge && len(body) <= httpx.MaxBodyBytes:
				t.Fatalf("%s: body of %d bytes refused as too large", r.Route, len(body))
			case e.Status == http.StatusUnsupportedMediaType && contentType == "":
				t.Fatalf("%s: no Content-Type refused as an unsupported media type", r.Route)
			}
			return
		}
		r.Check(t, v)
		if len(r.Fields) > 0 {
			// Text from a body is stored as it is: it must be text a
			// PostgreSQL column can hold.
			Text(t, r.Route, reflect.ValueOf(v))
		}
	})
}

// Text fails on a string in v that is not UTF-8 or holds a NUL.
func Text(t *testing.T, name string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			Text(t, name, v.Elem())
		}
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("%s: decoded text %q cannot be stored", name, s)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				Text(t, name+"."+v.Type().Field(i).Name, v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			Text(t, name, v.Index(i))
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			Text(t, name, it.Key())
			Text(t, name, it.Value())
		}
	}
}

// pick is the route named name, or else one picked by name's hash.
func pick(routes []Route, name string) Route {
	for _, r := range routes {
		if r.Route == name {
			return r
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return routes[h.Sum32()%uint32(len(routes))]
}

// request builds the request the router hands to the route's decoder:
// the pattern's path values set as ServeMux sets them, the raw query, the
// Content-Type when not empty, and the body.
func request(t *testing.T, route string, values []string, query, contentType string, body []byte) *http.Request {
	t.Helper()
	method, pattern, _ := strings.Cut(route, " ")
	r, err := http.NewRequestWithContext(context.Background(), method, "http://service.test/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	r.URL.Path = param.ReplaceAllStringFunc(pattern, func(m string) string {
		name := m[1 : len(m)-1]
		r.SetPathValue(name, values[i])
		i++
		return values[i-1]
	})
	r.URL.RawQuery = query
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func As[T any](t *testing.T, v any) T {
	t.Helper()
	x, ok := v.(T)
	if !ok {
		t.Fatalf("decoded %T, want %T", v, x)
	}
	return x
}

func NoRequest(t *testing.T, v any) {
	t.Helper()
	if v != nil {
		t.Fatalf("decoded %T for a route that reads no request", v)
	}
}

func Page(t *testing.T, limit, offset int) {
	t.Helper()
	if limit < 1 || limit > 1000 || offset < 0 {
		t.Fatalf("page limit %d offset %d out of range", limit, offset)
	}
}

func ID(t *testing.T, name string, id int64) {
	t.Helper()
	if id <= 0 {
		t.Fatalf("%s = %d is not a positive id", name, id)
	}
}

// Amount fails unless d has at most 8 fractional and 12 integer digits.
func Amount(t *testing.T, field string, d decimal.Decimal) {
	t.Helper()
	if !d.Truncate(money.Places).Equal(d) || d.Abs().GreaterThanOrEqual(decimal.New(1, money.IntegerDigits)) {
		t.Fatalf("%s = %s breaks the amount rules", field, d)
	}
}

// Time fails unless tm can be written as RFC 3339 in UTC (and, when
// utc, already is in UTC).
func Time(t *testing.T, name string, tm time.Time, utc bool) {
	t.Helper()
	if utc && tm.Location() != time.UTC {
		t.Fatalf("%s = %v is not in UTC", name, tm)
	}
	b, err := json.Marshal(tm.UTC())
	if err != nil {
		t.Fatalf("%s = %v cannot be written as RFC 3339: %v", name, tm, err)
	}
	var back time.Time
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(tm) {
		t.Fatalf("%s = %v does not read back from %s: %v", name, tm, b, err)
	}
}

func OptionalTime(t *testing.T, name string, tm *time.Time) {
	t.Helper()
	if tm != nil {
		Time(t, name, *tm, true)
	}
}

// Range checks a list's window as httpx.QueryRange reads it: from and to,
// each optional.
func Range(t *testing.T, from, to *time.Time) {
	t.Helper()
	OptionalTime(t, "from", from)
	OptionalTime(t, "to", to)
}

func OptionalID(t *testing.T, name string, id *int64) {
	t.Helper()
	if id != nil {
		ID(t, name, *id)
	}
}
