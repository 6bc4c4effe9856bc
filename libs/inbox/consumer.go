package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/pg"
)

// Dead-letter headers, added to the original message's headers.
const (
	HeaderError             = "x-error"
	HeaderOriginalTopic     = "x-original-topic"
	HeaderOriginalPartition = "x-original-partition"
	HeaderOriginalOffset    = "x-original-offset"
	HeaderConsumerGroup     = "x-consumer-group"
)

// Results of a message, the values of the result label of
// fund_consumer_messages_total.
const (
	ResultHandled   = "handled"   // applied
	ResultDuplicate = "duplicate" // already applied before: skipped
	ResultFailed    = "failed"    // one failed attempt (it is retried)
	ResultDLQ       = "dlq"       // given up: sent to the dead-letter topic
)

// Config sets up a Consumer; zero values take the defaults.
type Config struct {
	// Brokers are the Kafka bootstrap addresses ("host:port"). Required.
	Brokers []string
	// GroupID is the consumer group, usually the service's name. Required.
	GroupID string
	// Topics are the topics to consume. Required; each needs its .dlq topic.
	Topics []string
	// Handler applies one event. Required.
	Handler Handler
	// BatchHandler, when set, applies the events of a batch (BatchSize
	// above 1) in one call instead of Handler once per event; Handler still
	// applies the messages one by one when a batch fails, so the two must
	// have the same effects.
	BatchHandler BatchHandler
	// TxOptions are the options of each message's transaction (default:
	// read committed).
	TxOptions pgx.TxOptions
	// ValidateSchema checks every message against its type's JSON Schema
	// (eventbus.Validate) before the handler sees it; a message that fails
	// (an unknown type included) is dead-lettered at once.
	ValidateSchema bool
	// MaxAttempts is how many times a failing handler is tried on one
	// message before it is dead-lettered (default 5).
	MaxAttempts int
	// RetryBackoff is the first wait after a failure (default 100 ms); it
	// doubles up to MaxBackoff (default 5 s).
	RetryBackoff, MaxBackoff time.Duration
	// BatchSize is the most messages of one partition applied in one
	// transaction (default 1: one transaction per message). With more, a
	// partition's messages already at hand are applied together, so that
	// rows every event touches are locked once per batch; if any of them
	// fails, the batch is rolled back and its messages are applied one by
	// one (with the retries and dead-lettering described above).
	BatchSize int
	// BatchWait is how long a batch waits, from its first message, for
	// more before it is applied with what it has (default 20 ms; only
	// with BatchSize > 1).
	BatchWait time.Duration
	// CommitInterval is how often offsets are committed to Kafka, for lag
	// monitoring only (default 1 s).
	CommitInterval time.Duration
	// Logger receives failures and dead letters (default slog.Default()).
	Logger *slog.Logger
}

// Consumer consumes Config.Topics as a member of Config.GroupID and
// applies each event once, in partition order.
type Consumer struct {
	pool    *pgxpool.Pool
	cfg     Config
	log     *slog.Logger
	tracer  trace.Tracer
	metrics *metrics

	mu       sync.Mutex
	joined   bool
	groupErr error // the last error joining the group, nil once joined
	stallErr error // why applying stalled (database or dead-letter topic down), nil after a success
}

