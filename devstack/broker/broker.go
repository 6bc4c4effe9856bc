// Package broker runs the dev stack's Kafka: an in-process kfake cluster
// (github.com/twmb/franz-go/pkg/kfake) that speaks the Kafka wire protocol,
// listening on 127.0.0.1 only, with the platform's topics already created.
package broker

import (
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Topics are the platform's event topics (docs/api.md#events) and their
// dead-letter topics, created when the broker starts. Topic auto-creation
// stays off, as in the compose and Kubernetes Kafka, so a misspelt topic
// fails in development too.
var Topics = []string{
	"portfolio.events", "profit.events", "withdrawal.events", "ledger.checkpoints",
	"portfolio.events.dlq", "profit.events.dlq", "withdrawal.events.dlq",
}

// Partitions is the default partition count of every seeded topic: at
// least the Helm chart's HPA maximum (5 replicas), since at most one
// consumer of a group per partition applies messages (consumer
// parallelism ≤ partitions; docs/scaling.md).
const Partitions = 6

// Broker is a running in-process Kafka cluster of one broker.
type Broker struct {
	cluster    *kfake.Cluster
	partitions int
}

// Start starts the broker on 127.0.0.1:port (0 picks a free port) with
// Partitions partitions per topic. Log, if not nil, receives the broker's
// warnings and errors.
func Start(port int, log io.Writer) (*Broker, error) {
	return StartPartitions(port, Partitions, log)
}

// StartPartitions is Start with partitions partitions per topic (≤ 0:
// Partitions).
func StartPartitions(port, partitions int, log io.Writer) (*Broker, error) {
	if partitions <= 0 {
		partitions = Partitions
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ClusterID("fundplatform-devstack"),
		kfake.SeedTopics(int32(partitions), Topics...),
		// kfake binds 127.0.0.1 already; this makes it a rule here,
		// whatever address it asks for.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen("tcp4", net.JoinHostPort("127.0.0.1", p))
		}),
	}
	if log != nil {
		opts = append(opts, kfake.WithLogger(kfake.BasicLogger(log, kfake.LogLevelWarn)))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		if port != 0 {
			return nil, fmt.Errorf("kafka: listen on 127.0.0.1:%s (set KAFKA_PORT or KAFKA_BROKERS): %w", strconv.Itoa(port), err)
		}
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return &Broker{cluster: c, partitions: partitions}, nil
}

// Addrs are the bootstrap addresses ("127.0.0.1:9092").
func (b *Broker) Addrs() []string { return b.cluster.ListenAddrs() }

// Close stops the broker; its data is gone.
func (b *Broker) Close() { b.cluster.Close() }

// Partitions is the partition count of the broker's topics.
func (b *Broker) PartitionCount() int { return b.partitions }
