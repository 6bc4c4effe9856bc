package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// caller is one logged-in identity.
type caller struct {
	name  string
	token string
}

// answer is what one HTTP attempt got.
type answer struct {
	status   int
	body     []byte
	replayed bool
	data     json.RawMessage
	code     string
}

// acked is a money movement (or NAV) the platform answered definitively,
// kept for the checks after the run.
type acked struct {
	kind   string // "nav", "withdrawal", "transition", "reallocation"
	caller caller
	path   string
	key    string
	body   any
	answer answer
	// retried says the answer came after at least one failed attempt
	// (a lost answer, a killed service, a cut database connection).
	retried bool
}

// counters of the load.
type counters struct {
	attempts, acked, retried, gaveUp, reads, readErrors atomic.Int64
}

// driver sends the load through the edge.
type driver struct {
	edge   string
	http   *http.Client
	count  counters
	mu     sync.Mutex
	ledger []acked // every definitive answer to a POST with a key
	// retryFor bounds how long one request is retried.
	retryFor time.Duration
	rolling  rolling
	// phase is the database fault under way, if any (faults.go).
	phase atomic.Pointer[phase]
}

func newDriver(edge string) *driver {
	return &driver{edge: edge, http: &http.Client{Timeout: 10 * time.Second}, retryFor: 60 * time.Second}
}

func (d *driver) do(ctx context.Context, c caller, method, path string, body any, key string) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.edge+path, rd)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode, body: raw, replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &env) == nil {
		a.data = env.Data
		var e struct {
			Code string `json:"code"`
		}
		if a.status >= 400 && json.Unmarshal(env.Data, &e) == nil {
			a.code = e.Code
		}
	}
	return a, nil
}

// transient says an answer is not the operation's outcome: the service
// was down or restarting, or the same key is still being executed.
func transient(a answer) bool {
	switch {
	case a.status >= 500:
		return true
	case a.status == http.StatusConflict && a.code == "idempotency_key_in_flight":
		return true
	case a.status == http.StatusTooManyRequests:
		return true
	}
	return false
}

var errGaveUp = errors.New("no definitive answer")

// send posts body with an Idempotency-Key, retrying with the same key until
// the platform gives a definitive answer (any 2xx or 4xx but "in flight"),
// and records it. A request that never gets one within retryFor is given
// up: it may or may not have been executed (at most once).
func (d *driver) send(ctx context.Context, kind string, c caller, path, key string, body any) (answer, error) {
	deadline := time.Now().Add(d.retryFor)
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		d.count.attempts.Add(1)
		a, err := d.do(ctx, c, "POST", path, body, key)
		d.rolling.note(false, a, err)
		d.notePhase(false, a, err)
		if err == nil && !transient(a) {
			d.count.acked.Add(1)
			if attempt > 0 {
				d.count.retried.Add(1)
			}
			d.mu.Lock()
			d.ledger = append(d.ledger, acked{kind: kind, caller: c, path: path, key: key, body: body, answer: a, retried: attempt > 0})
			d.mu.Unlock()
			return a, nil
		}
		if ctx.Err() != nil {
			return a, ctx.Err()
		}
		if time.Now().After(deadline) {
			d.count.gaveUp.Add(1)
			return a, fmt.Errorf("%s %s (key %s): %w (last: %d %s, %v)", kind, path, key, errGaveUp, a.status, a.code, err)
		}
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// read sends a GET and counts it; failures during chaos are expected.
func (d *driver) read(ctx context.Context, c caller, path string) {
	d.count.reads.Add(1)
	a, err := d.do(ctx, c, "GET", path, nil, "")
	d.rolling.note(true, a, err)
	d.notePhase(true, a, err)
	if err != nil || a.status != http.StatusOK {
		d.count.readErrors.Add(1)
	}
}

func (d *driver) acknowledged() []acked {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]acked(nil), d.ledger...)
}
