package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
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
)

// Config tunes a Relay; zero values take the defaults.
type Config struct {
	// Brokers are the Kafka bootstrap addresses ("host:port"). Required.
	Brokers []string
	// BatchSize is the most rows published by one Kafka write (default
	// 500); each partition's share of them goes out in one produce request.
	BatchSize int
	// PollInterval is how long the relay sleeps when the outbox is empty
	// (default 100 ms). A committed insert wakes it at once (the relay
	// LISTENs on Channel, which Add, Queue and AddAll notify), so this is
	// the fallback: the most a committed event waits to be picked up while
	// the notification connection is down. While events keep coming (the
	// last poll found some), it polls again after BusyPollInterval instead.
	PollInterval time.Duration
	// BusyPollInterval is the sleep after a poll that published less than
	// a full batch (default 10 ms, at most PollInterval).
	BusyPollInterval time.Duration
	// MaxBackoff caps the exponential back-off after a failed attempt
	// (default 10 s; the first retry comes after about 100 ms).
	MaxBackoff time.Duration
	// Retention is how long published rows are kept before they are
	// deleted (default 72 h; negative keeps them for ever).
	Retention time.Duration
	// Logger receives publish failures (default slog.Default()).
	Logger *slog.Logger
}

// relayLockKey is the advisory lock that makes one relay at a time publish
// from a database (several replicas of a service may run a relay).
const relayLockKey int64 = 0x6f7574626f78 // "outbox"

// metricsInterval is how often the backlog gauges are refreshed.
const metricsInterval = time.Second

// Relay publishes the outbox's pending rows to Kafka. Run it for the life
// of the service's process.
type Relay struct {
	pool   *pgxpool.Pool
	writer *kafka.Writer
	cfg    Config
	log    *slog.Logger
	tracer trace.Tracer

	backlog, oldestAge         prometheus.Gauge
	published, errors          prometheus.Counter
	blockedGauge, blockedRowID prometheus.Gauge
	stuck                      *stuckRow // the head row that keeps failing (Run's goroutine only)

	mu           sync.Mutex
	lastErr      error
	lastOK       time.Time
	lastMetrics  time.Time
	lastCleanup  time.Time
	afterPublish func([]kafka.Message) error // test hook: runs after a batch is written, before it is marked
}

