package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	kithttp "github.com/go-kit/kit/transport/http"
)

var (
	errGone  = errors.New("widget not found")
	errTaken = errors.New("widget name taken")
)

// TestCodesMap: a domain error, wrapped or not, gets its row's status and
// code with its own text; anything else passes through unchanged.
func TestCodesMap(t *testing.T) {
	codes := Codes{
		{errGone, http.StatusNotFound, "widget_not_found"},
		{errTaken, http.StatusConflict, "widget_name_taken"},
	}
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{errGone, 404, "widget_not_found"},
		{fmt.Errorf("load: %w", errTaken), 409, "widget_name_taken"},
		{Invalid("name", "is required"), 400, "validation_failed"},
		{ErrTooLarge, 413, "payload_too_large"},
		{errors.New("boom"), 500, "internal"},
	} {
		e, _ := As(codes.Map(c.err))
		if e.Status != c.status || e.Code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.err, e.Status, e.Code, c.status, c.code)
		}
	}
	if e, _ := As(codes.Map(fmt.Errorf("x: %w", errGone))); e.Message != errGone.Error() {
		t.Errorf("message %q, want the domain error's own text", e.Message)
	}
}

type widget struct{ n int }

func widgetJSON(w widget) string { return fmt.Sprint("w", w.n) }

// TestReplies: a call's error is the response's error; its result is the
// data with the status the helper names, in its JSON form for a Replier.
func TestReplies(t *testing.T) {
	boom := errors.New("boom")
	as := ReplyAs(widgetJSON)
	for name, c := range map[string]struct {
		got, want Response
	}{
		"Reply":         {Reply(widget{1}, nil), OK(widget{1})},
		"ReplyCreated":  {ReplyCreated(widget{1}, nil), Created(widget{1})},
		"ReplyAs OK":    {as.OK(widget{2}, nil), OK("w2")},
		"ReplyAs Made":  {as.Created(widget{3}, nil), Created("w3")},
		"Reply failed":  {Reply(widget{1}, boom), Fail(boom)},
		"Created fail":  {ReplyCreated(widget{1}, boom), Fail(boom)},
		"ReplyAs fail":  {as.OK(widget{1}, boom), Fail(boom)},
		"Made fail":     {as.Created(widget{1}, boom), Fail(boom)},
		"List failed":   {ReplyList([]widget{{1}}, 1, boom), Fail(boom)},
		"As List fail":  {as.List([]widget{{1}}, 1, boom), Fail(boom)},
		"As Items fail": {as.Items([]widget{{1}}, boom), Fail(boom)},
	} {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %+v, want %+v", name, c.got, c.want)
		}
	}
	if r := ReplyList([]widget(nil), 0, nil); fmt.Sprint(r.Data) != "[]" || r.Data == nil || *r.Total != 0 {
		t.Errorf("empty list = %+v", r)
	}
	if r := as.List([]widget{{1}, {2}}, 7, nil); fmt.Sprint(r.Data) != "[w1 w2]" || *r.Total != 7 || r.Status != 0 {
		t.Errorf("list = %+v", r)
	}
	if r := as.Items(nil, nil); r.Data == nil || fmt.Sprint(r.Data) != "[]" || r.Total != nil {
		t.Errorf("items = %+v", r)
	}
}