// NewConsumer returns a consumer applying events to pool's database, with
// its metrics registered in reg (several consumers may share one):
//
//	fund_consumer_messages_total{topic,result}   handled, duplicate, failed, dlq
//	fund_consumer_lag{topic,partition}           messages behind the log end
//	fund_consumer_handle_duration_seconds{topic} time to apply one message
func NewConsumer(pool *pgxpool.Pool, cfg Config, reg prometheus.Registerer) (*Consumer, error) {
	if pool == nil || len(cfg.Brokers) == 0 || cfg.GroupID == "" || len(cfg.Topics) == 0 || cfg.Handler == nil {
		return nil, errors.New("inbox: a consumer needs a pool, brokers, a group id, topics and a handler")
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = 20 * time.Millisecond
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Consumer{
		pool:    pool,
		cfg:     cfg,
		log:     cfg.Logger.With("component", "consumer", "group", cfg.GroupID),
		tracer:  otel.Tracer("github.com/fundplatform/platform/libs/inbox"),
		metrics: m,
	}, nil
}

// Run consumes until ctx ends, then leaves the group and returns nil. It
// returns an error only when the group cannot be set up at all.
func (c *Consumer) Run(ctx context.Context) error {
	dlq := eventbus.NewWriter(c.cfg.Brokers, "")
	defer dlq.Close()
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                    c.cfg.GroupID,
		Brokers:               c.cfg.Brokers,
		Topics:                c.cfg.Topics,
		StartOffset:           kafka.FirstOffset,
		HeartbeatInterval:     time.Second,
		SessionTimeout:        10 * time.Second,
		RebalanceTimeout:      10 * time.Second,
		JoinGroupBackoff:      time.Second,
		WatchPartitionChanges: true,
		ErrorLogger:           c.kafkaLogger(),
	})
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	defer group.Close()
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			c.setGroupErr(err)
			c.log.WarnContext(ctx, "joining the consumer group failed; retrying", "error", err)
			continue
		}
		c.setGroupErr(nil)
		c.startGeneration(ctx, gen, dlq)
	}
}

// startGeneration starts one reader per assigned partition and a
// committer of Kafka offsets; they stop when the generation or ctx ends.
func (c *Consumer) startGeneration(ctx context.Context, gen *kafka.Generation, dlq *eventbus.Writer) {
	commits := &pendingCommits{offsets: map[string]map[int]int64{}}
	n := 0
	for topic, parts := range gen.Assignments {
		for _, p := range parts {
			n++
			gen.Start(func(gctx context.Context) {
				pctx, cancel := bothDone(ctx, gctx)
				defer cancel()
				c.consumePartition(pctx, topic, p.ID, commits, dlq)
			})
		}
	}
	c.log.InfoContext(ctx, "consumer group generation started", "generation", gen.ID, "partitions", n)
	gen.Start(func(gctx context.Context) {
		t := time.NewTicker(c.cfg.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				c.commitKafka(ctx, gen, commits)
				return
			case <-gctx.Done():
				return
			case <-t.C:
				c.commitKafka(ctx, gen, commits)
			}
		}
	})
}

// bothDone is a context that ends when ctx (which carries the values) or
// other ends.
func bothDone(ctx, other context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(other, cancel)
	return ctx, func() { stop(); cancel() }
}

// consumePartition applies one partition's messages in order from the
// offset stored in the database.
func (c *Consumer) consumePartition(ctx context.Context, topic string, partition int, commits *pendingCommits, dlq *eventbus.Writer) {
	part := strconv.Itoa(partition)
	defer c.metrics.lag.DeleteLabelValues(topic, part)
	bo := c.newBackoff()
	var start int64
	for {
		var err error
		start, err = c.storedOffset(ctx, topic, partition)
		if err == nil {
			break
		}
		if !c.dbFailed(ctx, err, bo) {
			return
		}
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:         c.cfg.Brokers,
		Topic:           topic,
		Partition:       partition,
		MinBytes:        1,
		MaxBytes:        10 << 20,
		MaxWait:         500 * time.Millisecond,
		ReadLagInterval: -1,
		ErrorLogger:     c.kafkaLogger(),
	})
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		c.log.ErrorContext(ctx, "cannot position the partition reader", "topic", topic, "partition", partition, "error", err)
		return
	}
	c.log.DebugContext(ctx, "partition assigned", "topic", topic, "partition", partition, "offset", start)
	for {
		batch, err := c.fetch(ctx, r)
		if len(batch) > 0 {
			last := batch[len(batch)-1]
			c.metrics.lag.WithLabelValues(topic, part).Set(float64(max(last.HighWaterMark-last.Offset-1, 0)))
			if !c.applyBatch(ctx, batch, dlq) {
				return
			}
			commits.set(topic, partition, last.Offset+1)
		}
		if err != nil {
			if ctx.Err() == nil {
				c.log.ErrorContext(ctx, "partition reader failed", "topic", topic, "partition", partition, "error", err)
			}
			return
		}
	}
}

