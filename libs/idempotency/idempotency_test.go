package idempotency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// migrations are a service's own migrations plus the idempotency table, as a
// service includes it.
var migrations = idempotency.WithMigration(fstest.MapFS{
	"00001_things.sql": {Data: []byte(`-- +goose Up
CREATE TABLE things (id bigint PRIMARY KEY);
-- +goose Down
DROP TABLE things;
`)},
}, "00002_idempotency_keys.sql", "00003_idempotency_effect.sql")

// fake is a money-moving handler: it counts its runs, echoes the body it
// got, answers with status and may call Started first.
type fake struct {
	pool   *pgxpool.Pool
	runs   atomic.Int64
	status int
	// start: call Started and commit the effect (a row in things) with
	// pg.InTx, as a service's store does; failTx makes that transaction
	// fail instead (nothing committed).
	start  bool
	failTx bool
	panics bool
	delay  time.Duration
	gate   chan struct{} // when set, the handler waits for it to close
	// firstGate and afterEffect hold only the first run: before its
	// transaction, and after its commit.
	firstGate, afterEffect chan struct{}
	reached                chan struct{} // closed when the first run waits on afterEffect
	effectErr              atomic.Value  // the first run's transaction error
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	n := f.runs.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		httpx.WriteError(ctx, w, err)
		return
	}
	if f.gate != nil {
		<-f.gate
	}
	if n == 1 && f.firstGate != nil {
		<-f.firstGate
	}
	time.Sleep(f.delay)
	if f.start {
		idempotency.Started(ctx)
		err := pg.InTx(ctx, f.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO things (id) VALUES ($1)`, n); err != nil {
				return err
			}
			if f.failTx {
				return errors.New("connection lost")
			}
			return nil
		})
		if n == 1 && err != nil {
			f.effectErr.Store(err)
		}
		if err != nil {
			httpx.WriteError(ctx, w, err)
			return
		}
		if n == 1 && f.afterEffect != nil {
			if f.reached != nil {
				close(f.reached)
			}
			<-f.afterEffect
		}
	}
	if f.panics {
		panic("handler failed")
	}
	switch status := f.status; {
	case status == 0 || status < 300:
		if status == 0 {
			status = http.StatusCreated
		}
		w.Header().Set("Location", "/api/v1/things/"+strconv.FormatInt(n, 10))
		w.Header().Set("X-Not-Replayed", "x")
		httpx.WriteOK(w, status, map[string]any{"run": n, "body": string(body)})
	case status == http.StatusBadRequest:
		httpx.WriteError(ctx, w, httpx.Validation("invalid_amount", "amount", "must be greater than 0"))
	case status == http.StatusUnprocessableEntity:
		httpx.WriteError(ctx, w, httpx.Errorf(status, "insufficient_balance", "insufficient balance (run %d)", n))
	default:
		httpx.WriteError(ctx, w, errors.New("database unreachable"))
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type setup struct {
	pool    *pgxpool.Pool
	handler *fake
	h       http.Handler
}

func newSetup(t *testing.T, opts idempotency.Options) *setup {
	t.Helper()
	t.Parallel()
	pool := pgtest.New(t, migrations)
	f := &fake{pool: pool}
	h := httpx.Recover(idempotency.Middleware(pool, opts)(f))
	return &setup{pool: pool, handler: f, h: h}
}

// call sends a POST as the user subject (none: anonymous) with the given
// Idempotency-Key values (none: no header).
func (s *setup) call(subject, target, body string, keys ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if keys != nil {
		r.Header[idempotency.Header] = keys
	}
	if subject != "" {
		r = r.WithContext(auth.WithClaims(r.Context(), &auth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: subject, ID: "jti-" + subject},
			Role:             auth.RoleUser,
		}))
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

// callInBackground sends call("7", path, `{}`, key) on its own
// goroutine; its answer arrives on the channel returned.
func (s *setup) callInBackground(key string) <-chan *httptest.ResponseRecorder {
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- s.call("7", path, `{}`, key) }()
	return done
}

// waitForARun waits until the handler has begun its first run.
func (s *setup) waitForARun() {
	for s.handler.runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
}

// newLeasedSetup is a setup whose middleware has a 10 s lease and reads
// the time from the clock returned, and whose handler calls Start.
func newLeasedSetup(t *testing.T) (*clock, *setup) {
	t.Helper()
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newSetup(t, idempotency.Options{Now: c.Now, Lease: 10 * time.Second})
	s.handler.start = true
	return c, s
}

func (s *setup) rows(t *testing.T) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

const path = "/api/v1/withdrawals"

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var env struct {
		IsOK bool `json:"isOK"`
		Data struct {
			ErrorCode int    `json:"errorCode"`
			Code      string `json:"code"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("body %q is not an envelope: %v", w.Body.String(), err)
	}
	if env.IsOK || env.Data.ErrorCode != w.Code {
		t.Fatalf("error envelope %s does not match status %d", w.Body.String(), w.Code)
	}
	return env.Data.Code
}

