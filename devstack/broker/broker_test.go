package broker

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestBrokerServesTheTopicsOnLoopback(t *testing.T) {
	b, err := Start(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)

	addrs := b.Addrs()
	if len(addrs) != 1 {
		t.Fatalf("addrs = %v, want one", addrs)
	}
	host, port, err := net.SplitHostPort(addrs[0])
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("broker listens on %q, want 127.0.0.1:<free port>", addrs[0])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// Every topic exists with its partitions, and no other (auto-created) one.
	meta := kmsg.NewPtrMetadataRequest()
	resp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, tp := range resp.Topics {
		if tp.Topic != nil && !strings.HasPrefix(*tp.Topic, "__") {
			got[*tp.Topic] = len(tp.Partitions)
		}
	}
	for _, topic := range Topics {
		if got[topic] != Partitions {
			t.Errorf("topic %s has %d partitions, want %d", topic, got[topic], Partitions)
		}
	}
	if len(got) != len(Topics) {
		t.Errorf("topics = %v, want exactly %v", got, Topics)
	}

	// One record produced to portfolio.events comes back to a consumer.
	rec := &kgo.Record{Topic: "portfolio.events", Key: []byte("42"), Value: []byte(`{"type":"portfolio.created"}`),
		Headers: []kgo.RecordHeader{{Key: "event-type", Value: []byte("portfolio.created")}}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(addrs...),
		kgo.ConsumeTopics("portfolio.events"), kgo.ConsumerGroup("devstack-test"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	for {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("no record consumed: %v", err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs)
		}
		recs := fetches.Records()
		if len(recs) == 0 {
			continue
		}
		r := recs[0]
		if string(r.Key) != "42" || string(r.Value) != `{"type":"portfolio.created"}` ||
			!slices.ContainsFunc(r.Headers, func(h kgo.RecordHeader) bool { return h.Key == "event-type" }) {
			t.Fatalf("consumed %q=%q %v", r.Key, r.Value, r.Headers)
		}
		return
	}
}

func TestBrokerRefusesProduceToUnknownTopic(t *testing.T) {
	b, err := Start(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.RecordDeliveryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "typo.events", Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("produce to an unknown topic succeeded; auto-creation should be off")
	}
}

func TestBrokerPortInUse(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Start(l.Addr().(*net.TCPAddr).Port, nil)
	if err == nil || !strings.Contains(err.Error(), "KAFKA_PORT") {
		t.Fatalf("Start on a busy port: err = %v", err)
	}
}