// fetch waits for the partition's next message, then takes up to
// BatchSize-1 more that arrive within BatchWait of the first: a consumer
// that is behind gets full batches at once, one that keeps up applies
// each message at most BatchWait after it came (a batch that waited for
// each next message instead could take BatchSize × the arrival interval).
// An error comes with the messages fetched before it, which are still to
// be applied.
func (c *Consumer) fetch(ctx context.Context, r *kafka.Reader) ([]kafka.Message, error) {
	msg, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	batch := []kafka.Message{msg}
	wctx, cancel := context.WithTimeout(ctx, c.cfg.BatchWait)
	defer cancel()
	for len(batch) < c.cfg.BatchSize {
		msg, err := r.FetchMessage(wctx)
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				err = nil // nothing more at hand
			}
			return batch, err
		}
		batch = append(batch, msg)
	}
	return batch, nil
}

// applyBatch applies a partition's consecutive messages: all in one
// transaction when there are several, else (or when that fails) each on
// its own with apply. It returns false only when ctx ended first.
func (c *Consumer) applyBatch(ctx context.Context, batch []kafka.Message, dlq *eventbus.Writer) bool {
	if len(batch) > 1 {
		began := time.Now()
		results, envs, err := c.processBatch(ctx, batch)
		if err == nil {
			each := time.Since(began).Seconds() / float64(len(batch))
			for i, msg := range batch {
				c.metrics.applied(msg.Topic, results[i], envs[i].Time)
				c.metrics.duration.WithLabelValues(msg.Topic).Observe(each)
			}
			c.setStalled(nil)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		first := batch[0]
		c.log.DebugContext(ctx, "batch failed; applying its messages one by one", "topic", first.Topic,
			"partition", first.Partition, "offset", first.Offset, "messages", len(batch), "error", err)
	}
	for _, msg := range batch {
		if !c.apply(ctx, msg, dlq) {
			return false
		}
	}
	return true
}

// storedOffset is the partition's next offset from consumer_offsets, or
// kafka.FirstOffset when the group has never consumed it.
func (c *Consumer) storedOffset(ctx context.Context, topic string, partition int) (int64, error) {
	var next int64
	err := c.pool.QueryRow(ctx, `SELECT next_offset FROM consumer_offsets
		WHERE group_id = $1 AND topic = $2 AND partition = $3`, c.cfg.GroupID, topic, partition).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		return kafka.FirstOffset, nil
	}
	return next, err
}

