package idempotency

import (
	"bytes"
	"context"
	"net/http"

	"github.com/fundplatform/platform/libs/httpx"
)

// response is a stored response.
type response struct {
	Status int
	Header map[string][]string // only replayedHeaders
	Body   []byte
}

// replay writes the stored response, marked as a replay.
func (resp *response) replay(w http.ResponseWriter) {
	h := w.Header()
	for _, name := range replayedHeaders {
		if v := resp.Header[name]; len(v) > 0 {
			h[name] = v
		}
	}
	h.Set(ReplayedHeader, "true")
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// selectHeaders copies the replayed headers out of h.
func selectHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for _, name := range replayedHeaders {
		if v := h.Values(name); len(v) > 0 {
			out[name] = append([]string(nil), v...)
		}
	}
	return out
}

// recorder holds the handler's response — status, body, and the headers it
// set on w — until the middleware has stored it (and committed the effect
// with it), and then sends it with flush.
type recorder struct {
	w      http.ResponseWriter
	status int // 0 until the header is written
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.w.Header() }

func (rec *recorder) WriteHeader(code int) {
	// 1xx responses are informational: the final status comes later.
	if rec.status == 0 && code >= 200 {
		rec.status = code
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	return rec.body.Write(b)
}

// response is what the handler answered; a handler that wrote nothing
// answered 200.
func (rec *recorder) response() response {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	return response{Status: status, Header: selectHeaders(rec.w.Header()), Body: bytes.Clone(rec.body.Bytes())}
}

// flush sends the held response.
func (rec *recorder) flush() {
	resp := rec.response()
	rec.w.WriteHeader(resp.Status)
	_, _ = rec.w.Write(resp.Body)
}

// fail sends err instead of the held response, without the headers the
// handler set for it.
func (rec *recorder) fail(ctx context.Context, err error) {
	for _, name := range replayedHeaders {
		rec.w.Header().Del(name)
	}
	httpx.WriteError(ctx, rec.w, err)
}
