package transport

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
	"unicode/utf8"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/auth/internal/endpoint"
	"github.com/fundplatform/platform/services/auth/internal/identity"
)

// fuzzRoute is one route of NewHandler with the decoder its go-kit server
// runs, the query parameters and body fields that decoder reads, what a
// successful decode guarantees, and valid examples. Every route the router
// serves must be listed (TestFuzzRoutesCoverEveryRoute); decode is nil only
// for a route that reads no request at all.
type fuzzRoute struct {
	route  string // as Router.Routes lists it: "METHOD /path/{param}"
	decode kithttp.DecodeRequestFunc
	query  []string
	fields []string
	check  func(t *testing.T, req any)
	valid  []fuzzInput
}

// fuzzInput is one request: the path values in the order of the pattern,
// the raw query and the body.
type fuzzInput struct {
	path  []string
	query string
	body  string
}

var fuzzRoutes = []fuzzRoute{
	{route: "POST /api/v1/auth/login", decode: decodeBody[endpoint.LoginRequest], fields: []string{"email", "password"},
		check: func(t *testing.T, v any) { fuzzAs[endpoint.LoginRequest](t, v) },
		valid: []fuzzInput{{body: `{"email":"ann@example.com","password":"correct horse battery"}`}}},
	{route: "POST /api/v1/auth/refresh", decode: decodeBody[endpoint.RefreshRequest], fields: []string{"refresh_token"},
		check: func(t *testing.T, v any) { fuzzAs[endpoint.RefreshRequest](t, v) },
		valid: []fuzzInput{{body: `{"refresh_token":"rt_abc.def"}`}}},
	{route: "POST /api/v1/auth/logout", decode: decodeBody[endpoint.RefreshRequest], fields: []string{"refresh_token"},
		check: func(t *testing.T, v any) { fuzzAs[endpoint.RefreshRequest](t, v) },
		valid: []fuzzInput{{body: `{"refresh_token":"rt_abc.def"}`}}},
	{route: "GET /api/v1/auth/me", decode: httpx.NoRequest, check: fuzzNoRequest},
	{route: "GET /.well-known/jwks.json", decode: httpx.NoRequest, check: fuzzNoRequest},
	{route: "GET /api/v1/auth/jwks.json", decode: httpx.NoRequest, check: fuzzNoRequest},
	{route: "POST /api/v1/users", decode: decodeBody[identity.NewUser], fields: []string{"email", "username", "password", "role"},
		check: func(t *testing.T, v any) { fuzzAs[identity.NewUser](t, v) },
		valid: []fuzzInput{{body: `{"email":"bob@example.com","username":"bob","password":"twelve chars!","role":"user"}`}}},
	{route: "GET /api/v1/users", decode: decodeListUsers, query: []string{"limit", "offset", "role", "is_active"},
		check: func(t *testing.T, v any) {
			req := fuzzAs[endpoint.ListUsersRequest](t, v)
			fuzzPage(t, req.Page.Limit, req.Page.Offset)
			if req.Filter.Role != nil && *req.Filter.Role == "" {
				t.Fatal("empty role filter")
			}
		},
		valid: []fuzzInput{{query: "limit=10&offset=5&role=admin&is_active=false"}, {query: ""}}},
	{route: "GET /api/v1/users/{id}", decode: decodeID, check: fuzzIDRequest,
		valid: []fuzzInput{{path: []string{"7"}}}},
	{route: "PATCH /api/v1/users/{id}", decode: decodeUpdateUser,
		fields: []string{"role", "is_active", "username", "password", "old_password"},
		check: func(t *testing.T, v any) {
			req := fuzzAs[endpoint.UpdateUserRequest](t, v)
			fuzzID(t, "id", req.ID)
		},
		valid: []fuzzInput{{path: []string{"7"}, body: `{"role":"viewer","is_active":true,"username":"bo"}`},
			{path: []string{"7"}, body: `{"password":"new password 12","old_password":"old password 12"}`}}},
	{route: "POST /api/v1/teams", decode: decodeBody[identity.NewTeam], fields: []string{"name", "description"},
		check: func(t *testing.T, v any) { fuzzAs[identity.NewTeam](t, v) },
		valid: []fuzzInput{{body: `{"name":"Alpha","description":"the first"}`}}},
	{route: "GET /api/v1/teams", decode: decodeListTeams, query: []string{"limit", "offset"},
		check: func(t *testing.T, v any) {
			req := fuzzAs[endpoint.ListTeamsRequest](t, v)
			fuzzPage(t, req.Page.Limit, req.Page.Offset)
		},
		valid: []fuzzInput{{query: "limit=1000&offset=0"}}},
	{route: "GET /api/v1/teams/{id}", decode: decodeID, check: fuzzIDRequest,
		valid: []fuzzInput{{path: []string{"3"}}}},
	{route: "PUT /api/v1/teams/{id}/members/{user_id}", decode: decodeMember, check: fuzzMember,
		valid: []fuzzInput{{path: []string{"3", "7"}}}},
	{route: "DELETE /api/v1/teams/{id}/members/{user_id}", decode: decodeMember, check: fuzzMember,
		valid: []fuzzInput{{path: []string{"3", "7"}}}},
	{route: "GET /openapi.json"},
}

