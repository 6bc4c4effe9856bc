// Package idempotency implements the Idempotency-Key header of CONTRACT §1
// for the POSTs that move money or record profit, with Stripe's semantics:
//
//   - Within the TTL (24 h), a repeat with the same key, the same caller and
//     the same request (method, path with query, body) gets the original
//     status, body, Content-Type and Location, with "Idempotent-Replayed:
//     true", and the handler does not run again.
//   - The same key with a different request → 409 idempotency_key_reused.
//   - A repeat while the first is still running → 409
//     idempotency_key_in_flight (with Retry-After: 1); the client may retry.
//   - A request refused before any effect stores nothing under its key, so
//     it can be corrected and sent again with the same key (a body over
//     1 MiB is answered 413 by the middleware itself). Once the
//     operation has started, its outcome, success or failure, is stored and
//     is what every repeat gets.
//
// # Using it
//
// The owning service adds MigrationSQL to its own migrations (see
// WithMigration), wraps each such route with Middleware after
// authentication (the caller is the token's subject), and calls Started(ctx)
// right before the transaction that carries the operation's effect begins:
//
//	idem := idempotency.Middleware(pool, idempotency.Options{})
//	router.Handle("POST", "/api/v1/withdrawals", verifier.Require(idem(createWithdrawal)))
//
//	func (s *Store) CreateWithdrawal(ctx context.Context, ...) error {
//		idempotency.Started(ctx)
//		return pg.InTx(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error { ... })
//	}
//
// and calls Purge periodically to delete expired keys.
//
// # What is stored
//
// After the handler returns, the response is stored when its status is
// below 400, or when Started was called whatever the status (a 422
// insufficient_balance, a 409 invalid_state_transition or a 500 found once
// the transaction began). A 4xx or 5xx without Started is a refusal before
// any effect (validation, not found, a database that could not be reached):
// the key's row is deleted and the key can be used again. A handler that
// panics is treated the same way: before Started its row is deleted; after
// Started the 500 "internal" envelope the panic becomes is stored (its
// effect is unknown, so it must not run again under the same key); the
// panic then continues to the recovery middleware.
//
// # Why concurrent repeats never both execute
//
// Before the handler runs, the middleware inserts the key's row with a NULL
// status ("in flight") in a statement of its own, committed before the
// handler starts. (caller, key) is the table's primary key, so of any number
// of concurrent requests with one key exactly one insert succeeds: the
// others wait on the winner's index entry until it commits and then find the
// row (ON CONFLICT), which they read as in flight (409) or, once completed,
// replay. Only the request whose insert succeeded runs the handler. The row
// stops being in flight only when the winner stores the outcome (repeats
// replay it) or deletes the row because nothing happened (a later request
// may then run, as the first had no effect). A row past the TTL is taken
// over by one atomic INSERT … ON CONFLICT DO UPDATE … WHERE created_at <=
// cutoff, which locks the row, so again exactly one request wins it.
//
// # Crashes: a key is never stuck, an effect never doubled
//
// The transaction that carries the operation's effect also marks the key's
// row (effect_at set, status still NULL) right before it commits: the
// middleware puts that step in the request's context (pg.WithBeforeCommit)
// and every read-write pg.InTx of the handler runs it. So the row always
// knows whether an effect was committed under it:
//
//   - If the process dies, or loses its database, before the operation
//     commits, the row is in flight with no mark. Once it is older than the
//     lease (DefaultLease) a repeat takes it over and runs the operation —
//     which never happened. Should the first request still be running, its
//     mark fails (the row is no longer its own) and its effect rolls back.
//   - A server error whose operation committed nothing (a database that
//     went away mid-request) stores nothing either: the key is released.
//   - Storing the outcome is retried for a few seconds (a database
//     restart). If it still fails after the effect committed, the row stays
//     in flight until it expires: repeats get 409 rather than risking a
//     second execution of an operation whose answer is lost.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg"
)

// Headers.
const (
	// Header carries the client's key.
	Header = "Idempotency-Key"
	// ReplayedHeader is set to "true" on a replayed response.
	ReplayedHeader = "Idempotent-Replayed"
)

// DefaultTTL is how long a key is remembered (CONTRACT §1: 24 h).
const DefaultTTL = 24 * time.Hour

// MaxKeyLength is the longest key accepted, in bytes.
const MaxKeyLength = 255

// Anonymous is the caller of a request without verified claims.
const Anonymous = "anonymous"

// Errors the middleware answers with.
var (
	ErrInvalidKey = httpx.NewError(http.StatusBadRequest, "invalid_idempotency_key",
		"Idempotency-Key must be 1 to 255 printable ASCII characters")
	ErrKeyReused = httpx.NewError(http.StatusConflict, "idempotency_key_reused",
		"Idempotency-Key was already used for a different request")
	ErrInFlight = &httpx.Error{Status: http.StatusConflict, Code: "idempotency_key_in_flight",
		Message: "a request with this Idempotency-Key is still in progress; retry later", RetryAfter: 1}
)

