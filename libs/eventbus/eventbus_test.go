package eventbus_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
)

// samples are data objects as the producers emit them, one per type.
var samples = eventtest.Data

func envelopeJSON(t *testing.T, eventType, data string) []byte {
	t.Helper()
	env, err := eventbus.NewEnvelope("test", eventType, "portfolio/42", json.RawMessage(data))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutate applies fn to the decoded value and re-encodes it.
func mutate(t *testing.T, value []byte, fn func(env map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(value)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEverySchemaHasASampleAndATopic(t *testing.T) {
	for _, typ := range eventbus.Types {
		if _, ok := samples[typ]; !ok {
			t.Errorf("no sample for %s", typ)
		}
		if eventbus.TopicOf(typ) == "" {
			t.Errorf("no topic for %s", typ)
		}
		if _, err := eventbus.Schemas.ReadFile("schemas/" + typ + ".json"); err != nil {
			t.Errorf("no schema file for %s: %v", typ, err)
		}
	}
	entries, _ := eventbus.Schemas.ReadDir("schemas")
	if len(entries) != len(eventbus.Types) {
		t.Errorf("%d schema files for %d types", len(entries), len(eventbus.Types))
	}
}

func TestValidSamplesPass(t *testing.T) {
	for typ, data := range samples {
		if err := eventbus.Validate(typ, envelopeJSON(t, typ, data)); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestInvalidEventsFail(t *testing.T) {
	allocated := envelopeJSON(t, eventbus.TypeProfitAllocated, samples[eventbus.TypeProfitAllocated])
	requested := envelopeJSON(t, eventbus.TypeWithdrawalRequested, samples[eventbus.TypeWithdrawalRequested])
	cases := []struct {
		name  string
		typ   string
		value []byte
	}{
		{"missing data field", eventbus.TypeProfitAllocated, mutate(t, allocated, func(m map[string]any) {
			delete(m["data"].(map[string]any), "to_user_amount")
		})},
		{"missing envelope field", eventbus.TypeProfitAllocated, mutate(t, allocated, func(m map[string]any) { delete(m, "id") })},
		{"extra data field", eventbus.TypeProfitAllocated, mutate(t, allocated, func(m map[string]any) {
			m["data"].(map[string]any)["extra"] = 1
		})},
		{"id as string", eventbus.TypeProfitAllocated, mutate(t, allocated, func(m map[string]any) {
			m["data"].(map[string]any)["portfolio_id"] = "42"
		})},
		{"amount as number", eventbus.TypeProfitAllocated, mutate(t, allocated, func(m map[string]any) {
			m["data"].(map[string]any)["to_user_amount"] = json.Number("70")
		})},
		{"amount with 2 decimals", eventbus.TypeWithdrawalRequested, mutate(t, requested, func(m map[string]any) {
			m["data"].(map[string]any)["amount"] = "12.50"
		})},
		{"amount with 9 decimals", eventbus.TypeWithdrawalRequested, mutate(t, requested, func(m map[string]any) {
			m["data"].(map[string]any)["amount"] = "12.500000000"
		})},
		{"zero withdrawal", eventbus.TypeWithdrawalRequested, mutate(t, requested, func(m map[string]any) {
			m["data"].(map[string]any)["amount"] = "0.00000000"
		})},
		{"wrong source enum", eventbus.TypeProfitAllocated, mutate(t, allocated, func(m map[string]any) {
			m["data"].(map[string]any)["source"] = "other"
		})},
		{"version 2", eventbus.TypeProfitAllocated, mutate(t, allocated, func(m map[string]any) { m["version"] = json.Number("2") })},
		{"time not UTC", eventbus.TypeProfitAllocated, mutate(t, allocated, func(m map[string]any) { m["time"] = "2026-03-01T12:00:00+01:00" })},
		{"id not a uuid", eventbus.TypeProfitAllocated, mutate(t, allocated, func(m map[string]any) { m["id"] = "not-a-uuid" })},
		{"type of another schema", eventbus.TypeWithdrawalRequested, allocated},
		{"unknown type", "profit.unknown", allocated},
		{"not JSON", eventbus.TypeProfitAllocated, []byte(`{"id":`)},
	}
	for _, c := range cases {
		if err := eventbus.Validate(c.typ, c.value); err == nil {
			t.Errorf("%s: accepted %s", c.name, c.value)
		}
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	env, err := eventbus.NewEnvelope("portfolio", eventbus.TypePortfolioCreated, "portfolio/42",
		map[string]any{"portfolio_id": 42})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(env.ID); err != nil || env.Version != 1 || env.Time.Location() != time.UTC {
		t.Fatalf("envelope = %+v", env)
	}
	b, _ := json.Marshal(env)
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(b, &keys)
	for _, k := range []string{"id", "type", "version", "source", "time", "subject", "data"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, b)
		}
	}
	if !strings.HasSuffix(strings.Trim(string(keys["time"]), `"`), "Z") {
		t.Errorf("time not in UTC: %s", keys["time"])
	}
	got, err := eventbus.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != env.ID || !got.Time.Equal(env.Time) || string(got.Data) != string(env.Data) {
		t.Fatalf("decoded %+v, want %+v", got, env)
	}
	for _, bad := range []string{`nope`, `{"id":"x","type":"a","version":1,"data":{}}`,
		`{"id":"` + env.ID + `","type":"","version":1,"data":{}}`,
		`{"id":"` + env.ID + `","type":"a","version":2,"data":{}}`,
		`{"id":"` + env.ID + `","type":"a","version":1,"data":null}`} {
		if _, err := eventbus.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode accepted %s", bad)
		}
	}
	if _, err := eventbus.NewEnvelope("s", "t", "x", []int{1}); err == nil {
		t.Error("NewEnvelope accepted non-object data")
	}
}

func TestTraceHeadersRoundTrip(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	hs := eventbus.Headers(ctx, eventbus.TypeProfitAllocated)
	if got := eventbus.HeaderValue(hs, "traceparent"); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("traceparent = %q", got)
	}
	if eventbus.HeaderValue(hs, "content-type") != "application/json" || eventbus.HeaderValue(hs, "event-type") != eventbus.TypeProfitAllocated {
		t.Fatalf("headers = %v", hs)
	}
	back := trace.SpanContextFromContext(eventbus.ContextWithTrace(context.Background(), hs))
	if back.TraceID() != tid || back.SpanID() != sid || !back.IsRemote() {
		t.Fatalf("extracted %v", back)
	}
	if m := eventbus.TraceHeaders(ctx); m["traceparent"] == "" {
		t.Fatalf("TraceHeaders = %v", m)
	}

	plain := eventbus.Headers(context.Background(), "x")
	if eventbus.HeaderValue(plain, "traceparent") != "" || len(plain) != 2 {
		t.Fatalf("headers without a trace = %v", plain)
	}
	if sc := trace.SpanContextFromContext(eventbus.ContextWithTrace(context.Background(), plain)); sc.IsValid() {
		t.Fatal("trace extracted from headers without one")
	}
}

func TestWriterPublishesByKey(t *testing.T) {
	brokers := kafkatest.Start(t, eventbus.TopicPortfolio)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := eventbus.NewWriter(brokers, eventbus.TopicPortfolio)
	defer w.Close()

	var sent []eventbus.Envelope
	for i := range 6 {
		env, err := eventbus.NewEnvelope("portfolio", eventbus.TypePortfolioUpdated, "portfolio/1",
			json.RawMessage(samples[eventbus.TypePortfolioUpdated]))
		if err != nil {
			t.Fatal(err)
		}
		key := []string{"1", "2"}[i%2]
		if err := w.Publish(ctx, key, env); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, env)
	}
	msgs := kafkatest.ReadAll(t, brokers, eventbus.TopicPortfolio, len(sent), 15*time.Second)
	if len(msgs) != len(sent) {
		t.Fatalf("read %d messages, want %d", len(msgs), len(sent))
	}
	partitionOf := map[string]int{}
	order := map[string][]string{}
	for _, m := range msgs {
		if p, ok := partitionOf[string(m.Key)]; ok && p != m.Partition {
			t.Fatalf("key %s on partitions %d and %d", m.Key, p, m.Partition)
		}
		partitionOf[string(m.Key)] = m.Partition
		if eventbus.HeaderValue(m.Headers, "event-type") != eventbus.TypePortfolioUpdated {
			t.Fatalf("headers = %v", m.Headers)
		}
		if err := eventbus.Validate(eventbus.TypePortfolioUpdated, m.Value); err != nil {
			t.Fatal(err)
		}
		env, err := eventbus.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		order[string(m.Key)] = append(order[string(m.Key)], env.ID)
	}
	// Per key, messages keep the order they were written in.
	for i, env := range sent {
		key := []string{"1", "2"}[i%2]
		if order[key][i/2] != env.ID {
			t.Fatalf("key %s: order %v", key, order[key])
		}
	}

	missing := eventbus.NewWriter(brokers, "no.such.topic")
	defer missing.Close()
	if err := missing.WriteMessages(ctx, kafka.Message{Value: []byte("{}")}); err == nil {
		t.Fatal("write to a missing topic succeeded (auto-creation must stay off)")
	}
}
