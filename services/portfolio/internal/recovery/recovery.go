// Package recovery re-derives, when the portfolio service starts and before
// it serves, what a restore of its database lost: it re-reads the
// service's own topic (portfolio.events) from the position its database
// holds (recovery_positions: after a restore, the backup's) to the end of
// each partition, and store.Recover puts back the portfolios, owner
// changes and NAV snapshots the events carry and the database lacks
// (docs/operations-backup.md, docs/decisions.md). Without it, the next
// NAV of a portfolio would be compared with the backup's latest snapshot
// and its profit would span periods already allocated and paid.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/segmentio/kafka-go"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/services/portfolio/internal/store"
)

// batch is how many events one transaction of store.Recover applies.
const batch = 500

// Run reads every partition of the topic on brokers from its stored
// position to its end (as at the start of the read) and applies what it
// reads. An error — brokers unreachable, an event that cannot be applied —
// fails the start: the service does not serve writes over a database that
// may lack snapshots.
func Run(ctx context.Context, brokers []string, topic string, st *store.Store, log *slog.Logger) (store.Recovered, error) {
	var total store.Recovered
	partitions, err := readPartitions(ctx, brokers, topic)
	if err != nil {
		return total, err
	}
	for _, p := range partitions {
		r, err := partition(ctx, p, st, log)
		if err != nil {
			return total, err
		}
		total.Add(r)
	}
	if total != (store.Recovered{}) {
		log.Warn("recovered from the service's own events what its database lacked (was it restored?)",
			"portfolios", total.Portfolios, "updates", total.Updates, "snapshots", total.Snapshots, "corrections", total.Corrections, "skipped", total.Skipped)
	}
	return total, nil
}

func readPartitions(ctx context.Context, brokers []string, topic string) ([]kafka.Partition, error) {
	var errs []error
	for _, b := range brokers {
		conn, err := kafka.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ps, err := conn.ReadPartitions(topic)
		conn.Close()
		if err == nil {
			return ps, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("recovery: partitions of %s: %w", topic, errors.Join(errs...))
}

// partition re-reads one partition from its stored position to its end.
func partition(ctx context.Context, p kafka.Partition, st *store.Store, log *slog.Logger) (store.Recovered, error) {
	var total store.Recovered
	from, err := st.RecoveryPosition(ctx, p.ID)
	if err != nil {
		return total, err
	}
	leader := net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port))
	lc, err := kafka.DialLeader(ctx, "tcp", leader, p.Topic, p.ID)
	if err != nil {
		return total, fmt.Errorf("recovery: dial the leader of %s/%d: %w", p.Topic, p.ID, err)
	}
	defer lc.Close()
	first, last, err := lc.ReadOffsets()
	if err != nil {
		return total, fmt.Errorf("recovery: offsets of %s/%d: %w", p.Topic, p.ID, err)
	}
	if from < first {
		if from > 0 {
			log.Error("the topic no longer holds every event after the recovery position: what the database lost before the oldest retained event cannot be recovered",
				"topic", p.Topic, "partition", p.ID, "position", from, "oldest", first)
		}
		from = first
	}
	for from < last {
		if _, err := lc.Seek(from, kafka.SeekAbsolute); err != nil {
			return total, fmt.Errorf("recovery: seek %s/%d to %d: %w", p.Topic, p.ID, from, err)
		}
		var events []eventbus.Envelope
		next := from
		for next < last && len(events) < batch {
			m, err := lc.ReadMessage(10 << 20)
			if err != nil {
				return total, fmt.Errorf("recovery: read %s/%d at %d: %w", p.Topic, p.ID, next, err)
			}
			next = m.Offset + 1
			env, err := eventbus.Decode(m.Value)
			if err != nil {
				log.Error("recovery passes over an event it cannot decode", "topic", p.Topic, "partition", p.ID, "offset", m.Offset, "err", err)
				continue
			}
			events = append(events, env)
		}
		r, err := st.Recover(ctx, p.ID, events, next)
		if err != nil {
			return total, err
		}
		total.Add(r)
		from = next
	}
	return total, nil
}
