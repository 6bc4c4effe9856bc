package idempotency

import (
	"bytes"
	"net/http"
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

// recorder writes through to w and keeps a copy of the final status, the
// replayed headers as sent with it, and the body.
type recorder struct {
	w      http.ResponseWriter
	status int // 0 until the header is written
	header map[string][]string
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.w.Header() }

func (rec *recorder) WriteHeader(code int) {
	// 1xx responses are informational: the final status comes later.
	if rec.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rec.status = code
		rec.header = selectHeaders(rec.w.Header())
	}
	rec.w.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	rec.body.Write(b)
	return rec.w.Write(b)
}

// Flush lets handlers flush through the recorder.
func (rec *recorder) Flush() { _ = http.NewResponseController(rec.w).Flush() }

// Unwrap gives http.ResponseController the underlying writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }

// response is what was sent; a handler that wrote nothing sent 200.
func (rec *recorder) response() response {
	if rec.status == 0 {
		return response{Status: http.StatusOK, Header: selectHeaders(rec.w.Header())}
	}
	return response{Status: rec.status, Header: rec.header, Body: bytes.Clone(rec.body.Bytes())}
}

// bufferWriter is a ResponseWriter that only records, for responses made up
// by the middleware itself.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferWriter) response() response {
	status := b.status
	if status == 0 {
		status = http.StatusOK
	}
	return response{Status: status, Header: selectHeaders(b.header), Body: b.body.Bytes()}
}
