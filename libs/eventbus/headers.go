package eventbus

import (
	"context"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
)

// Header names every event message carries (traceparent and tracestate
// only when a trace is active).
const (
	HeaderTraceparent = "traceparent"
	HeaderContentType = "content-type"
	HeaderEventType   = "event-type"

	ContentTypeJSON = "application/json"
)

// propagator is the W3C trace context (traceparent, tracestate) and
// baggage. It is fixed here rather than taken from otel's global, so that
// events carry the trace whether or not a service set the global up.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// HeaderCarrier adapts Kafka message headers to OpenTelemetry's
// TextMapCarrier. Keys are matched exactly (Kafka header names are case
// sensitive; the W3C ones are lower case).
type HeaderCarrier struct{ Headers *[]kafka.Header }

// Get returns the value of the first header named key.
func (c HeaderCarrier) Get(key string) string {
	return HeaderValue(*c.Headers, key)
}

// Set replaces the header named key, or appends it.
func (c HeaderCarrier) Set(key, value string) {
	hs := *c.Headers
	for i := range hs {
		if hs[i].Key == key {
			hs[i].Value = []byte(value)
			return
		}
	}
	*c.Headers = append(hs, kafka.Header{Key: key, Value: []byte(value)})
}

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(*c.Headers))
	for _, h := range *c.Headers {
		keys = append(keys, h.Key)
	}
	return keys
}

// HeaderValue is the value of the first header named key, or "".
func HeaderValue(headers []kafka.Header, key string) string {
	for _, h := range headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// InjectTrace adds the trace context of ctx (traceparent, tracestate,
// baggage, when present) to headers and returns them.
func InjectTrace(ctx context.Context, headers []kafka.Header) []kafka.Header {
	propagator.Inject(ctx, HeaderCarrier{&headers})
	return headers
}

// TraceHeaders is the trace context of ctx as a map (empty without an
// active trace), the form in which an outbox row keeps it until the relay
// publishes the event.
func TraceHeaders(ctx context.Context) map[string]string {
	m := propagation.MapCarrier{}
	propagator.Inject(ctx, m)
	return m
}

// Headers are the headers of an event message of eventType published from
// ctx: content-type, event-type and the trace context.
func Headers(ctx context.Context, eventType string) []kafka.Header {
	hs := []kafka.Header{
		{Key: HeaderContentType, Value: []byte(ContentTypeJSON)},
		{Key: HeaderEventType, Value: []byte(eventType)},
	}
	return InjectTrace(ctx, hs)
}

// ContextWithTrace returns ctx carrying the trace context found in
// headers (as the remote parent of spans started from it); ctx unchanged
// when there is none.
func ContextWithTrace(ctx context.Context, headers []kafka.Header) context.Context {
	return propagator.Extract(ctx, HeaderCarrier{&headers})
}