func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body.String())
	}
	if got := errorCode(t, w); got != code {
		t.Fatalf("code = %q, want %q", got, code)
	}
	if w.Header().Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("error marked as replay")
	}
}

func wantRuns(t *testing.T, s *setup, n int64) {
	t.Helper()
	if got := s.handler.runs.Load(); got != n {
		t.Fatalf("handler ran %d times, want %d", got, n)
	}
}

func wantReplay(t *testing.T, first, again *httptest.ResponseRecorder) {
	t.Helper()
	if again.Header().Get(idempotency.ReplayedHeader) != "true" {
		t.Fatalf("repeat not marked as replayed: status %d, headers %v, body %s", again.Code, again.Header(), again.Body.String())
	}
	if again.Code != first.Code || !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) {
		t.Fatalf("replay = %d %s, want %d %s", again.Code, again.Body.String(), first.Code, first.Body.String())
	}
	for _, h := range []string{"Content-Type", "Location"} {
		if again.Header().Get(h) != first.Header().Get(h) {
			t.Fatalf("replayed %s = %q, want %q", h, again.Header().Get(h), first.Header().Get(h))
		}
	}
}

func TestReplaysTheFirstResponse(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	body := `{"amount":"10"}`
	first := s.call("7", path, body, "key-1")
	if first.Code != http.StatusCreated || first.Header().Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("first = %d %v %s", first.Code, first.Header(), first.Body.String())
	}
	if !strings.Contains(first.Body.String(), `"body":"{\"amount\":\"10\"}"`) {
		t.Fatalf("handler did not get the body: %s", first.Body.String())
	}
	for range 3 {
		again := s.call("7", path, body, "key-1")
		wantReplay(t, first, again)
		if again.Header().Get("X-Not-Replayed") != "" {
			t.Fatal("a header outside Content-Type and Location was replayed")
		}
	}
	wantRuns(t, s, 1)
}

func TestDifferentRequestSameKeyIsRefused(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	s.call("7", path, `{"amount":"10"}`, "key-1")
	wantError(t, s.call("7", path, `{"amount":"11"}`, "key-1"), http.StatusConflict, "idempotency_key_reused")
	wantError(t, s.call("7", path+"?x=1", `{"amount":"10"}`, "key-1"), http.StatusConflict, "idempotency_key_reused")
	wantError(t, s.call("7", "/api/v1/reallocations", `{"amount":"10"}`, "key-1"), http.StatusConflict, "idempotency_key_reused")
	wantRuns(t, s, 1)
}

func TestKeysBelongToTheirCaller(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	body := `{"amount":"10"}`
	seven := s.call("7", path, body, "shared")
	eight := s.call("8", path, body, "shared")
	anonymous := s.call("", path, body, "shared")
	wantRuns(t, s, 3)
	for _, w := range []*httptest.ResponseRecorder{seven, eight, anonymous} {
		if w.Code != http.StatusCreated || w.Header().Get(idempotency.ReplayedHeader) != "" {
			t.Fatalf("got %d %v", w.Code, w.Header())
		}
	}
	wantReplay(t, eight, s.call("8", path, body, "shared"))
	wantReplay(t, anonymous, s.call("", path, body, "shared"))
	wantRuns(t, s, 3)
}

func TestConcurrentRepeatsRunOnce(t *testing.T) {
	// A slow handler: the repeats find the key in flight; a fast one: some
	// find it completed.
	for _, delay := range []time.Duration{50 * time.Millisecond, 0} {
		t.Run(delay.String(), func(t *testing.T) { concurrentRepeats(t, delay) })
	}
}