func fuzzIDRequest(t *testing.T, v any) { fuzzID(t, "id", fuzzAs[endpoint.IDRequest](t, v).ID) }

func fuzzMember(t *testing.T, v any) {
	req := fuzzAs[endpoint.MemberRequest](t, v)
	fuzzID(t, "id", req.TeamID)
	fuzzID(t, "user_id", req.UserID)
}

// TestFuzzRoutesCoverEveryRoute fails when a route is served without a
// fuzz case, or a fuzz case names no route.
func TestFuzzRoutesCoverEveryRoute(t *testing.T) {
	// NewHandler only registers routes; nil endpoints are never called.
	served := NewHandler(endpoint.Endpoints{}, nil, nil).Routes()
	fuzzCheckCoverage(t, served)
}

// FuzzDecoders runs the request decoder of a route picked by name (or,
// for any other name, by its hash) on a request built from the fuzzed path
// values, query, Content-Type and body.
func FuzzDecoders(f *testing.F) { fuzzDecoders(f, mapError) }

// The rest of the file is the same in every service's transport package.

// fuzzNasty are hostile values tried in every path value, query parameter
// and body field.
var fuzzNasty = []string{
	"", " ", "null", "0", "-0", "1", "-1", "01", "+1", "1.5", "1.", ".5", "1e5", "1E+5", "0x10", "1_000",
	"9223372036854775807", "9223372036854775808", "-9223372036854775809", "99999999999999999999999999999999",
	"1000", "1001", "999999999999.99999999", "1000000000000", "0.000000001", "0.00001", "1.0001", "-0.5",
	"NaN", "Infinity", "-Inf", "true", "yes", "user", "team", "platform", "user:1", "system:payout", "hour", "portfolio",
	"'; DROP TABLE users;--", "1 OR 1=1", "1; SELECT pg_sleep(10)", "../../etc/passwd", "%2e%2e%2f", "\x00", "\xff\xfe",
	"é🦄\u202e", "２", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456789+05:30", "2026-13-01T00:00:00Z",
	"0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01", strings.Repeat("9", 300),
}

// fuzzBodies are hostile bodies tried on every route.
var fuzzBodies = []string{
	``, ` `, `null`, `{}`, `[]`, `"x"`, `1`, `{`, `{}{}`, `{} x`, `{}]`, `{"extra":1}`, `{"":1}`,
	strings.Repeat("[", 10001), strings.Repeat(`{"a":`, 10001), "\xef\xbb\xbf{}", "{\"x\":\"\xff\"}",
}

var fuzzContentTypes = []string{"", "application/json", "application/json; charset=utf-8", "text/plain", ";;;"}

var fuzzSnakeCase = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

var fuzzParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func fuzzCheckCoverage(t *testing.T, served []string) {
	t.Helper()
	var listed []string
	for _, r := range fuzzRoutes {
		listed = append(listed, r.route)
	}
	slices.Sort(listed)
	for _, r := range served {
		if _, found := slices.BinarySearch(listed, r); !found {
			t.Errorf("route %s has no fuzz case in fuzzRoutes", r)
		}
	}
	for _, r := range listed {
		if !slices.Contains(served, r) {
			t.Errorf("fuzz case %s names no route", r)
		}
	}
}

