package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/money"
)

// MaxBodyBytes is the largest request body accepted
// (docs/api.md#json-requests).
const MaxBodyBytes = 1 << 20

// DecodeJSON decodes the request body into v strictly: unknown fields
// (names are case-sensitive), trailing data, wrong types and bodies over
// 1 MiB are refused with the contract's codes. An empty body is
// "invalid_json".
func DecodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return ErrMediaType
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		return decodeError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	// Anything after the first value, other than whitespace, is refused.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return NewError(http.StatusBadRequest, "invalid_json", "request body must hold exactly one JSON object")
	}
	// encoding/json matches names regardless of case; the API does not.
	if name, bad := wrongCaseField(body, reflect.TypeOf(v), ""); bad {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "unknown field " + name,
			Fields: map[string]string{name: "unknown field (field names are case-sensitive)"}}
	}
	// JSON may carry a NUL ("\u0000") that no text column can store:
	// refuse it here rather than fail in the database.
	if field, ok := nulField(reflect.ValueOf(v), ""); ok {
		if field == "" {
			field = "body"
		}
		return Validation("validation_failed", field, "must not contain NUL characters")
	}
	return nil
}

// DecodeBody is a go-kit request decoder for routes whose request is the
// JSON body itself, decoded into a T by DecodeJSON.
func DecodeBody[T any](_ context.Context, r *http.Request) (any, error) {
	var v T
	if err := DecodeJSON(r, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// nulField finds a decoded string that holds a NUL character and names
// its field (by JSON name, dotted for nested objects). Raw JSON and byte
// slices are left to their own parsers.
func nulField(v reflect.Value, name string) (string, bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nulField(v.Elem(), name)
		}
	case reflect.String:
		return name, strings.IndexByte(v.String(), 0) >= 0
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag == "-" {
				continue
			}
			fieldName := name
			if !f.Anonymous || tag != "" {
				if tag == "" {
					tag = f.Name
				}
				fieldName = joinField(name, tag)
			}
			if n, ok := nulField(v.Field(i), fieldName); ok {
				return n, true
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", false
		}
		for i := range v.Len() {
			if n, ok := nulField(v.Index(i), name); ok {
				return n, true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			key := fmt.Sprint(it.Key().Interface())
			if n, ok := nulField(it.Key(), name); ok {
				return n, true
			}
			if n, ok := nulField(it.Value(), joinField(name, key)); ok {
				return n, true
			}
		}
	}
	return "", false
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func decodeError(err error) error {
	var (
		mbe    *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return ErrTooLarge
	case errors.Is(err, io.EOF):
		return NewError(http.StatusBadRequest, "invalid_json", "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &syntax):
		return NewError(http.StatusBadRequest, "invalid_json", "request body is not valid JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return NewError(http.StatusBadRequest, "invalid_json", "request body must be a JSON object")
		}
		return &Error{Status: http.StatusBadRequest, Code: "validation_failed",
			Message: fmt.Sprintf("%s must be of type %s", field, typ.Type),
			Fields:  map[string]string{field: "must be of type " + typ.Type.String()}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "unknown field " + name,
			Fields: map[string]string{name: "unknown field"}}
	case errors.Is(err, money.ErrInvalidAmount):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_amount", Message: err.Error()}
	case errors.Is(err, money.ErrInvalidRatio):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_ratio", Message: err.Error()}
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return NewError(http.StatusBadRequest, "invalid_json", "request body is not valid: "+err.Error())
}

// Pagination is a list's limit and offset.
type Pagination struct {
	Limit  int
	Offset int
}

// ParsePagination reads limit (1..1000, default 100) and offset (>= 0,
// default 0) from the query.
func ParsePagination(r *http.Request) (Pagination, error) {
	p := Pagination{Limit: 100}
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return p, Validation("validation_failed", "limit", "must be an integer from 1 to 1000")
		}
		p.Limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, Validation("validation_failed", "offset", "must be an integer >= 0")
		}
		p.Offset = n
	}
	return p, nil
}

// QueryText reads an optional free-text query parameter, refusing what no
// text column can hold: NUL characters and bytes that are not UTF-8.
func QueryText(r *http.Request, name string) (string, error) {
	s := r.URL.Query().Get(name)
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return "", Validation("validation_failed", name, "must be UTF-8 text without NUL characters")
	}
	return s, nil
}

// QueryInt64 reads an optional positive id from the query.
func QueryInt64(r *http.Request, name string) (*int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return nil, Validation("validation_failed", name, "must be a positive integer")
	}
	return &n, nil
}

// QueryBool reads an optional boolean from the query.
func QueryBool(r *http.Request, name string) (*bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, Validation("validation_failed", name, "must be true or false")
	}
	return &b, nil
}

// QueryTime reads an optional RFC 3339 time from the query, in UTC.
func QueryTime(r *http.Request, name string) (*time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return nil, nil
	}
	t, err := ParseTime(name, s)
	if err != nil {
		return nil, err
	}
	t = t.UTC()
	return &t, nil
}

// ParseTime parses the RFC 3339 time s of a field, keeping its offset;
// a time that is not one is 400 validation_failed
// (docs/api.md#times-and-ids).
func ParseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	// In UTC the year must stay within 0000..9999, or it cannot be written back as RFC 3339.
	if utc := t.UTC(); err != nil || utc.Year() < 0 || utc.Year() > 9999 {
		return time.Time{}, Validation("validation_failed", field, "must be an RFC 3339 time")
	}
	return t, nil
}

// RequiredTime is ParseTime of a body field that must be present.
func RequiredTime(field string, s *string) (time.Time, error) {
	if s == nil {
		return time.Time{}, Validation("validation_failed", field, "is required")
	}
	return ParseTime(field, *s)
}

// RequiredAmount parses a body field that must hold an amount, kept raw
// so that its error names the field: missing or malformed is 400
// invalid_amount (docs/api.md#money-and-rounding).
func RequiredAmount(field string, raw json.RawMessage) (decimal.Decimal, error) {
	if raw == nil {
		return decimal.Decimal{}, Validation("invalid_amount", field, "is required")
	}
	var a money.Amount
	if err := json.Unmarshal(raw, &a); err != nil {
		return decimal.Decimal{}, Validation("invalid_amount", field, strings.TrimPrefix(err.Error(), money.ErrInvalidAmount.Error()+": "))
	}
	return a.Decimal, nil
}

// QueryRange reads the optional from and to times of a list's window
// (docs/api.md#times-and-ids), from first.
func QueryRange(r *http.Request) (from, to *time.Time, err error) {
	if from, err = QueryTime(r, "from"); err != nil {
		return nil, nil, err
	}
	if to, err = QueryTime(r, "to"); err != nil {
		return nil, nil, err
	}
	return from, to, nil
}

// PathID reads a positive 64-bit id from a path value of the route pattern.
func PathID(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		// An id that cannot exist names no resource.
		return 0, ErrNotFound
	}
	return n, nil
}