func concurrentRepeats(t *testing.T, delay time.Duration) {
	s := newSetup(t, idempotency.Options{})
	s.handler.start = true
	s.handler.delay = delay
	const n = 20
	var (
		wg      sync.WaitGroup
		answers [n]*httptest.ResponseRecorder
		ready   = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-ready
			answers[i] = s.call("7", path, `{"amount":"10"}`, "race")
		})
	}
	close(ready)
	wg.Wait()
	wantRuns(t, s, 1)
	var original *httptest.ResponseRecorder
	for _, w := range answers {
		if w.Code == http.StatusCreated && w.Header().Get(idempotency.ReplayedHeader) == "" {
			if original != nil {
				t.Fatal("two original responses")
			}
			original = w
		}
	}
	if original == nil {
		t.Fatal("no original response")
	}
	inFlight, replays := 0, 0
	for _, w := range answers {
		switch {
		case w == original:
		case w.Code == http.StatusConflict:
			wantError(t, w, http.StatusConflict, "idempotency_key_in_flight")
			inFlight++
		default:
			wantReplay(t, original, w)
			replays++
		}
	}
	t.Logf("1 run, %d in flight, %d replays", inFlight, replays)
}

func TestInFlightThenReplay(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	s.handler.start = true
	s.handler.gate = make(chan struct{})
	done := s.callInBackground("slow")
	s.waitForARun()
	busy := s.call("7", path, `{}`, "slow")
	wantError(t, busy, http.StatusConflict, "idempotency_key_in_flight")
	if busy.Header().Get("Retry-After") != "1" {
		t.Fatalf("Retry-After = %q", busy.Header().Get("Retry-After"))
	}
	// A different request with the key is refused even while in flight.
	wantError(t, s.call("7", path, `{"x":1}`, "slow"), http.StatusConflict, "idempotency_key_reused")
	close(s.handler.gate)
	first := <-done
	wantReplay(t, first, s.call("7", path, `{}`, "slow"))
	wantRuns(t, s, 1)
}

func TestRefusalBeforeStartStoresNothing(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusInternalServerError} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			s := newSetup(t, idempotency.Options{})
			s.handler.status = status
			first := s.call("7", path, `{"amount":"0"}`, "k")
			if first.Code != status {
				t.Fatalf("status = %d", first.Code)
			}
			if n := s.rows(t); n != 0 {
				t.Fatalf("%d rows stored", n)
			}
			again := s.call("7", path, `{"amount":"0"}`, "k")
			if again.Code != status || again.Header().Get(idempotency.ReplayedHeader) != "" {
				t.Fatalf("retry = %d %v", again.Code, again.Header())
			}
			wantRuns(t, s, 2)
			// Corrected, the same key goes through and is then kept.
			s.handler.status = http.StatusCreated
			ok := s.call("7", path, `{"amount":"1"}`, "k")
			if ok.Code != http.StatusCreated {
				t.Fatalf("corrected = %d", ok.Code)
			}
			wantReplay(t, ok, s.call("7", path, `{"amount":"1"}`, "k"))
			wantRuns(t, s, 3)
		})
	}
}

func TestOutcomeAfterStartIsReplayed(t *testing.T) {
	for _, status := range []int{http.StatusCreated, http.StatusUnprocessableEntity} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			s := newSetup(t, idempotency.Options{})
			s.handler.status = status
			s.handler.start = true
			first := s.call("7", path, `{"amount":"1000"}`, "k")
			if first.Code != status {
				t.Fatalf("status = %d", first.Code)
			}
			again := s.call("7", path, `{"amount":"1000"}`, "k")
			wantReplay(t, first, again)
			if status >= 400 {
				if code := errorCode(t, again); code != errorCode(t, first) {
					t.Fatalf("replayed code %q", code)
				}
			}
			wantRuns(t, s, 1)
		})
	}
}

// A server error whose transaction committed nothing (a database gone
// mid-request) stores nothing: the repeat runs the operation, which never
// happened, and its outcome is then kept.
func TestServerErrorWithoutEffectReleasesKey(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	s.handler.start, s.handler.failTx = true, true
	wantError(t, s.call("7", path, `{}`, "k"), http.StatusInternalServerError, "internal")
	if n := s.rows(t); n != 0 {
		t.Fatalf("%d rows stored for an operation that committed nothing", n)
	}
	s.handler.failTx = false
	first := s.call("7", path, `{}`, "k")
	if first.Code != http.StatusCreated {
		t.Fatalf("repeat = %d %s", first.Code, first.Body)
	}
	wantKept(t, s, first, 2)
}