func fuzzDecoders(f *testing.F, mapErr func(error) error) {
	var decodable, withBody, withQuery []fuzzRoute
	for _, r := range fuzzRoutes {
		if r.decode == nil {
			continue
		}
		decodable = append(decodable, r)
		if len(r.fields) > 0 {
			withBody = append(withBody, r)
		}
		if len(r.query) > 0 {
			withQuery = append(withQuery, r)
		}
		for _, in := range r.valid {
			p := append(in.path, "", "")
			f.Add(r.route, p[0], p[1], in.query, "application/json", []byte(in.body))
			if in.body != "" {
				// Trailing data, a duplicate unknown key and a cut body.
				f.Add(r.route, p[0], p[1], in.query, "", []byte(in.body+in.body))
				f.Add(r.route, p[0], p[1], in.query, "application/json", []byte(strings.Replace(in.body, "{", `{"dup":1,"dup":2,`, 1)))
				f.Add(r.route, p[0], p[1], in.query, "application/json", []byte(in.body[:len(in.body)/2]))
			}
		}
	}
	// Each hostile value goes in every path value, query parameter and the
	// body of one route, as a query parameter of another, and as a body
	// field (raw and as a JSON string) of a third: the routes take turns so
	// the corpus stays small enough for a short run.
	for i, n := range fuzzNasty {
		r := decodable[i%len(decodable)]
		var q []string
		for _, k := range r.query {
			q = append(q, k+"="+url.QueryEscape(n))
		}
		f.Add(r.route, n, n, strings.Join(q, "&"), "", []byte(n))
		if len(withQuery) > 0 {
			r := withQuery[i%len(withQuery)]
			f.Add(r.route, "1", "1", r.query[i%len(r.query)]+"="+n, "", []byte(nil))
		}
		if len(withBody) > 0 {
			r := withBody[i%len(withBody)]
			field := r.fields[i%len(r.fields)]
			value := n
			if i%2 == 1 {
				quoted, _ := json.Marshal(n)
				value = string(quoted)
			}
			f.Add(r.route, "1", "1", "", "application/json", []byte(`{"`+field+`":`+value+`}`))
		}
	}
	for i, b := range fuzzBodies {
		r := decodable[i%len(decodable)]
		if len(withBody) > 0 {
			r = withBody[i%len(withBody)]
		}
		f.Add(r.route, "1", "1", "", fuzzContentTypes[i%len(fuzzContentTypes)], []byte(b))
	}
	f.Fuzz(func(t *testing.T, route, path1, path2, query, contentType string, body []byte) {
		r := fuzzPick(decodable, route)
		req := fuzzRequest(t, r.route, []string{path1, path2}, query, contentType, body)
		v, err := r.decode(context.Background(), req)
		if err != nil {
			e, ok := httpx.As(mapErr(err))
			if !ok {
				t.Fatalf("%s: error %T %q becomes a 500", r.route, err, err)
			}
			if e.Status < 400 || e.Status > 499 || !fuzzSnakeCase.MatchString(e.Code) || e.Message == "" {
				t.Fatalf("%s: error %+v is not a 4xx with a stable code and a message", r.route, e)
			}
			switch {
			case e.Status == http.StatusNotFound && !strings.Contains(r.route, "{"):
				t.Fatalf("%s: 404 %s without a path value", r.route, e.Code)
			case e.Status == http.StatusRequestEntityTooLarge && len(body) <= httpx.MaxBodyBytes:
				t.Fatalf("%s: body of %d bytes refused as too large", r.route, len(body))
			case e.Status == http.StatusUnsupportedMediaType && contentType == "":
				t.Fatalf("%s: no Content-Type refused as an unsupported media type", r.route)
			}
			return
		}
		r.check(t, v)
		if len(r.fields) > 0 {
			// Text from a body is stored as it is: it must be text a
			// PostgreSQL column can hold.
			fuzzText(t, r.route, reflect.ValueOf(v))
		}
	})
}

// fuzzText fails on a string in v that is not UTF-8 or holds a NUL.
func fuzzText(t *testing.T, name string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			fuzzText(t, name, v.Elem())
		}
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("%s: decoded text %q cannot be stored", name, s)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fuzzText(t, name+"."+v.Type().Field(i).Name, v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			fuzzText(t, name, v.Index(i))
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			fuzzText(t, name, it.Key())
			fuzzText(t, name, it.Value())
		}
	}
}

// fuzzPick is the route named name, or else one picked by name's hash.
func fuzzPick(routes []fuzzRoute, name string) fuzzRoute {
	for _, r := range routes {
		if r.route == name {
			return r
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return routes[h.Sum32()%uint32(len(routes))]
}

// fuzzRequest builds the request the router hands to the route's decoder:
// the pattern's path values set as ServeMux sets them, the raw query, the
// Content-Type when not empty, and the body.
func fuzzRequest(t *testing.T, route string, values []string, query, contentType string, body []byte) *http.Request {
	t.Helper()
	method, pattern, _ := strings.Cut(route, " ")
	r, err := http.NewRequestWithContext(context.Background(), method, "http://service.test/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	r.URL.Path = fuzzParam.ReplaceAllStringFunc(pattern, func(m string) string {
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

func fuzzAs[T any](t *testing.T, v any) T {
	t.Helper()
	x, ok := v.(T)
	if !ok {
		t.Fatalf("decoded %T, want %T", v, x)
	}
	return x
}

func fuzzNoRequest(t *testing.T, v any) {
	t.Helper()
	if v != nil {
		t.Fatalf("decoded %T for a route that reads no request", v)
	}
}

func fuzzPage(t *testing.T, limit, offset int) {
	t.Helper()
	if limit < 1 || limit > 1000 || offset < 0 {
		t.Fatalf("page limit %d offset %d out of range", limit, offset)
	}
}

func fuzzID(t *testing.T, name string, id int64) {
	t.Helper()
	if id <= 0 {
		t.Fatalf("%s = %d is not a positive id", name, id)
	}
}
