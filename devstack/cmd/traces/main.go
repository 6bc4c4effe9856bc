// Command traces prints traces the dev stack's collector received (its
// file exporter's output, .devstack/traces.jsonl by default) as trees of
// spans: the trace of a log line's trace_id, or the traces with a span
// whose attribute has a value (e.g. -attr messaging.message.id=<event id>),
// or the ids of the last traces. See docs/operations.md#traces.
//
//	go run ./devstack/cmd/traces [-file .devstack/traces.jsonl] [-trace ID | -attr KEY=VALUE | -last N]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/fundplatform/platform/devstack/internal/traces"
)

func main() {
	file := flag.String("file", ".devstack/traces.jsonl", "the collector's output (the dev stack prints it in its banner)")
	traceID := flag.String("trace", "", "print this trace (the trace_id of a log line)")
	attr := flag.String("attr", "", "print the traces with a span whose attribute KEY has VALUE (KEY=VALUE)")
	last := flag.Int("last", 10, "without -trace or -attr: list the last N traces' ids, root span and span count")
	flag.Parse()

	spans, err := traces.ReadFile(*file)
	if err != nil {
		fail(err)
	}
	var ids []string
	switch {
	case *traceID != "":
		ids = []string{strings.ToLower(*traceID)}
	case *attr != "":
		k, v, ok := strings.Cut(*attr, "=")
		if !ok {
			fail(fmt.Errorf("-attr %q: want KEY=VALUE", *attr))
		}
		ids = traces.TraceIDsWith(spans, k, v)
	default:
		list(spans, *last)
		return
	}
	if len(ids) == 0 {
		fail(fmt.Errorf("no trace found in %s", *file))
	}
	for _, id := range ids {
		trace := traces.Trace(spans, id)
		if len(trace) == 0 {
			fail(fmt.Errorf("no span of trace %s in %s (the collector flushes within a second)", id, *file))
		}
		fmt.Printf("trace %s (%d spans)\n", id, len(trace))
		traces.Format(os.Stdout, trace)
	}
}

// list prints the last n traces seen: id, span count, first span.
func list(spans []traces.Span, n int) {
	var order []string
	count := map[string]int{}
	first := map[string]traces.Span{}
	for _, s := range spans {
		if count[s.TraceID] == 0 {
			order = append(order, s.TraceID)
		}
		count[s.TraceID]++
		if f, ok := first[s.TraceID]; !ok || s.Start.Before(f.Start) {
			first[s.TraceID] = s
		}
	}
	if len(order) > n {
		order = order[len(order)-n:]
	}
	for _, id := range order {
		f := first[id]
		fmt.Printf("%s  %3d spans  %s %s  %s\n", id, count[id], f.Start.Format("15:04:05.000"), f.Service, f.Name)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "traces:", err)
	os.Exit(1)
}
