// Package traces reads the dev stack's trace backend: the file the
// OpenTelemetry Collector's file exporter writes (deploy/otel/collector-file.yaml),
// OTLP JSON with one export request per line. It finds a trace's spans by
// trace id or by an attribute, and prints a trace as a tree of spans
// (docs/operations.md#traces).
package traces

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Span is one span as the collector received it.
type Span struct {
	TraceID, SpanID, ParentSpanID string
	Name                          string
	// Service is the resource's service.name (e.g. "edge", "portfolio").
	Service string
	// Kind is OTLP's span kind: 1 internal, 2 server, 3 client, 4
	// producer, 5 consumer.
	Kind       int
	Start, End time.Time
	Attributes map[string]string
	// Error is the span's status message when its status is an error.
	Error string
}

// Span kinds (OTLP).
const (
	KindInternal = 1
	KindServer   = 2
	KindClient   = 3
	KindProducer = 4
	KindConsumer = 5
)

// ReadFile reads every span of the collector's output file. A last line
// still being written (not valid JSON yet) is left out.
func ReadFile(path string) ([]Span, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Read reads the spans of OTLP JSON lines from r (see ReadFile).
func Read(r io.Reader) ([]Span, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var spans []Span
	for {
		line, err := br.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			var req exportRequest
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				if errors.Is(err, io.EOF) {
					return spans, nil // a line still being written
				}
				return nil, fmt.Errorf("traces: %w", jerr)
			}
			spans = append(spans, req.spans()...)
		}
		if errors.Is(err, io.EOF) {
			return spans, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Trace is the spans of the trace traceID (lower-case hex), oldest first.
func Trace(spans []Span, traceID string) []Span {
	var out []Span
	for _, s := range spans {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// TraceIDsWith are the ids of the traces with a span whose attribute key
// is value, in the order first seen.
func TraceIDsWith(spans []Span, key, value string) []string {
	var ids []string
	seen := map[string]bool{}
	for _, s := range spans {
		if s.Attributes[key] == value && !seen[s.TraceID] {
			seen[s.TraceID] = true
			ids = append(ids, s.TraceID)
		}
	}
	return ids
}

// ByID indexes spans by span id.
func ByID(spans []Span) map[string]Span {
	m := make(map[string]Span, len(spans))
	for _, s := range spans {
		m[s.SpanID] = s
	}
	return m
}

// Format writes a trace (the spans of one trace id) as a tree: each span
// under its parent, with its service, name and duration. A span whose
// parent is not in the trace is a root (the first one) or an orphan,
// marked as such: its parent was never received.
func Format(w io.Writer, trace []Span) {
	byID := ByID(trace)
	children := map[string][]Span{}
	var roots []Span
	for _, s := range trace {
		if _, ok := byID[s.ParentSpanID]; ok {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		} else {
			roots = append(roots, s)
		}
	}
	var walk func(s Span, depth int)
	walk = func(s Span, depth int) {
		note := ""
		if depth == 0 && s.ParentSpanID != "" {
			note = "   (parent " + s.ParentSpanID + " not received)"
		}
		if s.Error != "" {
			note += "   ERROR: " + s.Error
		}
		fmt.Fprintf(w, "%s%-12s %s  %s  span %s%s\n", strings.Repeat("  ", depth), s.Service, s.Name,
			s.End.Sub(s.Start).Round(time.Microsecond), s.SpanID, note)
		for _, c := range children[s.SpanID] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
}

// exportRequest is OTLP JSON's ExportTraceServiceRequest, as much of it as
// Span needs.
type exportRequest struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []keyValue `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Spans []struct {
				TraceID      string     `json:"traceId"`
				SpanID       string     `json:"spanId"`
				ParentSpanID string     `json:"parentSpanId"`
				Name         string     `json:"name"`
				Kind         int        `json:"kind"`
				Start        string     `json:"startTimeUnixNano"`
				End          string     `json:"endTimeUnixNano"`
				Attributes   []keyValue `json:"attributes"`
				Status       struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"status"`
			} `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

type keyValue struct {
	Key   string `json:"key"`
	Value struct {
		String *string          `json:"stringValue"`
		Int    *json.RawMessage `json:"intValue"` // a string in OTLP JSON
		Double *float64         `json:"doubleValue"`
		Bool   *bool            `json:"boolValue"`
	} `json:"value"`
}

func (kv keyValue) text() string {
	v := kv.Value
	switch {
	case v.String != nil:
		return *v.String
	case v.Int != nil:
		return strings.Trim(string(*v.Int), `"`)
	case v.Double != nil:
		return strconv.FormatFloat(*v.Double, 'g', -1, 64)
	case v.Bool != nil:
		return strconv.FormatBool(*v.Bool)
	}
	return ""
}

func attributes(kvs []keyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.text()
	}
	return m
}

// statusError is OTLP's status code for an error.
const statusError = 2

func (r exportRequest) spans() []Span {
	var out []Span
	for _, rs := range r.ResourceSpans {
		service := attributes(rs.Resource.Attributes)["service.name"]
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := Span{
					TraceID: strings.ToLower(s.TraceID), SpanID: strings.ToLower(s.SpanID),
					ParentSpanID: strings.ToLower(s.ParentSpanID), Name: s.Name, Service: service, Kind: s.Kind,
					Start: unixNano(s.Start), End: unixNano(s.End), Attributes: attributes(s.Attributes),
				}
				if s.Status.Code == statusError {
					sp.Error = s.Status.Message
					if sp.Error == "" {
						sp.Error = "error"
					}
				}
				out = append(out, sp)
			}
		}
	}
	return out
}

func unixNano(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
