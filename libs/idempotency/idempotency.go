// Package idempotency implements the Idempotency-Key header
// (docs/api.md#idempotency) for the POSTs that move money or record profit,
// with Stripe's semantics:
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
// insufficient_balance, a 409 invalid_state_transition found once the
// transaction began). A 4xx or 5xx without Started is a refusal before
// any effect (validation, not found, a database that could not be reached):
// the key's row is deleted and the key can be used again.
//
// The operation's own transaction is not committed by the handler: every
// read-write pg.InTx under the request's context is parked
// (pg.WithDeferredCommit), and the middleware stores the answer in that same
// transaction and commits the two together before the client gets the
// answer. So an effect is never without its stored answer, nor an answer
// without its effect. A handler that answers 5xx, or panics, after its
// transaction has its effect rolled back and the key released: nothing
// happened, and a repeat runs the operation.
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
// The parked transaction also marks the key's row (effect_at) right
// before the answer is stored: the middleware puts that step in the
// request's context (pg.WithBeforeCommit). The mark's row lock makes a
// repeat that arrives meanwhile wait for the commit and then replay.
//
//   - If the process dies, or loses its database, before the commit, the
//     transaction rolls back and the row stays in flight with no mark. Once
//     it is older than the lease (DefaultLease) a repeat takes it over and
//     runs the operation — which never happened. Should the first request
//     still be running, its mark fails (the row is no longer its own) and
//     its effect rolls back.
//   - If the commit itself fails, the client gets a 500; if it did commit
//     after all, repeats get the stored answer.
//   - Answers stored without a parked transaction (an outcome after Started
//     whose transaction rolled back, such as a 422) are stored on their
//     own, retried for a few seconds through a database restart; if that
//     fails for good, the row is in flight without a mark and is taken over
//     after the lease (nothing was committed).
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

// DefaultTTL is how long a key is remembered (docs/api.md#idempotency: 24 h).
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

type identityKey struct{}

// Identity is the identity of the request under way in ctx when it carries
// an Idempotency-Key: its caller, key and request fingerprint (method, path
// and body), as text. Two requests have one identity exactly when a repeat
// of one replays the other, so an effect derived from it (a manual profit's
// allocation identity) is the same when the request is executed again
// after its stored answer was lost (a database restore). ok is false
// without a key.
func Identity(ctx context.Context) (id string, ok bool) {
	id, ok = ctx.Value(identityKey{}).(string)
	return id, ok
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
// releases the key; the client gets the answer once it is stored. The
// operation's transaction is not committed by the handler
// (pg.WithDeferredCommit): it is committed here together with the stored
// answer, so no crash can leave an effect without its answer or an answer
// without its effect.
func (s *store) run(w http.ResponseWriter, r *http.Request, next http.Handler, req *request) {
	ctx := r.Context()
	started := new(atomic.Bool)
	rec := &recorder{w: w}
	inner := context.WithValue(ctx, startedKey{}, started)
	inner = context.WithValue(inner, identityKey{}, req.caller+"\x00"+req.key+"\x00"+hex.EncodeToString(req.hash))
	inner = pg.WithBeforeCommit(inner, func(ctx context.Context, tx pgx.Tx) error { return s.markEffect(ctx, tx, req) })
	inner, parked := pg.WithDeferredCommit(inner)
	finished := false
	defer func() {
		if finished {
			return
		}
		// The handler panicked (or called runtime.Goexit): its effect, if
		// any, is rolled back, so nothing happened and the key is free.
		v := recover()
		parked.Rollback(context.WithoutCancel(ctx))
		s.release(ctx, req)
		if v != nil {
			panic(v)
		}
	}()
	next.ServeHTTP(rec, r.WithContext(inner))
	finished = true
	resp := rec.response()
	switch {
	case parked.Tx() != nil && resp.Status >= 500:
		// The handler failed after its transaction: roll the effect back.
		parked.Rollback(context.WithoutCancel(ctx))
		s.release(ctx, req)
	case parked.Tx() != nil:
		if err := s.commitWith(ctx, parked, req, resp); err != nil {
			slog.ErrorContext(ctx, "idempotency: commit the operation with its answer", "error", err.Error(),
				"request_id", httpx.RequestID(ctx))
			parked.Rollback(context.WithoutCancel(ctx))
			// If the commit did happen after all, the answer is stored
			// with it and the row is kept; otherwise the key is free.
			s.release(ctx, req)
			rec.fail(ctx, httpx.ErrInternal)
			return
		}
	case resp.Status < 400 || started.Load():
		s.complete(ctx, req, resp)
	default:
		s.release(ctx, req)
	}
	rec.flush()
}
