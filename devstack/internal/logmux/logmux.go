// Package logmux merges the output of many sources (the services, the edge,
// the broker, PostgreSQL, the dev stack itself) into one stream, whole line
// by whole line, each line prefixed with a fixed-width tag naming its source:
//
//	auth       | {"time":"…","level":"INFO","msg":"listening"}
//	edge       | {"time":"…","msg":"request","method":"GET",…}
package logmux

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// TagWidth is the width the tag is padded to, so the "|" columns line up.
const TagWidth = 10

// Mux writes whole lines to one writer; it is safe for concurrent use.
type Mux struct {
	mu sync.Mutex
	w  io.Writer
}

// New returns a Mux writing to w.
func New(w io.Writer) *Mux { return &Mux{w: w} }

// Prefix is the fixed-width prefix of a tag's lines, e.g. "auth       | ".
func Prefix(tag string) string { return fmt.Sprintf("%-*s | ", TagWidth, tag) }

// Printf writes one formatted message under tag; a message with several
// lines gets the prefix on each.
func (m *Mux) Printf(tag, format string, args ...any) {
	w := m.Writer(tag)
	fmt.Fprintf(w, format, args...)
	w.Close()
}

// Raw writes text as is, without any prefix (for the banner).
func (m *Mux) Raw(text string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = io.WriteString(m.w, text)
}

// Writer returns a writer that prefixes every line written to it with tag.
// It buffers a partial line until its newline arrives or Close is called.
func (m *Mux) Writer(tag string) *LineWriter {
	return &LineWriter{m: m, prefix: []byte(Prefix(tag))}
}

// LineWriter is the io.WriteCloser returned by Mux.Writer.
type LineWriter struct {
	m      *Mux
	prefix []byte
	mu     sync.Mutex
	buf    []byte
}

// maxLine bounds a buffered partial line; a longer one is written in pieces.
const maxLine = 1 << 20

// Write implements io.Writer. It never fails: output is best effort.
func (l *LineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) >= maxLine {
		l.emit(l.buf)
		l.buf = nil
	}
	if len(l.buf) == 0 {
		l.buf = nil // let a large consumed buffer go
	}
	return len(p), nil
}

// Close writes what is left of a partial line.
func (l *LineWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
	return nil
}

func (l *LineWriter) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	out := make([]byte, 0, len(l.prefix)+len(line)+1)
	out = append(out, l.prefix...)
	out = append(out, line...)
	out = append(out, '\n')
	l.m.mu.Lock()
	_, _ = l.m.w.Write(out)
	l.m.mu.Unlock()
}
