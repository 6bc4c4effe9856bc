package events

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// CheckpointReader reads the latest checkpoint from ledger.checkpoints at
// the time it is asked (ledger.CheckpointSource): the last message of each
// partition (the key "ledger" puts them all on one), whose signature must
// verify with one of Keys. It never reads the service's database.
type CheckpointReader struct {
	Brokers []string
	// Keys are the public keys checkpoints may be signed with, by key id:
	// the current key's, and those of keys rotated out whose checkpoint
	// may still be the latest (docs/operations.md).
	Keys map[string]ed25519.PublicKey
	// Timeout bounds one read (default 10 s).
	Timeout time.Duration
}

// maxCheckpointBytes bounds the message read.
const maxCheckpointBytes = 64 << 20

// Latest implements ledger.CheckpointSource: the verified checkpoint with
// the largest taken_at, nil when the topic is empty. A last message that
// is not a checkpoint or does not verify is ledger.ErrCheckpointInvalid.
func (r CheckpointReader) Latest(ctx context.Context) (*ledger.Checkpoint, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	partitions, err := r.partitions(ctx)
	if err != nil {
		return nil, err
	}
	var latest *ledger.Checkpoint
	for _, p := range partitions {
		value, err := r.lastMessage(ctx, p)
		if err != nil || value == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		cp, err := r.open(value)
		if err != nil {
			return nil, err
		}
		if latest == nil || cp.TakenAt.After(latest.TakenAt) {
			latest = &cp
		}
	}
	return latest, nil
}

func (r CheckpointReader) partitions(ctx context.Context) ([]kafka.Partition, error) {
	var errs []error
	for _, b := range r.Brokers {
		conn, err := kafka.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ps, err := conn.ReadPartitions(eventbus.TopicCheckpoints)
		conn.Close()
		if err == nil {
			return ps, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("events: partitions of %s: %w", eventbus.TopicCheckpoints, errors.Join(errs...))
}

// lastMessage is the value of p's last message, nil when it has none.
func (r CheckpointReader) lastMessage(ctx context.Context, p kafka.Partition) ([]byte, error) {
	leader := net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port))
	lc, err := kafka.DialLeader(ctx, "tcp", leader, p.Topic, p.ID)
	if err != nil {
		return nil, fmt.Errorf("events: dial the leader of %s/%d: %w", p.Topic, p.ID, err)
	}
	defer lc.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = lc.SetDeadline(d)
	}
	first, last, err := lc.ReadOffsets()
	if err != nil {
		return nil, fmt.Errorf("events: offsets of %s/%d: %w", p.Topic, p.ID, err)
	}
	if last <= first {
		return nil, nil
	}
	if _, err := lc.Seek(last-1, kafka.SeekAbsolute); err != nil {
		return nil, fmt.Errorf("events: seek %s/%d: %w", p.Topic, p.ID, err)
	}
	m, err := lc.ReadMessage(maxCheckpointBytes)
	if err != nil {
		return nil, fmt.Errorf("events: read %s/%d at %d: %w", p.Topic, p.ID, last-1, err)
	}
	return m.Value, nil
}

// open checks value against ledger.checkpoint's schema and its signature.
func (r CheckpointReader) open(value []byte) (ledger.Checkpoint, error) {
	env, err := eventbus.Decode(value)
	if err == nil && env.Type != eventbus.TypeLedgerCheckpoint {
		err = fmt.Errorf("type %q", env.Type)
	}
	if err == nil {
		err = eventbus.Validate(env.Type, value)
	}
	var d eventbus.CheckpointData
	if err == nil {
		err = json.Unmarshal(env.Data, &d)
	}
	if err != nil {
		return ledger.Checkpoint{}, fmt.Errorf("%w: %v", ledger.ErrCheckpointInvalid, err)
	}
	return ledger.OpenCheckpoint(r.Keys, d)
}

// CheckpointPublisher is the worker that publishes checkpoints: at start
// and then every Interval, st.PublishCheckpoint (which publishes only when
// a head has changed since the last checkpoint any replica published).
type CheckpointPublisher struct {
	Store interface {
		PublishCheckpoint(context.Context, ledger.CheckpointKey, time.Time) (bool, error)
	}
	Key      ledger.CheckpointKey
	Interval time.Duration
	Log      interface{ Warn(msg string, args ...any) }
}

// Run publishes until ctx ends; a failed attempt is logged and tried again
// at the next interval.
func (p CheckpointPublisher) Run(ctx context.Context) error {
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		if _, err := p.Store.PublishCheckpoint(ctx, p.Key, time.Now()); err != nil && ctx.Err() == nil {
			p.Log.Warn("ledger checkpoint not published", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