// A request whose process died before its operation committed leaves its
// key in flight; after the lease a repeat takes the key over and runs the
// operation. Should the first request still be running, its effect rolls
// back: one effect per key, whatever happens.
func TestAbandonedKeyIsTakenOverAfterLease(t *testing.T) {
	c, s := newLeasedSetup(t)
	s.handler.firstGate = make(chan struct{})
	done := s.callInBackground("k")
	s.waitForARun()
	wantError(t, s.call("7", path, `{}`, "k"), http.StatusConflict, "idempotency_key_in_flight")
	c.Advance(11 * time.Second)
	second := s.call("7", path, `{}`, "k")
	if second.Code != http.StatusCreated || second.Header().Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("repeat after the lease = %d %v %s, want the operation run", second.Code, second.Header(), second.Body)
	}
	close(s.handler.firstGate)
	if first := <-done; first.Code != http.StatusInternalServerError {
		t.Fatalf("the overtaken first request = %d %s, want 500 (its effect rolled back)", first.Code, first.Body)
	}
	if err, _ := s.handler.effectErr.Load().(error); err == nil || !strings.Contains(err.Error(), "taken over") {
		t.Fatalf("the first request's transaction error = %v", err)
	}
	wantKept(t, s, second, 2)
}

// A repeat that arrives while the first request's effect waits to be
// committed with its answer — even after the lease — waits for it and then
// replays the answer: the key is never taken over from an effect.
func TestRepeatWaitsForAParkedEffect(t *testing.T) {
	c, s := newLeasedSetup(t)
	s.handler.afterEffect = make(chan struct{})
	s.handler.reached = make(chan struct{})
	done := s.callInBackground("k")
	<-s.handler.reached // the effect is done, not committed
	c.Advance(time.Hour)
	again := s.callInBackground("k")
	// The repeat waits on the key's row, locked by the parked effect.
	for {
		var waiting int
		if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(s.handler.afterEffect)
	first := <-done
	if first.Code != http.StatusCreated {
		t.Fatalf("first = %d %s", first.Code, first.Body)
	}
	wantReplay(t, first, <-again)
	wantRuns(t, s, 1)
	wantThings(t, s, 1)
}

// wantKept checks that key "k" keeps answer: a repeat replays it, and the
// operation ran runs times and committed one effect.
func wantKept(t *testing.T, s *setup, answer *httptest.ResponseRecorder, runs int64) {
	t.Helper()
	wantReplay(t, answer, s.call("7", path, `{}`, "k"))
	wantRuns(t, s, runs)
	wantThings(t, s, 1)
}

func wantThings(t *testing.T, s *setup, want int) {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM things`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("%d effects committed, want %d", n, want)
	}
}

func TestSuccessWithoutStartIsStored(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	first := s.call("7", path, `{}`, "k")
	wantReplay(t, first, s.call("7", path, `{}`, "k"))
	wantRuns(t, s, 1)
}

func TestPanic(t *testing.T) {
	t.Run("before start", func(t *testing.T) {
		s := newSetup(t, idempotency.Options{})
		s.handler.panics = true
		wantError(t, s.call("7", path, `{}`, "k"), http.StatusInternalServerError, "internal")
		if n := s.rows(t); n != 0 {
			t.Fatalf("%d rows stored", n)
		}
		s.handler.panics = false
		if w := s.call("7", path, `{}`, "k"); w.Code != http.StatusCreated {
			t.Fatalf("retry = %d", w.Code)
		}
		wantRuns(t, s, 2)
	})
	t.Run("after start", func(t *testing.T) {
		// The effect, not yet committed, rolls back: nothing happened, the
		// key is free.
		s := newSetup(t, idempotency.Options{})
		s.handler.panics = true
		s.handler.start = true
		wantError(t, s.call("7", path, `{}`, "k"), http.StatusInternalServerError, "internal")
		wantThings(t, s, 0)
		if n := s.rows(t); n != 0 {
			t.Fatalf("%d rows stored", n)
		}
		s.handler.panics = false
		second := s.call("7", path, `{}`, "k")
		if second.Code != http.StatusCreated {
			t.Fatalf("retry = %d", second.Code)
		}
		wantKept(t, s, second, 2)
	})
}

// A handler that fails (5xx) after its operation's transaction rolls the
// effect back with it: the answer is never a 500 for something that
// happened, and the key can be retried.
func TestServerErrorAfterEffectRollsBack(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	s.handler.start = true
	s.handler.status = http.StatusInternalServerError
	wantError(t, s.call("7", path, `{}`, "k"), http.StatusInternalServerError, "internal")
	wantThings(t, s, 0)
	if n := s.rows(t); n != 0 {
		t.Fatalf("%d rows stored", n)
	}
	s.handler.status = http.StatusCreated
	ok := s.call("7", path, `{}`, "k")
	if ok.Code != http.StatusCreated {
		t.Fatalf("retry = %d", ok.Code)
	}
	wantReplay(t, ok, s.call("7", path, `{}`, "k"))
	wantThings(t, s, 1)
}

func TestInvalidKeys(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	for name, keys := range map[string][]string{
		"empty":        {""},
		"too long":     {strings.Repeat("k", 256)},
		"tab":          {"a\tb"},
		"DEL":          {"a\x7fb"},
		"non-ASCII":    {"clé"},
		"newline":      {"a\nb"},
		"two of them":  {"a", "b"},
		"NUL":          {"a\x00"},
		"control char": {"\x1f"},
	} {
		w := s.call("7", path, `{}`, keys...)
		if w.Code != http.StatusBadRequest || errorCode(t, w) != "invalid_idempotency_key" {
			t.Fatalf("%s: %d %s", name, w.Code, w.Body.String())
		}
	}
	wantRuns(t, s, 0)
	for _, key := range []string{strings.Repeat("k", 255), " ", "~!@#$%^&*()_+ {}|:\"<>?`-=[]\\;',./", "x"} {
		if w := s.call("7", path, `{}`, key); w.Code != http.StatusCreated {
			t.Fatalf("key %q: %d %s", key, w.Code, w.Body.String())
		}
	}
	wantRuns(t, s, 4)
}

