package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fundplatform/platform/libs/money"
)

type body struct {
	Name   string        `json:"name"`
	Count  int           `json:"count"`
	Amount *money.Amount `json:"amount"`
}

func decode(t *testing.T, raw string) error {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(raw))
	r.Header.Set("Content-Type", "application/json")
	var b body
	return DecodeJSON(r, &b)
}

func TestDecodeJSON(t *testing.T) {
	if err := decode(t, `{"name":"a","count":2,"amount":"1.5"}`); err != nil {
		t.Fatalf("valid body: %v", err)
	}
	if err := decode(t, " {\"name\":\"a\"} \n"); err != nil {
		t.Fatalf("surrounding whitespace: %v", err)
	}
	cases := map[string]struct {
		raw    string
		status int
		code   string
	}{
		"unknown field":  {`{"name":"a","extra":1}`, 400, "invalid_json"},
		"trailing data":  {`{"name":"a"} {"name":"b"}`, 400, "invalid_json"},
		"trailing junk":  {`{"name":"a"}x`, 400, "invalid_json"},
		"not json":       {`{name:`, 400, "invalid_json"},
		"empty":          {``, 400, "invalid_json"},
		"array":          {`[1]`, 400, "invalid_json"},
		"wrong type":     {`{"count":"two"}`, 400, "validation_failed"},
		"bad amount":     {`{"amount":1e5}`, 400, "invalid_amount"},
		"too precise":    {`{"amount":"0.123456789"}`, 400, "invalid_amount"},
		"too large body": {`{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, "payload_too_large"},
	}
	for name, tc := range cases {
		err := decode(t, tc.raw)
		var e *Error
		if !errors.As(err, &e) || e.Status != tc.status || e.Code != tc.code {
			t.Errorf("%s: err = %#v, want %d %s", name, err, tc.status, tc.code)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "text/plain")
	if err := DecodeJSON(r, &body{}); err != ErrMediaType {
		t.Errorf("text/plain: %v", err)
	}
}

func TestWriteErrorEnvelope(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(context.Background(), rec, Validation("invalid_amount", "amount", "must be greater than 0"))
	var env struct {
		IsOK    bool   `json:"isOK"`
		Message string `json:"message"`
		Data    struct {
			ErrorCode int               `json:"errorCode"`
			Code      string            `json:"code"`
			Fields    map[string]string `json:"fields"`
		} `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 400 || env.IsOK || env.Data.ErrorCode != 400 || env.Data.Code != "invalid_amount" ||
		env.Data.Fields["amount"] != "must be greater than 0" || env.Message != "amount must be greater than 0" {
		t.Fatalf("envelope = %d %s", rec.Code, rec.Body)
	}

	// Internal errors never leak their text.
	rec = httptest.NewRecorder()
	WriteError(context.Background(), rec, errors.New("pq: password authentication failed for user x"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "password") || !strings.Contains(rec.Body.String(), `"code":"internal"`) {
		t.Fatalf("internal = %d %s", rec.Code, rec.Body)
	}

	// A fault of the database that passes by itself asks for a retry.
	for _, err := range []error{
		fmt.Errorf("store: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}),
		&pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"},
		fmt.Errorf("store: %w", io.ErrUnexpectedEOF),
	} {
		rec = httptest.NewRecorder()
		WriteError(context.Background(), rec, err)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), `"code":"temporarily_unavailable"`) ||
			strings.Contains(rec.Body.String(), "terminating") {
			t.Errorf("%v = %d %v %s", err, rec.Code, rec.Header(), rec.Body)
		}
	}
	// Not a transient fault: a unique violation is a bug here, not an outage.
	rec = httptest.NewRecorder()
	WriteError(context.Background(), rec, &pgconn.PgError{Code: "23505"})
	if rec.Code != 500 {
		t.Errorf("unique violation = %d %s", rec.Code, rec.Body)
	}
}

func TestWriteList(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteList[int](rec, nil, 0)
	if got := strings.TrimSpace(rec.Body.String()); got != `{"isOK":true,"message":"Success","data":[],"total":0}` {
		t.Fatalf("empty list = %s", got)
	}
}

func TestPagination(t *testing.T) {
	ok := map[string]Pagination{"": {100, 0}, "limit=1&offset=0": {1, 0}, "limit=1000&offset=5": {1000, 5}}
	for q, want := range ok {
		p, err := ParsePagination(httptest.NewRequest(http.MethodGet, "/?"+q, nil))
		if err != nil || p != want {
			t.Errorf("%q = %+v, %v", q, p, err)
		}
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "offset=-1", "offset=1.5"} {
		if _, err := ParsePagination(httptest.NewRequest(http.MethodGet, "/?"+q, nil)); err == nil {
			t.Errorf("%q accepted", q)
		}
	}
}

func TestRequestID(t *testing.T) {
	var seen string
	h := RequestIDMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = RequestID(r.Context()) }))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(RequestIDHeader, "abc-123")
	h.ServeHTTP(rec, req)
	if seen != "abc-123" || rec.Header().Get(RequestIDHeader) != "abc-123" {
		t.Fatalf("kept id: seen %q header %q", seen, rec.Header().Get(RequestIDHeader))
	}
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(RequestIDHeader, "bad id\nwith newline")
	h.ServeHTTP(rec, req)
	if seen == "" || strings.ContainsAny(seen, " \n") || rec.Header().Get(RequestIDHeader) != seen {
		t.Fatalf("new id: seen %q header %q", seen, rec.Header().Get(RequestIDHeader))
	}
}

// rawList is a JSONAppender for the test: its JSON is given.
type rawList string

func (r rawList) AppendJSON(dst []byte) []byte { return append(dst, r...) }

// TestWriteJSONAppender: data that writes its own JSON goes out in the same
// bytes encoding/json writes for the envelope around it.
func TestWriteJSONAppender(t *testing.T) {
	total := int64(7)
	for _, env := range []Envelope{
		{IsOK: true, Message: "Success", Data: rawList(`[{"key":"1","profit":"0.50000000"}]`)},
		{IsOK: true, Message: "Success", Data: rawList(`[]`), Total: &total},
		{Message: `odd "message" <&>`, Data: rawList(`{"a":[1,2,{"b":null}]}`)},
	} {
		rec := httptest.NewRecorder()
		WriteJSON(rec, http.StatusOK, env)
		var want strings.Builder
		plain := env
		plain.Data = json.RawMessage(env.Data.(rawList))
		if err := json.NewEncoder(&want).Encode(plain); err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.String(); got != want.String() {
			t.Errorf("WriteJSON = %q\nencoding/json = %q", got, want.String())
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(want.Len()) {
			t.Errorf("Content-Length = %q, body %d bytes", cl, want.Len())
		}
	}
}