// NewRelay returns a relay publishing pool's outbox to cfg.Brokers, with
// its metrics registered in reg:
//
//	fund_outbox_backlog                        unpublished rows
//	fund_outbox_oldest_unpublished_age_seconds age of the oldest of them
//	fund_outbox_published_total                events published
//	fund_outbox_publish_errors_total           failed publish attempts
//	fund_outbox_blocked                        1 while a row that cannot be published blocks the relay
//	fund_outbox_blocked_row_id                 that row's id (0 when not blocked)
func NewRelay(pool *pgxpool.Pool, cfg Config, reg prometheus.Registerer) (*Relay, error) {
	if pool == nil || len(cfg.Brokers) == 0 {
		return nil, errors.New("outbox: a relay needs a pool and brokers")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.BusyPollInterval <= 0 {
		cfg.BusyPollInterval = 10 * time.Millisecond
	}
	cfg.BusyPollInterval = min(cfg.BusyPollInterval, cfg.PollInterval)
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.Retention == 0 {
		cfg.Retention = 72 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Relay{
		pool:         pool,
		writer:       newWriter(cfg),
		cfg:          cfg,
		log:          cfg.Logger.With("component", "outbox-relay"),
		tracer:       otel.Tracer("github.com/fundplatform/platform/libs/outbox"),
		backlog:      gauge("backlog", "Outbox rows not yet published to Kafka."),
		oldestAge:    gauge("oldest_unpublished_age_seconds", "Age of the oldest outbox row not yet published (0 when none)."),
		published:    counter("published_total", "Outbox events published to Kafka (a re-publish after a crash counts again)."),
		errors:       counter("publish_errors_total", "Failed attempts to publish a batch of outbox events (each is retried)."),
		blockedGauge: gauge("blocked", "1 while the relay is blocked by an outbox row the broker refuses for good (later events wait), else 0."),
		blockedRowID: gauge("blocked_row_id", "The id of the outbox row that blocks the relay (0 when not blocked)."),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{r.backlog, r.oldestAge, r.published, r.errors, r.blockedGauge, r.blockedRowID} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("outbox: register metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Run publishes until ctx ends, then closes the Kafka writer and returns
// nil; call it once. Failed attempts (broker or database errors) are retried with
// exponential back-off; nothing is skipped. A row the broker refuses for
// good blocks the rows after it: Run reports it (see track) and keeps
// retrying it until the cause is fixed or an operator skips it (Skip).
func (r *Relay) Run(ctx context.Context) error {
	defer r.writer.Close()
	wake := make(chan struct{}, 1)
	lctx, stopListening := context.WithCancel(ctx)
	listening := make(chan struct{})
	go func() { defer close(listening); r.listen(lctx, wake) }()
	defer func() { stopListening(); <-listening }()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.MaxInterval = r.cfg.MaxBackoff
	for {
		a := r.publishBatch(ctx)
		n, err := a.published, a.err
		if ctx.Err() != nil {
			return nil
		}
		r.setResult(err, n > 0)
		reported := r.track(ctx, a)
		wait := r.cfg.PollInterval
		switch {
		case err != nil:
			r.errors.Inc()
			wait = bo.NextBackOff()
			if !reported { // the blocking row's failures are logged by track, not on every attempt
				r.log.WarnContext(ctx, "outbox publish failed; retrying", "error", err, "retry_in", wait.String())
			}
		case n == r.cfg.BatchSize:
			wait = 0 // more may be waiting
			bo.Reset()
		case n > 0:
			wait = r.cfg.BusyPollInterval // events are coming in
			bo.Reset()
		default:
			bo.Reset()
		}
		r.housekeeping(ctx, n > 0 && n < r.cfg.BatchSize)
		if wait > 0 {
			woken := wake
			if err != nil {
				woken = nil // after a failure the back-off holds
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			case <-woken:
				t.Stop()
			}
		}
	}
}

// listen LISTENs on Channel on a connection of its own and signals wake
// at each notification (and once each time it starts listening, for what
// was committed before), until ctx ends; when the connection fails it
// tries again after a second, and the relay polls meanwhile.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	signal := func() {
		select {
		case wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	for {
		err := r.listenOnce(ctx, signal)
		if ctx.Err() != nil {
			return
		}
		r.log.WarnContext(ctx, "outbox: listening for new events failed; polling until it is back", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context, signal func()) error {
	conn, err := pgx.ConnectConfig(ctx, r.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	signal()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		signal()
	}
}

type row struct {
	id        int64
	eventID   string
	topic     string
	key       string
	typ       string
	payload   []byte
	trace     map[string]string
	createdAt time.Time
}

// selectRows is the select list of a row (scanned by scanRow), for the
// relay and the operator's commands (admin.go) alike.
const selectRows = `SELECT id, event_id::text, topic, key, type, payload::text, headers, created_at FROM outbox`

func scanRow(cr pgx.CollectableRow) (row, error) {
	var x row
	var payload string
	err := cr.Scan(&x.id, &x.eventID, &x.topic, &x.key, &x.typ, &payload, &x.trace, &x.createdAt)
	x.payload = []byte(payload)
	return x, err
}

// attempt is the outcome of one publishBatch.
type attempt struct {
	// ran is set when this relay held the lock and read the outbox.
	ran bool
	// head is the id of the oldest pending row (0 when there is none).
	head int64
	// published is how many rows were published; headPublished says
	// whether the oldest was.
	published     int
	headPublished bool
	// failed is the row whose own write failed with err (nil when the
	// failure is not known to be that of one row).
	failed *row
	err    error
}

// publishBatch publishes up to BatchSize pending rows, in id order, and
// marks the ones it published, in one transaction.
func (r *Relay) publishBatch(ctx context.Context) (a attempt) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		a.err = fmt.Errorf("begin: %w", err)
		return a
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	var mine bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, relayLockKey).Scan(&mine); err != nil {
		a.err = fmt.Errorf("lock: %w", err)
		return a
	}
	if !mine {
		return a // another replica's relay (or an operator's Skip) holds it
	}
	rows, err := tx.Query(ctx, selectRows+` WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, r.cfg.BatchSize)
	if err != nil {
		a.err = fmt.Errorf("select pending: %w", err)
		return a
	}
	batch, err := pgx.CollectRows(rows, scanRow)
	if err != nil {
		a.err = fmt.Errorf("select pending: %w", err)
		return a
	}
	a.ran = true
	if len(batch) == 0 {
		return a
	}
	a.head = batch[0].id

	msgs := make([]kafka.Message, len(batch))
	for i, x := range batch {
		msgs[i] = message(x)
	}
	spans := r.startPublishSpans(ctx, batch, msgs)
	written, failed, werr := r.write(ctx, batch, msgs)
	endPublishSpans(spans, written, werr)
	var ids []int64
	var out []kafka.Message
	for i, ok := range written {
		if ok {
			ids, out = append(ids, batch[i].id), append(out, msgs[i])
		}
	}
	if werr != nil {
		a.failed, a.err = failed, fmt.Errorf("outbox: write %d message(s): %w", len(msgs)-len(ids), werr)
	}
	if len(ids) == 0 {
		return a
	}
	if hook := r.afterPublish; hook != nil {
		if err := hook(out); err != nil {
			a.failed, a.err = nil, err
			return a
		}
	}
	// What was written is out: mark it even if ctx has just ended (a
	// graceful stop) or another row failed, so that it is not published
	// twice without need.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := tx.Exec(mctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, ids); err != nil {
		return attempt{ran: true, head: a.head, err: fmt.Errorf("mark published: %w", err)}
	}
	if err := tx.Commit(mctx); err != nil {
		return attempt{ran: true, head: a.head, err: fmt.Errorf("mark published: %w", err)}
	}
	r.published.Add(float64(len(ids)))
	a.published, a.headPublished = len(ids), written[0]
	return a
}

// write writes msgs (those of batch) and reports which of them are
// written. The batch goes in one write; when that fails for a reason that
// may be a row's own (see classify), the rows not written yet are written
// one at a time, in id order, up to the first that fails — so that the rows
// before a row the broker refuses are published and that row is known (in
// a batch, the messages of a partition share one error). While the oldest
// row is one that keeps failing, it is tried alone first. A failed batch
// may have written the messages of other partitions (kafka.WriteErrors
// says which): they are reported written, so as not to publish them twice.
func (r *Relay) write(ctx context.Context, batch []row, msgs []kafka.Message) (written []bool, failed *row, err error) {
	written = make([]bool, len(msgs))
	start := 0
	if r.stuck != nil && r.stuck.row.id == batch[0].id {
		if err := r.writer.WriteMessages(ctx, msgs[0]); err != nil {
			return written, &batch[0], err
		}
		written[0], start = true, 1
	}
	if len(msgs)-start > 1 {
		err := r.writer.WriteMessages(ctx, msgs[start:]...)
		if err == nil {
			for i := range written {
				written[i] = true
			}
			return written, nil, nil
		}
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(msgs)-start {
			for i, e := range werrs {
				written[start+i] = e == nil
			}
		}
		if classify(err) == transient || ctx.Err() != nil {
			return written, nil, err
		}
	}
	for i := start; i < len(msgs); i++ {
		if written[i] {
			continue
		}
		if err := r.writer.WriteMessages(ctx, msgs[i]); err != nil {
			return written, &batch[i], err
		}
		written[i] = true
	}
	return written, nil, nil
}

// newWriter is the relay's Kafka writer, set up as eventbus.NewWriter
// (all in-sync replicas acknowledge, the key picks the partition, no topic
// auto-creation, a few quick attempts under the relay's own retries) but
// sized for the relay's synchronous writes of whole batches: a
// partition's share of a batch is one produce request, and the writer
// waits only a millisecond for more messages before sending it (the whole
// batch is handed over at once, so there is never more to wait for).
func newWriter(cfg Config) *kafka.Writer {
	w := eventbus.KafkaWriter(cfg.Brokers, "")
	w.BatchSize, w.BatchTimeout = cfg.BatchSize, time.Millisecond
	return w
}

// message is the Kafka message of an outbox row: its key, the envelope as
// written, and the headers content-type, event-type and the trace context
// captured by Add.
func message(x row) kafka.Message {
	headers := []kafka.Header{
		{Key: eventbus.HeaderContentType, Value: []byte(eventbus.ContentTypeJSON)},
		{Key: eventbus.HeaderEventType, Value: []byte(x.typ)},
	}
	names := make([]string, 0, len(x.trace))
	for k := range x.trace {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		headers = append(headers, kafka.Header{Key: k, Value: []byte(x.trace[k])})
	}
	return kafka.Message{Topic: x.topic, Key: []byte(x.key), Value: x.payload, Headers: headers}
}

// startPublishSpans starts the span of publishing each row that kept a
// trace context ("<topic> publish", a producer span): a child of the span
// that added the row (the request's or the consumed event's, restored from
// the row), and the parent of the consumers' spans, as its context
// replaces the row's in the message's headers. Rows without a trace
// context get none (nil).
func (r *Relay) startPublishSpans(ctx context.Context, batch []row, msgs []kafka.Message) []trace.Span {
	spans := make([]trace.Span, len(batch))
	for i, x := range batch {
		parent := eventbus.ContextWithTrace(ctx, msgs[i].Headers)
		if !trace.SpanContextFromContext(parent).IsValid() {
			continue
		}
		sctx, span := r.tracer.Start(parent, x.topic+" publish",
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(
				attribute.String("messaging.system", "kafka"),
				attribute.String("messaging.operation.type", "send"),
				attribute.String("messaging.destination.name", x.topic),
				attribute.String("messaging.kafka.message.key", x.key),
				attribute.String("messaging.message.id", x.eventID),
				attribute.String("cloudevents.event_type", x.typ),
				attribute.Int64("outbox.row_id", x.id),
			))
		msgs[i].Headers = eventbus.InjectTrace(sctx, msgs[i].Headers)
		spans[i] = span
	}
	return spans
}

// endPublishSpans ends the publish spans, those of the rows not written
// with err.
func endPublishSpans(spans []trace.Span, written []bool, err error) {
	for i, span := range spans {
		if span == nil {
			continue
		}
		if !written[i] {
			if err == nil {
				err = errors.New("not written")
			}
			span.RecordError(err)
			span.SetStatus(codes.Error, "not published")
		}
		span.End()
	}
}

// housekeeping refreshes the backlog gauges (at most once a second, or
// when a batch has just drained the outbox, at most every PollInterval)
// and deletes published rows past the retention (at most once a minute).
func (r *Relay) housekeeping(ctx context.Context, drained bool) {
	now := time.Now()
	if since := now.Sub(r.lastMetrics); since >= metricsInterval || (drained && since >= r.cfg.PollInterval) {
		r.lastMetrics = now
		var n int64
		var age float64
		err := r.pool.QueryRow(ctx, `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
			FROM outbox WHERE published_at IS NULL`).Scan(&n, &age)
		if err == nil {
			r.backlog.Set(float64(n))
			r.oldestAge.Set(max(age, 0))
		} else if ctx.Err() == nil {
			r.log.WarnContext(ctx, "outbox backlog query failed", "error", err)
		}
	}
	if r.cfg.Retention > 0 && now.Sub(r.lastCleanup) >= time.Minute {
		r.lastCleanup = now
		_, err := r.pool.Exec(ctx, `DELETE FROM outbox WHERE id IN (
			SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1) LIMIT 10000)`,
			r.cfg.Retention.Seconds())
		if err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "outbox retention cleanup failed", "error", err)
		}
	}
}

// setResult records an attempt's outcome for Ready; published says
// whether it wrote to Kafka (an empty outbox proves nothing about Kafka).
func (r *Relay) setResult(err error, published bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastErr = err
	if err == nil && published {
		r.lastOK = time.Now()
	}
}

// Ready reports whether the relay can publish: the last attempt's error
// when it failed; nil when it published within the last 30 s; otherwise
// (idle, or not started yet) whether a broker answers.
func (r *Relay) Ready(ctx context.Context) error {
	r.mu.Lock()
	lastErr, lastOK := r.lastErr, r.lastOK
	r.mu.Unlock()
	if lastErr != nil {
		return fmt.Errorf("outbox: last publish failed: %w", lastErr)
	}
	if !lastOK.IsZero() && time.Since(lastOK) < 30*time.Second {
		return nil
	}
	return brokerAnswers(ctx, r.cfg.Brokers)
}

// brokerAnswers dials the brokers in turn until one answers a metadata
// request.
func brokerAnswers(ctx context.Context, brokers []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var err error
	for _, b := range brokers {
		var conn *kafka.Conn
		conn, err = kafka.DialContext(ctx, "tcp", b)
		if err == nil {
			deadline, _ := ctx.Deadline()
			_ = conn.SetDeadline(deadline)
			_, err = conn.Brokers()
			_ = conn.Close()
			if err == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("outbox: no Kafka broker answers: %w", err)
}

// gauge and counter are the relay's metrics, fund_outbox_<name>.
func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "fund", Subsystem: "outbox", Name: name, Help: help})
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fund", Subsystem: "outbox", Name: name, Help: help})
}