// apply processes msg until it is applied, found to be a duplicate or
// dead-lettered; it returns false only when ctx ended first.
func (c *Consumer) apply(ctx context.Context, msg kafka.Message, dlq *eventbus.Writer) bool {
	began := time.Now()
	defer func() { c.metrics.duration.WithLabelValues(msg.Topic).Observe(time.Since(began).Seconds()) }()

	env, err := c.decode(msg)
	if err != nil {
		return c.deadLetter(ctx, msg, err, dlq)
	}
	mctx, span := c.startSpan(ctx, msg, env)
	defer span.End()

	bo := c.newBackoff()
	failures := 0
	for {
		result, err := c.process(mctx, msg, env)
		if err == nil {
			c.metrics.applied(msg.Topic, result, env.Time)
			c.setStalled(nil)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		var he handlerError
		if !errors.As(err, &he) || pg.Transient(err) || c.pool.Ping(ctx) != nil {
			// The database failed, not the event (pg.Transient: a lost
			// connection, a timeout, a full disk, a shutdown…): retry for as
			// long as it takes. Only the event's own faults count toward
			// MaxAttempts and the dead-letter topic.
			if !c.dbFailed(ctx, err, bo) {
				return false
			}
			continue
		}
		failures++
		c.metrics.messages.WithLabelValues(msg.Topic, ResultFailed).Inc()
		span.RecordError(err)
		if failures >= c.cfg.MaxAttempts || IsPermanent(err) {
			span.SetStatus(codes.Error, "dead-lettered")
			return c.deadLetter(mctx, msg, he.err, dlq)
		}
		wait := bo.NextBackOff()
		c.log.WarnContext(mctx, "event handler failed; retrying", "topic", msg.Topic, "partition", msg.Partition,
			"offset", msg.Offset, "event_id", env.ID, "type", env.Type, "attempt", failures, "retry_in", wait.String(), "error", he.err)
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// decode is msg's envelope, checked against its schema if so configured.
func (c *Consumer) decode(msg kafka.Message) (eventbus.Envelope, error) {
	env, err := eventbus.Decode(msg.Value)
	if err == nil && c.cfg.ValidateSchema {
		err = eventbus.Validate(env.Type, msg.Value)
	}
	return env, err
}

// startSpan starts the span of processing msg, a child of the producer's.
func (c *Consumer) startSpan(ctx context.Context, msg kafka.Message, env eventbus.Envelope) (context.Context, trace.Span) {
	return c.tracer.Start(eventbus.ContextWithTrace(ctx, msg.Headers), msg.Topic+" process",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", msg.Topic),
			attribute.String("messaging.consumer.group.name", c.cfg.GroupID),
			attribute.Int("messaging.destination.partition.id", msg.Partition),
			attribute.Int64("messaging.kafka.offset", msg.Offset),
			attribute.String("messaging.message.id", env.ID),
			attribute.String("cloudevents.event_type", env.Type),
		))
}

// eventSpansKey keys the spans of a batch's events (by event id) in the
// context the BatchHandler is given.
type eventSpansKey struct{}

// EventContext returns ctx carrying the span of processing the event
// eventID, one of the events a BatchHandler was given: each event of a
// batch has its own span (a child of its producer's), and what a batch
// handler writes for one event — an outbox row above all (outbox.Event's
// Context) — continues that event's trace. A batch of one event already
// gets its span in ctx. ctx is returned unchanged outside a batch handler
// or for an id not in the batch.
func EventContext(ctx context.Context, eventID string) context.Context {
	spans, _ := ctx.Value(eventSpansKey{}).(map[string]trace.Span)
	if span, ok := spans[eventID]; ok {
		return trace.ContextWithSpan(ctx, span)
	}
	return ctx
}

// handlerError is a failure of the Handler, as opposed to the
// transaction around it.
type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }
func (e handlerError) Unwrap() error { return e.err }

// process applies msg in one transaction: record the event id (a conflict
// means it was applied before), run the handler, move the offset.
func (c *Consumer) process(ctx context.Context, msg kafka.Message, env eventbus.Envelope) (string, error) {
	tx, err := c.pool.BeginTx(ctx, c.cfg.TxOptions)
	if err != nil {
		return "", fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	result, err := c.record(ctx, tx, msg, env)
	if err != nil {
		return "", err
	}
	if err := c.saveOffset(ctx, tx, msg.Topic, msg.Partition, msg.Offset+1); err != nil {
		return "", err
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	return result, nil
}

// processBatch applies a partition's consecutive messages in one
// transaction, in order, as process does each, and moves the offset past
// the last; it returns each message's result. Their event ids are recorded
// and the offset moved by one round trip before any handler runs, and the
// events not applied before go to the BatchHandler at once, or else to the
// Handler one by one. Any failure (a message that cannot be decoded
// included) rolls the whole batch back.
func (c *Consumer) processBatch(ctx context.Context, batch []kafka.Message) ([]string, []eventbus.Envelope, error) {
	envs := make([]eventbus.Envelope, len(batch))
	for i, msg := range batch {
		env, err := c.decode(msg)
		if err != nil {
			return nil, nil, fmt.Errorf("offset %d: %w", msg.Offset, err)
		}
		envs[i] = env
	}
	tx, err := c.pool.BeginTx(ctx, c.cfg.TxOptions)
	if err != nil {
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	results, fresh, err := c.recordBatch(ctx, tx, batch, envs)
	if err != nil {
		return nil, nil, err
	}
	spans := make([]trace.Span, 0, len(fresh))
	endSpans := func(err error) {
		for _, span := range spans {
			if err != nil {
				span.RecordError(err)
			}
			span.End()
		}
	}
	if h := c.cfg.BatchHandler; h != nil {
		if len(fresh) > 0 {
			todo := make([]eventbus.Envelope, len(fresh))
			bctx, byID := ctx, make(map[string]trace.Span, len(fresh))
			for k, i := range fresh {
				sctx, span := c.startSpan(ctx, batch[i], envs[i])
				spans = append(spans, span)
				byID[envs[i].ID] = span
				if len(fresh) == 1 {
					bctx = sctx
				}
				todo[k] = envs[i]
			}
			err := c.handleBatch(context.WithValue(bctx, eventSpansKey{}, byID), tx, h, todo)
			endSpans(err)
			if err != nil {
				return nil, nil, fmt.Errorf("offsets %d-%d: %w", batch[0].Offset, batch[len(batch)-1].Offset, handlerError{err})
			}
		}
	} else {
		for _, i := range fresh {
			mctx, span := c.startSpan(ctx, batch[i], envs[i])
			err := c.handle(mctx, tx, envs[i])
			if err != nil {
				span.RecordError(err)
			}
			span.End()
			if err != nil {
				return nil, nil, fmt.Errorf("offset %d: %w", batch[i].Offset, handlerError{err})
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, fmt.Errorf("commit: %w", err)
	}
	return results, envs, nil
}

// recordBatch records the event ids of a partition's consecutive messages
// in tx and stores the offset past the last, pipelined in one round trip.
// It returns each message's result (ResultDuplicate for an event recorded
// before, or earlier in the batch) and the indexes of the messages whose
// events are new, in order.
func (c *Consumer) recordBatch(ctx context.Context, tx pgx.Tx, batch []kafka.Message, envs []eventbus.Envelope) ([]string, []int, error) {
	results := make([]string, len(batch))
	seen := make(map[string]bool, len(batch))
	ids := make([]string, 0, len(batch))
	offsets := make([]int64, 0, len(batch))
	at := make(map[int64]int, len(batch))
	for i, env := range envs {
		results[i] = ResultDuplicate
		if seen[env.ID] {
			continue
		}
		seen[env.ID] = true
		ids = append(ids, env.ID)
		offsets = append(offsets, batch[i].Offset)
		at[batch[i].Offset] = i
	}
	first, last := batch[0], batch[len(batch)-1]
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO processed_events (group_id, event_id, topic, partition, "offset")
		SELECT $1, e.id::uuid, $2, $3, e.off FROM unnest($4::text[], $5::bigint[]) AS e(id, off)
		ON CONFLICT DO NOTHING RETURNING "offset"`, c.cfg.GroupID, first.Topic, first.Partition, ids, offsets)
	b.Queue(saveOffsetSQL, c.cfg.GroupID, last.Topic, last.Partition, last.Offset+1)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("record events: %w", err)
	}
	fresh := make([]int, 0, len(ids))
	for rows.Next() {
		var off int64
		if err := rows.Scan(&off); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("record events: %w", err)
		}
		if i, ok := at[off]; ok {
			results[i] = ResultHandled
			fresh = append(fresh, i)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("record events: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return nil, nil, fmt.Errorf("save offset: %w", err)
	}
	if err := br.Close(); err != nil {
		return nil, nil, fmt.Errorf("record events: %w", err)
	}
	slices.Sort(fresh)
	return results, fresh, nil
}

// record records env's id in tx and, unless it was recorded before (the
// result is then ResultDuplicate), runs the handler.
func (c *Consumer) record(ctx context.Context, tx pgx.Tx, msg kafka.Message, env eventbus.Envelope) (string, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO processed_events (group_id, event_id, topic, partition, "offset")
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, c.cfg.GroupID, env.ID, msg.Topic, msg.Partition, msg.Offset)
	if err != nil {
		return "", fmt.Errorf("record event: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ResultDuplicate, nil
	}
	if err := c.handle(ctx, tx, env); err != nil {
		return "", handlerError{err}
	}
	return ResultHandled, nil
}

// handleBatch runs the batch handler as handle runs the handler.
func (c *Consumer) handleBatch(ctx context.Context, tx pgx.Tx, h BatchHandler, envs []eventbus.Envelope) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("batch handler panicked: %v", p)
		}
	}()
	return h(ctx, tx, envs)
}

// handle runs the handler, turning a panic into an error so that a
// message that crashes it is retried and dead-lettered like any other
// failure instead of crashing the service over and over.
func (c *Consumer) handle(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return c.cfg.Handler(ctx, tx, env)
}

// saveOffsetSQL stores a partition's next offset ($1 group, $2 topic, $3
// partition, $4 offset); it never moves it back (a consumer that lost the
// partition in a rebalance may still be finishing a message).
const saveOffsetSQL = `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
	VALUES ($1, $2, $3, $4)
	ON CONFLICT (group_id, topic, partition) DO UPDATE
	SET next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset), updated_at = now()`

// saveOffset stores the partition's next offset (saveOffsetSQL).
func (c *Consumer) saveOffset(ctx context.Context, tx pgx.Tx, topic string, partition int, next int64) error {
	_, err := tx.Exec(ctx, saveOffsetSQL, c.cfg.GroupID, topic, partition, next)
	if err != nil {
		return fmt.Errorf("save offset: %w", err)
	}
	return nil
}

// maxErrorHeader bounds the x-error header.
const maxErrorHeader = 4096

// deadLetter publishes msg, as it came, to its topic's dead-letter topic
// with the error and its origin in headers, then stores its offset as done
// (its event id is not recorded, so the event can be replayed onto the
// topic once the cause is fixed). Both steps are retried until they
// succeed; it returns false only when ctx ended first.
func (c *Consumer) deadLetter(ctx context.Context, msg kafka.Message, cause error, dlq *eventbus.Writer) bool {
	text := cause.Error()
	if len(text) > maxErrorHeader {
		text = text[:maxErrorHeader]
	}
	headers := make([]kafka.Header, 0, len(msg.Headers)+5)
	for _, h := range msg.Headers {
		switch h.Key {
		case HeaderError, HeaderOriginalTopic, HeaderOriginalPartition, HeaderOriginalOffset, HeaderConsumerGroup:
		default:
			headers = append(headers, h)
		}
	}
	headers = append(headers,
		kafka.Header{Key: HeaderError, Value: []byte(text)},
		kafka.Header{Key: HeaderOriginalTopic, Value: []byte(msg.Topic)},
		kafka.Header{Key: HeaderOriginalPartition, Value: []byte(strconv.Itoa(msg.Partition))},
		kafka.Header{Key: HeaderOriginalOffset, Value: []byte(strconv.FormatInt(msg.Offset, 10))},
		kafka.Header{Key: HeaderConsumerGroup, Value: []byte(c.cfg.GroupID)},
	)
	letter := kafka.Message{Topic: eventbus.DLQTopic(msg.Topic), Key: msg.Key, Value: msg.Value, Headers: headers}
	bo := c.newBackoff()
	for {
		err := dlq.WriteMessages(ctx, letter)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		c.setStalled(fmt.Errorf("dead-letter publish: %w", err))
		wait := bo.NextBackOff()
		c.log.ErrorContext(ctx, "dead-letter publish failed; retrying", "topic", letter.Topic, "error", err, "retry_in", wait.String())
		if !sleep(ctx, wait) {
			return false
		}
	}
	c.log.ErrorContext(ctx, "message dead-lettered", "topic", msg.Topic, "partition", msg.Partition,
		"offset", msg.Offset, "dlq", letter.Topic, "error", text)
	bo.Reset()
	for {
		err := pg.InTx(ctx, c.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			return c.saveOffset(ctx, tx, msg.Topic, msg.Partition, msg.Offset+1)
		})
		if err == nil {
			break
		}
		if !c.dbFailed(ctx, err, bo) {
			return false
		}
	}
	c.metrics.messages.WithLabelValues(msg.Topic, ResultDLQ).Inc()
	c.setStalled(nil)
	return true
}

// dbFailed records and logs a database error and waits the next back-off;
// it returns false when ctx ended.
func (c *Consumer) dbFailed(ctx context.Context, err error, bo *backoff.ExponentialBackOff) bool {
	if ctx.Err() != nil {
		return false
	}
	c.setStalled(err)
	wait := bo.NextBackOff()
	c.log.WarnContext(ctx, "consumer database error; retrying", "error", err, "retry_in", wait.String())
	return sleep(ctx, wait)
}

func (c *Consumer) newBackoff() *backoff.ExponentialBackOff {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = c.cfg.RetryBackoff
	bo.MaxInterval = c.cfg.MaxBackoff
	return bo
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pendingCommits are the offsets to commit to Kafka at the next tick.
type pendingCommits struct {
	mu      sync.Mutex
	offsets map[string]map[int]int64
}

func (p *pendingCommits) set(topic string, partition int, next int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.offsets[topic] == nil {
		p.offsets[topic] = map[int]int64{}
	}
	p.offsets[topic][partition] = next
}

func (p *pendingCommits) take() map[string]map[int]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.offsets
	p.offsets = map[string]map[int]int64{}
	return out
}

// commitKafka commits the offsets applied since the last commit, for lag
// monitoring; a failure is only logged (the database holds the truth).
func (c *Consumer) commitKafka(ctx context.Context, gen *kafka.Generation, commits *pendingCommits) {
	offsets := commits.take()
	if len(offsets) == 0 {
		return
	}
	if err := gen.CommitOffsets(offsets); err != nil {
		c.log.DebugContext(ctx, "committing offsets to Kafka failed", "error", err)
	}
}

func (c *Consumer) kafkaLogger() kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		c.log.Warn("kafka: " + fmt.Sprintf(msg, args...))
	})
}

func (c *Consumer) setGroupErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.groupErr = err
	if err == nil {
		c.joined = true
	}
}

func (c *Consumer) setStalled(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stallErr = err
}

// Ready reports whether the consumer is working: nil once it has joined
// its group, unless the last attempt to (re)join failed or applying
// messages is stalled (the database or the dead-letter topic failing).
func (c *Consumer) Ready(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.groupErr != nil:
		return fmt.Errorf("inbox: consumer group %s: %w", c.cfg.GroupID, c.groupErr)
	case !c.joined:
		return fmt.Errorf("inbox: consumer group %s: not joined yet", c.cfg.GroupID)
	case c.stallErr != nil:
		return fmt.Errorf("inbox: consumer group %s stalled: %w", c.cfg.GroupID, c.stallErr)
	}
	return nil
}

type metrics struct {
	messages *prometheus.CounterVec
	lag      *prometheus.GaugeVec
	duration *prometheus.HistogramVec
	delay    *prometheus.HistogramVec
	newest   *prometheus.GaugeVec

	mu     sync.Mutex
	latest map[string]time.Time // per topic, what newest shows
}

// applied counts a message with its result and, for an event applied now
// (not a duplicate), observes its delay: from the event's time, when its
// producer committed the change, to now, just after its effect committed
// here — the whole pipeline (outbox, relay, broker, this consumer) for
// this hop. newest keeps the latest such event time per topic.
func (m *metrics) applied(topic, result string, at time.Time) {
	m.messages.WithLabelValues(topic, result).Inc()
	if result != ResultHandled || at.IsZero() {
		return
	}
	m.delay.WithLabelValues(topic).Observe(max(time.Since(at).Seconds(), 0))
	m.mu.Lock()
	defer m.mu.Unlock()
	if at.After(m.latest[topic]) {
		m.latest[topic] = at
		m.newest.WithLabelValues(topic).Set(float64(at.UnixNano()) / 1e9)
	}
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		latest: make(map[string]time.Time),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "fund", Subsystem: "consumer", Name: "messages_total",
			Help: "Messages consumed, by topic and result: handled, duplicate (applied before), failed (an attempt that will be retried or dead-lettered), dlq.",
		}, []string{"topic", "result"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "fund", Subsystem: "consumer", Name: "lag",
			Help: "Messages between the last one applied and the end of the partition.",
		}, []string{"topic", "partition"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "fund", Subsystem: "consumer", Name: "handle_duration_seconds",
			Help:    "Time to apply one message, retries included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 30},
		}, []string{"topic"}),
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "fund", Subsystem: "consumer", Name: "event_delay_seconds",
			Help:    "Time from an event's time (its producer's commit) to its effect committed by this consumer; events applied, not duplicates. The pipeline freshness SLI (deploy/prometheus/rules/slo.yml).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300},
		}, []string{"topic"}),
		newest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "fund", Subsystem: "consumer", Name: "last_event_timestamp_seconds",
			Help: "The time (Unix seconds) of the newest event this consumer applied, per topic.",
		}, []string{"topic"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.messages, err = register(reg, m.messages); err != nil {
		return nil, err
	}
	if m.lag, err = register(reg, m.lag); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.delay, err = register(reg, m.delay); err != nil {
		return nil, err
	}
	if m.newest, err = register(reg, m.newest); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name (so that several consumers can share a registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("inbox: register metrics: %w", err)
}