func TestValidKey(t *testing.T) {
	if !idempotency.ValidKey(strings.Repeat("a", idempotency.MaxKeyLength)) || idempotency.ValidKey(strings.Repeat("a", 256)) {
		t.Fatal("length limit")
	}
	for c := range 256 {
		want := c >= 0x20 && c <= 0x7e
		if got := idempotency.ValidKey(string([]byte{byte(c)})); got != want {
			t.Fatalf("byte %#x: %v", c, got)
		}
	}
}

func TestExpiredKeyRunsAgain(t *testing.T) {
	c := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)}
	s := newSetup(t, idempotency.Options{Now: c.Now})
	first := s.call("7", path, `{}`, "k")
	c.Advance(24*time.Hour - time.Second)
	wantReplay(t, first, s.call("7", path, `{}`, "k"))
	wantRuns(t, s, 1)
	c.Advance(time.Second)
	second := s.call("7", path, `{}`, "k")
	if second.Code != http.StatusCreated || second.Header().Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("after the TTL: %d %v", second.Code, second.Header())
	}
	wantRuns(t, s, 2)
	// The new outcome is now the one kept, for a new TTL; and an expired key
	// may carry a different request.
	c.Advance(time.Hour)
	wantReplay(t, second, s.call("7", path, `{}`, "k"))
	c.Advance(24 * time.Hour)
	if w := s.call("7", path, `{"other":true}`, "k"); w.Code != http.StatusCreated || w.Header().Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("different body after the TTL: %d", w.Code)
	}
	wantRuns(t, s, 3)
}

func TestCustomTTL(t *testing.T) {
	c := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := newSetup(t, idempotency.Options{Now: c.Now, TTL: time.Minute})
	s.call("7", path, `{}`, "k")
	c.Advance(time.Minute)
	s.call("7", path, `{}`, "k")
	wantRuns(t, s, 2)
}

func TestNoKeyPassesThrough(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	for range 3 {
		w := s.call("7", path, `{"amount":"10"}`)
		if w.Code != http.StatusCreated || w.Header().Get(idempotency.ReplayedHeader) != "" {
			t.Fatalf("got %d", w.Code)
		}
	}
	wantRuns(t, s, 3)
	if n := s.rows(t); n != 0 {
		t.Fatalf("%d rows stored", n)
	}
}