// TestRoutes: protected routes run Auth outside their inner middleware,
// the first inner one outermost; Before runs before decoding; errors go
// through MapError; the document is served as it is, without Auth.
func TestRoutes(t *testing.T) {
	var trail []string
	mark := func(name string) Middleware {
		return func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				trail = append(trail, name)
				h.ServeHTTP(w, r)
			})
		}
	}
	type key struct{}
	rs := Routes{Router: NewRouter(nil), MapError: Codes{{errGone, http.StatusNotFound, "widget_not_found"}}.Map,
		Auth: mark("auth"),
		Before: []kithttp.RequestFunc{func(ctx context.Context, r *http.Request) context.Context {
			return context.WithValue(ctx, key{}, r.Header.Get("X-Who"))
		}}}
	echo := func(ctx context.Context, req any) (any, error) {
		trail = append(trail, "endpoint")
		if req == "gone" {
			return Fail(errGone), nil
		}
		return Created(fmt.Sprint(req, " by ", ctx.Value(key{}))), nil
	}
	dec := func(_ context.Context, r *http.Request) (any, error) { return r.URL.Query().Get("q"), nil }
	rs.Public("GET", "/open", echo, dec)
	rs.Protected("POST", "/closed", echo, dec, mark("outer"), nil, mark("inner"))
	rs.Document([]byte(`{"openapi":"3.1.0"}`))

	for _, c := range []struct {
		method, target string
		status         int
		trail, body    string
	}{
		{"GET", "/open?q=a", 201, "endpoint", `"data":"a by ann"`},
		{"POST", "/closed?q=b", 201, "auth outer inner endpoint", `"data":"b by ann"`},
		{"POST", "/closed?q=gone", 404, "auth outer inner endpoint", `"code":"widget_not_found"`},
		{"GET", "/openapi.json", 200, "", `{"openapi":"3.1.0"}`},
	} {
		trail = nil
		req := httptest.NewRequest(c.method, c.target, nil)
		req.Header.Set("X-Who", "ann")
		rec := httptest.NewRecorder()
		rs.ServeHTTP(rec, req)
		if rec.Code != c.status || strings.Join(trail, " ") != c.trail || !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("%s %s = %d %s (ran %v), want %d with %s (ran %s)", c.method, c.target, rec.Code, rec.Body, trail, c.status, c.body, c.trail)
		}
	}
	if got := strings.Join(rs.Routes(), ", "); got != "GET /open, GET /openapi.json, POST /closed" {
		t.Errorf("routes = %s", got)
	}
}

// TestBodyFields: the shared readers of body fields and query windows
// answer the contract's codes, naming the field.
func TestBodyFields(t *testing.T) {
	str := func(s string) *string { return &s }
	for name, c := range map[string]struct {
		err         error
		code, field string
	}{
		"time missing":   {second(RequiredTime("as_of", nil)), "validation_failed", "as_of"},
		"time bad":       {second(RequiredTime("as_of", str("2026-01-01"))), "validation_failed", "as_of"},
		"time too late":  {second(RequiredTime("as_of", str("9999-12-31T23:00:00-02:00"))), "validation_failed", "as_of"},
		"amount missing": {second(RequiredAmount("amount", nil)), "invalid_amount", "amount"},
		"amount bad":     {second(RequiredAmount("amount", json.RawMessage(`"1e3"`))), "invalid_amount", "amount"},
		"amount type":    {second(RequiredAmount("amount", json.RawMessage(`true`))), "invalid_amount", "amount"},
		"from bad":       {third(QueryRange(httptest.NewRequest("GET", "/?from=x&to=y", nil))), "validation_failed", "from"},
		"to bad":         {third(QueryRange(httptest.NewRequest("GET", "/?to=y", nil))), "validation_failed", "to"},
	} {
		e, ok := As(c.err)
		if !ok || e.Status != 400 || e.Code != c.code || e.Fields[c.field] == "" {
			t.Errorf("%s: %v, want 400 %s naming %s", name, c.err, c.code, c.field)
		}
	}
	if tm, err := RequiredTime("as_of", str("2026-01-02T03:04:05+02:00")); err != nil || tm.Format("15:04Z07:00") != "03:04+02:00" {
		t.Errorf("time = %v, %v; want its own offset kept", tm, err)
	}
	if a, err := RequiredAmount("amount", json.RawMessage(`"12.5"`)); err != nil || a.String() != "12.5" {
		t.Errorf("amount = %v, %v", a, err)
	}
	from, to, err := QueryRange(httptest.NewRequest("GET", "/?from=2026-01-01T02:00:00%2B02:00", nil))
	if err != nil || from == nil || from.Location().String() != "UTC" || from.Hour() != 0 || to != nil {
		t.Errorf("range = %v %v, %v", from, to, err)
	}
}

func second[A any](_ A, err error) error { return err }

func third[A, B any](_ A, _ B, err error) error { return err }
