// Package kafkatest gives tests a real Kafka-protocol broker: an
// in-process kfake cluster (github.com/twmb/franz-go/pkg/kfake) on
// 127.0.0.1, with the topics a test needs, stopped when the test ends.
// kafka-go produces, consumes with consumer groups and commits offsets
// against it as against Kafka.
package kafkatest

import (
	"context"
	"errors"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Partitions is the partition count of every topic Start creates.
const Partitions = 3

// Start starts a one-broker cluster with topics created (Partitions
// partitions each; auto-creation stays off, as in production) and returns
// its bootstrap addresses. The cluster is closed when t ends.
func Start(t testing.TB, topics ...string) []string {
	t.Helper()
	return StartCluster(t, topics...).ListenAddrs()
}

// StartCluster is Start that returns the cluster itself, for tests that
// inject faults (kfake's Control) or create topics later.
func StartCluster(t testing.TB, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(0),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen("tcp4", net.JoinHostPort("127.0.0.1", port))
		}),
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(Partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kafkatest: start broker: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// ReadAll reads topic from the start of every partition until it has got
// want messages or timeout passed, and returns what it got, in partition
// then offset order. It fails the test on a broker error, not on a
// shortfall: compare the length with what you expected.
func ReadAll(t testing.TB, brokers []string, topic string, want int, timeout time.Duration) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		t.Fatalf("kafkatest: dial: %v", err)
	}
	parts, err := conn.ReadPartitions(topic)
	_ = conn.Close()
	if err != nil {
		t.Fatalf("kafkatest: partitions of %s: %v", topic, err)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].ID < parts[j].ID })

	got := make(chan kafka.Message)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, p := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:   brokers,
			Topic:     topic,
			Partition: p.ID,
			MaxWait:   100 * time.Millisecond,
		})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			t.Fatalf("kafkatest: %v", err)
		}
		wg.Go(func() {
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				select {
				case got <- m:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	var msgs []kafka.Message
	for len(msgs) < want {
		select {
		case m := <-got:
			msgs = append(msgs, m)
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Fatalf("kafkatest: %v", ctx.Err())
			}
			want = len(msgs)
		}
	}
	sort.SliceStable(msgs, func(i, j int) bool {
		if msgs[i].Partition != msgs[j].Partition {
			return msgs[i].Partition < msgs[j].Partition
		}
		return msgs[i].Offset < msgs[j].Offset
	})
	return msgs
}
