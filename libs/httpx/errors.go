// Package httpx holds the HTTP conventions every service shares
// (docs/api.md#conventions): the response envelope, the error type with its
// stable codes, strict JSON decoding, request ids, pagination and query
// parsing.
package httpx

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/fundplatform/platform/libs/pg"
)

// Error is an error a client may see: an HTTP status, a stable snake_case
// code, a human message and, for validation errors, per-field reasons.
type Error struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter int
}

func (e *Error) Error() string { return e.Message }

// NewError builds an Error.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Errorf builds an Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Validation builds a 400 error for one field; code is usually
// "validation_failed" or a more specific one such as "invalid_amount".
func Validation(code, field, reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: field + " " + reason,
		Fields: map[string]string{field: reason}}
}

// Common errors, shared so the same condition always carries the same code.
var (
	ErrUnauthenticated = NewError(http.StatusUnauthorized, "unauthenticated", "authentication required")
	ErrTokenExpired    = NewError(http.StatusUnauthorized, "token_expired", "access token expired")
	ErrForbidden       = NewError(http.StatusForbidden, "forbidden", "not allowed")
	ErrNotFound        = NewError(http.StatusNotFound, "not_found", "not found")
	ErrTooLarge        = NewError(http.StatusRequestEntityTooLarge, "payload_too_large", "request body exceeds 1 MiB")
	ErrInternal        = NewError(http.StatusInternalServerError, "internal", "internal server error")
	// ErrUnavailable answers a fault of the service's database or of the
	// connection to it (pg.Transient): it passes by itself, so the client
	// is told to retry rather than that the server is broken.
	ErrUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
		Message: "temporarily unavailable; retry", RetryAfter: 1}
	ErrMethod      = NewError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
	ErrMediaType   = NewError(http.StatusUnsupportedMediaType, "unsupported_media_type", "request body must be application/json")
	ErrRateLimited = NewError(http.StatusTooManyRequests, "rate_limited", "too many requests")
)

// As returns the client-visible error behind err (a *ValidationError as
// its Client error), or, when err is not one (its text is never shown to
// the client), ErrUnavailable for a transient fault of the database and
// ErrInternal for anything else.
func As(err error) (*Error, bool) {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Client(), true
	}
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	var ce coded
	if errors.As(err, &ce) {
		return NewError(ce.StatusCode(), ce.ErrorCode(), ce.Error()), true
	}
	if pg.Transient(err) {
		return ErrUnavailable, false
	}
	return ErrInternal, false
}

// coded is a client error of a library below the transport (such as
// outbox.TooLargeError) that says its status and code without depending
// on this package.
type coded interface {
	error
	StatusCode() int
	ErrorCode() string
}

// Validation codes (docs/api.md#error-codes).
const (
	CodeValidationFailed = "validation_failed"
	CodeInvalidAmount    = "invalid_amount"
)

// ValidationError is a bad input value, as a service's domain reports it.
// Code is its code in docs/api.md#error-codes; empty means
// CodeValidationFailed. As turns it into a 400 with the field's reason.
type ValidationError struct {
	Code   string
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + " " + e.Reason }

// Invalid is a ValidationError with code CodeValidationFailed.
func Invalid(field, reason string) *ValidationError {
	return &ValidationError{Code: CodeValidationFailed, Field: field, Reason: reason}
}

// Client is the 400 error a client sees for e.
func (e *ValidationError) Client() *Error {
	code := e.Code
	if code == "" {
		code = CodeValidationFailed
	}
	return Validation(code, e.Field, e.Reason)
}

// Codes is a service's error table, the one place its domain errors get
// their statuses and codes: a row a domain error, with the status and
// stable code a client sees for it (docs/api.md#error-codes).
type Codes []struct {
	Err    error
	Status int
	Code   string
}

// Map is an ErrorMapper: the client error of the first row whose error err
// is (errors.Is), with that error's text as the message; any other error
// it returns unchanged (a ValidationError becomes its 400 in As, anything
// unknown a 500 that says nothing internal).
func (cs Codes) Map(err error) error {
	for _, c := range cs {
		if errors.Is(err, c.Err) {
			return NewError(c.Status, c.Code, c.Err.Error())
		}
	}
	return err
}