func TestBodyLimit(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	full := `"` + strings.Repeat("a", httpx.MaxBodyBytes-2) + `"`
	w := s.call("7", path, full, "k-max")
	if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), strings.Repeat("a", httpx.MaxBodyBytes-2)) {
		t.Fatalf("1 MiB body: %d, %d bytes", w.Code, w.Body.Len())
	}
	wantError(t, s.call("7", path, full+" ", "k-big"), http.StatusRequestEntityTooLarge, "payload_too_large")
	wantRuns(t, s, 1)
	if n := s.rows(t); n != 1 {
		t.Fatalf("%d rows stored, want only the 1 MiB one", n)
	}
}

func TestStartedOutsideMiddlewareIsANoOp(t *testing.T) {
	idempotency.Started(context.Background())
}

func TestPurge(t *testing.T) {
	c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newSetup(t, idempotency.Options{Now: c.Now})
	for i := range 3 {
		s.call("7", path, `{}`, "old-"+strconv.Itoa(i))
	}
	c.Advance(2 * time.Hour)
	s.call("7", path, `{}`, "new")
	n, err := idempotency.Purge(context.Background(), s.pool, c.Now().Add(-time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	if left := s.rows(t); left != 1 {
		t.Fatalf("%d rows left", left)
	}
	// The purged keys are free again; the kept one still replays.
	if w := s.call("7", path, `{}`, "new"); w.Header().Get(idempotency.ReplayedHeader) != "true" {
		t.Fatal("kept key not replayed")
	}
	s.call("7", path, `{}`, "old-0")
	wantRuns(t, s, 5)
}

// A key left in flight by a release before lease_until existed (no lease,
// no effect mark: that release commits the effect before storing the
// answer) is never taken over within the TTL, so a rolling update cannot
// run such a request twice.
func TestKeyWithoutLeaseIsNotTakenOver(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := newSetup(t, idempotency.Options{Now: c.Now, Lease: 10 * time.Second})
	first := s.call("7", path, `{}`, "k")
	if first.Code != http.StatusCreated {
		t.Fatalf("first = %d", first.Code)
	}
	// Put the row back as the previous release leaves a crashed request.
	if _, err := s.pool.Exec(context.Background(), `UPDATE idempotency_keys SET status = NULL, response_body = NULL,
		response_headers = NULL, completed_at = NULL, effect_at = NULL, lease_until = NULL, created_at = $1`, c.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantError(t, s.call("7", path, `{}`, "k"), http.StatusConflict, "idempotency_key_in_flight")
	wantRuns(t, s, 1)
	c.Advance(24 * time.Hour) // past the TTL it is an unused key again
	if again := s.call("7", path, `{}`, "k"); again.Code != http.StatusCreated || again.Header().Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("after the TTL = %d %v", again.Code, again.Header())
	}
	wantRuns(t, s, 2)
}

// TestIdentity: the handler of a keyed request sees its identity — the
// same for the same caller, key and request once the first's key has been
// released (as after a restore lost it), different for another key, body
// or caller — and a request without a key has none.
func TestIdentity(t *testing.T) {
	s := newSetup(t, idempotency.Options{})
	var seen []string
	s.h = httpx.Recover(idempotency.Middleware(s.pool, idempotency.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := idempotency.Identity(r.Context())
		if !ok {
			id = "none"
		}
		seen = append(seen, id)
		w.WriteHeader(http.StatusCreated)
	})))
	forget := func() {
		if _, err := s.pool.Exec(context.Background(), `DELETE FROM idempotency_keys`); err != nil {
			t.Fatal(err)
		}
	}
	s.call("7", path, `{"amount":"10"}`, "k1")
	forget()
	s.call("7", path, `{"amount":"10"}`, "k1")
	s.call("7", path, `{"amount":"10"}`, "k2")
	s.call("7", path, `{"amount":"11"}`, "k3")
	forget()
	s.call("7", path, `{"amount":"11"}`, "k1")
	s.call("8", path, `{"amount":"10"}`, "k1")
	s.call("7", path, `{"amount":"10"}`)
	if len(seen) != 7 || seen[0] != seen[1] || seen[6] != "none" {
		t.Fatalf("identities %q", seen)
	}
	for i, a := range seen[1:6] {
		for _, b := range seen[i+2 : 6] {
			if a == b {
				t.Fatalf("two different requests have one identity: %q", seen)
			}
		}
	}
}
