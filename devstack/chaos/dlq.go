package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/fundplatform/platform/devstack/broker"
)

// dlqCounts reads, from the broker, how many messages each dead-letter
// topic holds (the sum of its partitions' end offsets).
func dlqCounts(ctx context.Context, brokers []string) (map[string]int64, error) {
	var topics []string
	for _, t := range broker.Topics {
		if strings.HasSuffix(t, ".dlq") {
			topics = append(topics, t)
		}
	}
	c := &kafka.Client{Addr: kafka.TCP(brokers...)}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, err
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.LastOffsetOf(p.ID))
		}
	}
	resp, err := c.ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	for _, t := range topics {
		counts[t] = 0
		for _, p := range resp.Topics[t] {
			if p.Error != nil {
				return nil, fmt.Errorf("topic %s partition %d: %w", t, p.Partition, p.Error)
			}
			counts[t] += p.LastOffset
		}
	}
	return counts, nil
}

// checkDLQ fails the run when any event was dead-lettered: every fault the
// run injects is one of the database or of a process, which the consumers
// retry, never a fault of the event.
func checkDLQ(ctx context.Context, brokers []string, sum *summary) []string {
	counts, err := dlqCounts(ctx, brokers)
	if err != nil {
		return []string{fmt.Sprintf("read the dead-letter topics: %v", err)}
	}
	var failures, per []string
	for t, n := range counts {
		per = append(per, fmt.Sprintf("%s %d", t, n))
		if n > 0 {
			failures = append(failures, fmt.Sprintf("%d message(s) dead-lettered on %s", n, t))
		}
	}
	slices.Sort(per)
	if len(failures) == 0 {
		sum.checks = append(sum.checks, "dead-letter topics empty ("+strings.Join(per, ", ")+")")
	}
	return failures
}