// Options tune the middleware; the zero value follows the contract.
type Options struct {
	// TTL is how long a key is remembered; 0 means DefaultTTL.
	TTL time.Duration
	// Lease is how long a key may stay in flight with no effect committed
	// before a repeat takes it over as abandoned; 0 means DefaultLease.
	Lease time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultLease bounds how long a repeat waits (409 in flight) for a request
// whose process died before its operation committed: far longer than any
// operation's transaction, far shorter than a client's patience.
const DefaultLease = 10 * time.Second

// replayedHeaders are the response headers stored and replayed.
var replayedHeaders = []string{"Content-Type", "Location"}

// ValidKey reports whether s is an acceptable key: 1..255 printable ASCII
// characters (0x20–0x7E).
func ValidKey(s string) bool {
	if len(s) == 0 || len(s) > MaxKeyLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

type startedKey struct{}

// Started marks the request's operation as started: from now on its
// outcome, whatever the status, is stored under the request's key. Call it
// right before the transaction that carries the effect begins. It does
// nothing when ctx does not come from a request under Middleware.
func Started(ctx context.Context) {
	if flag, ok := ctx.Value(startedKey{}).(*atomic.Bool); ok {
		flag.Store(true)
	}
}

// Middleware returns the Idempotency-Key middleware, to wrap each route that
// accepts the header, inside the authentication middleware. Requests without
// the header pass through untouched.
func Middleware(pool *pgxpool.Pool, opts Options) func(http.Handler) http.Handler {
	s := &store{pool: pool, ttl: opts.TTL, lease: opts.Lease, now: opts.Now}
	if s.ttl <= 0 {
		s.ttl = DefaultTTL
	}
	if s.lease <= 0 {
		s.lease = DefaultLease
	}
	if s.now == nil {
		s.now = time.Now
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values, present := r.Header[Header]
			if !present {
				next.ServeHTTP(w, r)
				return
			}
			ctx := r.Context()
			if len(values) != 1 || !ValidKey(values[0]) {
				httpx.WriteError(ctx, w, ErrInvalidKey)
				return
			}
			body, err := readBody(r)
			if err != nil {
				httpx.WriteError(ctx, w, err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			req := request{
				caller: caller(ctx),
				key:    values[0],
				hash:   fingerprint(r.Method, r.URL.RequestURI(), body),
				method: r.Method,
				path:   r.URL.RequestURI(),
			}
			claimed, held, err := s.claim(ctx, &req)
			switch {
			case err != nil:
				httpx.WriteError(ctx, w, fmt.Errorf("idempotency: claim key: %w", err))
			case claimed:
				s.run(w, r, next, &req)
			case !bytes.Equal(held.hash, req.hash):
				httpx.WriteError(ctx, w, ErrKeyReused)
			case held.response == nil:
				httpx.WriteError(ctx, w, ErrInFlight)
			default:
				held.response.replay(w)
			}
		})
	}
}

// readBody reads the whole body, refusing bodies over httpx.MaxBodyBytes
// with the same 413 the strict decoder gives: such a request is refused
// before any effect, so its key stores nothing and the handler, which would
// refuse it too, does not run.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, httpx.MaxBodyBytes+1))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge) || len(body) > httpx.MaxBodyBytes:
		return nil, httpx.ErrTooLarge
	case err != nil:
		return nil, httpx.NewError(http.StatusBadRequest, "invalid_json", "request body could not be read")
	}
	return body, nil
}

// caller identifies whose key it is: the verified token's subject.
func caller(ctx context.Context) string {
	if c, ok := auth.FromContext(ctx); ok && c != nil && c.Subject != "" {
		return c.Subject
	}
	return Anonymous
}

// fingerprint is SHA-256 over the method, the path with query and the body.
// The NUL separators cannot occur in the first two, so distinct requests
// cannot collide by shifting bytes between fields.
func fingerprint(method, path string, body []byte) []byte {
	h := sha256.New()
	_, _ = io.WriteString(h, method)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, path)
	_, _ = h.Write([]byte{0})
	_, _ = h.Write(body)
	return h.Sum(nil)
}

// run calls the handler for a claimed key and then stores its outcome or
// releases the key.
func (s *store) run(w http.ResponseWriter, r *http.Request, next http.Handler, req *request) {
	ctx := r.Context()
	started := new(atomic.Bool)
	rec := &recorder{w: w}
	finished := false
	defer func() {
		if finished {
			return
		}
		// The handler panicked (or called runtime.Goexit).
		v := recover()
		if started.Load() {
			internal := &bufferWriter{header: http.Header{}}
			httpx.WriteError(ctx, internal, httpx.ErrInternal)
			s.complete(ctx, req, internal.response())
		} else {
			s.release(ctx, req)
		}
		if v != nil {
			panic(v)
		}
	}()
	inner := context.WithValue(ctx, startedKey{}, started)
	inner = pg.WithBeforeCommit(inner, func(ctx context.Context, tx pgx.Tx) error { return s.markEffect(ctx, tx, req) })
	next.ServeHTTP(rec, r.WithContext(inner))
	finished = true
	resp := rec.response()
	if resp.Status < 400 || started.Load() {
		s.complete(ctx, req, resp)
	} else {
		s.release(ctx, req)
	}
}
