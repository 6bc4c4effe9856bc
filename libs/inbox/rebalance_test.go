package inbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/testkit"
)

// The rebalance test runs several replicas of one service (consumers of
// one group, each with its own pool, as separate processes would have)
// over one stream while the group's membership changes under them, and
// checks what the inbox promises: every event applied exactly once, and
// the events of a key applied in the order they were produced.
//
// The steps: two members, a third joins, one is killed mid-transaction,
// a fourth joins, one leaves cleanly, one is killed mid-transaction, a
// fifth joins; the survivors drain the stream. In one run the second kill
// is a crash (no LeaveGroup) and the fifth member's join finds a zombie
// (see zombie), which the broker waits out.
//
// A member that gets a partition resumes at the offset stored with the
// last committed transaction, so as long as members hand partitions over
// in turn (kafka-go stops a member's work on a generation before it
// rejoins), nothing is delivered twice and the dedupe on event ids is not
// needed: the summary logs how many duplicates were skipped. It is needed
// when a partition has two owners at once (the zombie), should the old
// owner's transaction commit.

const (
	rebalanceGroup      = "ledger"
	rebalancePartitions = 6
	rebalanceKeys       = 36
	rebalanceEvents     = 2400
	// The stream is released to the producer a step's share at a time
	// (what the steps leave is drained at the end), and written
	// rebalanceChunk messages at a time.
	rebalanceStep  = rebalanceEvents / 10
	rebalanceChunk = 10
)

var rebalanceMigrations = fstest.MapFS{
	"00001_inbox.sql": {Data: []byte(inbox.Migration)},
	// One row per application of an event: no unique key on event_id, so
	// an event applied twice shows as two rows; n, drawn when the row is
	// written, gives the order of application (a later transaction on the
	// same key can only start after the earlier one committed, so its n
	// is larger).
	"00002_applied.sql": {Data: []byte(`-- +goose Up
CREATE TABLE applied (
	n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id uuid NOT NULL,
	key text NOT NULL,
	seq int NOT NULL,
	member text NOT NULL
);
-- +goose Down
DROP TABLE applied;
`)},
}

// rebalanceEvent is the data of the test's events: the seq-th event (from
// 0, without gaps) of key.
type rebalanceEvent struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
}

// rebalanceMember is one replica: a consumer of the group with its own
// pool, and a trap that holds one of its transactions open until it is
// killed.
type rebalanceMember struct {
	name string
	pool *pgxpool.Pool
	reg  *prometheus.Registry
	stop func()

	// armed makes the next event it applies block inside its transaction,
	// after writing its effect, until the handler's context ends; trapped
	// then gets the event's id.
	armed   atomic.Bool
	trapped chan string
	// killing is set just before the member is killed, so that the trap can
	// tell a kill from a rebalance ending its transaction.
	killing       atomic.Bool
	releasedEarly atomic.Bool
	// stubborn makes the trap ignore the handler's context and hold the
	// transaction open until unstuck is closed, as a handler blocked in a
	// call that takes no context would; the member then outlives its
	// partitions (a zombie).
	stubborn atomic.Bool
	unstuck  chan struct{}
}

// apply writes env's effect in tx (the inbox's transaction); see armed.
func (m *rebalanceMember) apply(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
	var ev rebalanceEvent
	if err := json.Unmarshal(env.Data, &ev); err != nil {
		return inbox.Permanent(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO applied (event_id, key, seq, member) VALUES ($1, $2, $3, $4)`,
		env.ID, ev.Key, ev.Seq, m.name); err != nil {
		return err
	}
	if m.armed.CompareAndSwap(true, false) {
		m.trapped <- env.ID
		if m.stubborn.Load() {
			<-m.unstuck
			return nil
		}
		<-ctx.Done()
		if !m.killing.Load() {
			m.releasedEarly.Store(true)
		}
		return ctx.Err()
	}
	return nil
}

func (m *rebalanceMember) applyBatch(ctx context.Context, tx pgx.Tx, envs []eventbus.Envelope) error {
	for _, env := range envs {
		if err := m.apply(ctx, tx, env); err != nil {
			return err
		}
	}
	return nil
}

// rebalanceRun is one run of the scenario: a broker, a database, the
// stream and the members.
type rebalanceRun struct {
	t       *testing.T
	ctx     context.Context
	cluster *kfake.Cluster
	brokers []string
	pool    *pgxpool.Pool
	dbURL   string
	tune    func(*inbox.Config, *rebalanceMember)
	logs    *testkit.SyncBuffer
	members []*rebalanceMember
	// trapped maps the event each kill caught mid-transaction to the
	// member killed.
	trapped map[string]string
	// zombieEvent is the event a zombie held open.
	zombieEvent string
	// released is how much of the stream the producer may write.
	released atomic.Int64
}

// consumed is how many messages the group has finished with: the sum of
// its partitions' next offsets.
func (r *rebalanceRun) consumed() int {
	return storedTotal(r.t, r.pool, rebalanceGroup)
}

// waitConsumed waits until the group has finished with n messages.
func (r *rebalanceRun) waitConsumed(n int) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.consumed() < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %d messages consumed\n%s", n, r.state())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitMembers waits until the broker sees the group stable with n members
// (a rebalance done), so that each step starts from a settled group.
func (r *rebalanceRun) waitMembers(n int) {
	r.t.Helper()
	r.waitMembersAfter(n, -1)
}

// waitMembersAfter is waitMembers for a generation after gen.
func (r *rebalanceRun) waitMembersAfter(n int, gen int32) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 40*time.Second)
	defer cancel()
	if g, err := r.cluster.WaitGroupInfo(ctx, rebalanceGroup, func(g *kfake.GroupInfo) bool {
		return g != nil && g.State == "Stable" && len(g.Members) == n && g.Epoch > gen
	}); err != nil {
		members := -1
		if g != nil {
			members = len(g.Members)
		}
		r.t.Fatalf("waiting for the group to be stable with %d members (it has %d): %v\n%s", n, members, err, r.state())
	}
}

// state describes where the stream and the group are, for a failure
// message: each partition's end (kfake) and next offset (database), and
// the members' assignments.
func (r *rebalanceRun) state() string {
	var b strings.Builder
	stored := map[int]int64{}
	rows, err := r.pool.Query(context.Background(), `SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1`, rebalanceGroup)
	if err == nil {
		for rows.Next() {
			var p int
			var next int64
			if rows.Scan(&p, &next) == nil {
				stored[p] = next
			}
		}
		rows.Close()
	}
	for _, p := range r.cluster.PartitionInfos(topic) {
		fmt.Fprintf(&b, "partition %d: end %d, stored %d\n", p.Partition, p.HighWatermark, stored[int(p.Partition)])
	}
	if g := r.cluster.GroupInfo(rebalanceGroup); g != nil {
		fmt.Fprintf(&b, "group %s, generation %d\n", g.State, g.Epoch)
		for _, m := range g.Members {
			fmt.Fprintf(&b, "  %s: %v\n", m.MemberID, m.Assignment)
		}
	}
	return b.String()
}

// join starts a member.
func (r *rebalanceRun) join(name string) *rebalanceMember {
	r.t.Helper()
	pool, err := pg.Connect(r.ctx, r.dbURL)
	if err != nil {
		r.t.Fatal(err)
	}
	// Registered before the consumer's stop, so run after it (if the test
	// ends before the member is stopped).
	r.t.Cleanup(pool.Close)
	m := &rebalanceMember{name: name, pool: pool, reg: prometheus.NewRegistry(), trapped: make(chan string, 1)}
	cfg := inbox.Config{
		Brokers: r.brokers, GroupID: rebalanceGroup, Topics: []string{topic}, Handler: m.apply,
		RetryBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(r.logs, nil)).With("member", name),
	}
	if r.tune != nil {
		r.tune(&cfg, m)
	}
	c, err := inbox.NewConsumer(pool, cfg, m.reg)
	if err != nil {
		r.t.Fatal(err)
	}
	stop := testkit.Background(r.t, "member "+name, 15*time.Second, c.Run)
	m.stop = func() { stop(); pool.Close() }
	r.members = append(r.members, m)
	return m
}

// kill stops m while one of its transactions is open: its next event's
// handler writes the effect and blocks; then m's context is cancelled, as
// when its process is killed, and the transaction must be rolled back.
// With crash, m also does not leave the group (its LeaveGroup request is
// dropped, as a killed process sends none): the broker keeps its
// partitions assigned to it until its session times out. release is the
// share of the stream let through once the trap is set.
func (r *rebalanceRun) kill(m *rebalanceMember, crash bool, release int) {
	r.t.Helper()
	m.armed.Store(true)
	r.release(release)
	id := r.trappedEvent(m)
	dropped := make(chan struct{})
	if crash {
		r.cluster.ControlKey(kmsg.LeaveGroup.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
			close(dropped) // handled once, then the control is dropped
			return nil, errors.New("a killed process sends no LeaveGroup"), true
		})
	}
	m.killing.Store(true)
	m.stop()
	if crash {
		select {
		case <-dropped:
		case <-time.After(10 * time.Second):
			r.t.Fatalf("member %s sent no LeaveGroup to drop", m.name)
		}
	}
	if m.releasedEarly.Load() {
		r.t.Fatalf("member %s's trapped transaction ended before the kill", m.name)
	}
	r.trapped[id] = m.name
}

// zombie makes m outlive its partitions: one of its transactions is held
// open (its effect and event id written) by a handler that ignores its
// context while newcomer joins. m cannot rejoin before its work on the
// generation is done, so the broker waits out the rebalance timeout
// (10 s) and hands m's partitions to the others while m's transaction is
// still open: for a while the partition has two owners. The new owner
// resumes at the offset m has not yet moved, meets m's uncommitted event
// id and must wait for it; then m's handler returns, and its transaction
// must not commit (its generation is over), so that the new owner applies
// the event. m rejoins the group afterwards. (Were m's transaction to
// commit after all, the new owner would find the event recorded and skip
// it: either way it is applied once, so the test does not say which.)
// settled is how many members the group has while m is out of it.
func (r *rebalanceRun) zombie(m *rebalanceMember, newcomer string, release, settled int) *rebalanceMember {
	r.t.Helper()
	m.unstuck = make(chan struct{})
	m.stubborn.Store(true)
	m.armed.Store(true)
	r.release(release)
	id := r.trappedEvent(m)
	gen := r.cluster.GroupInfo(rebalanceGroup).Epoch
	n := r.join(newcomer)
	// The group settles without m.
	r.waitMembersAfter(settled, gen)
	// The new owner of the partition waits behind m's uncommitted row.
	testkit.Poll(r.t, 30*time.Second, 50*time.Millisecond, "a consumer waiting for the zombie's lock", func() bool {
		return count(r.t, r.pool, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0
	})
	gen = r.cluster.GroupInfo(rebalanceGroup).Epoch
	close(m.unstuck)
	r.waitMembersAfter(settled+1, gen)
	r.zombieEvent = id
	return n
}

// produce writes the stream (events on rebalanceKeys keys, each key's
// events numbered from 0) in the background, as far as release allows,
// and returns the events by id. It writes a small chunk at a time with a
// pause between, so that a released part of the stream is still being
// written while the membership change of its step goes on (the pace
// matters to how much the steps overlap, not to what the test checks).
func (r *rebalanceRun) produce(done chan<- error) map[string]rebalanceEvent {
	keys := make([]string, rebalanceKeys)
	for k := range keys {
		keys[k] = fmt.Sprintf("acct-%02d", k)
	}
	// A fixed seed: the same uneven mix of keys every run.
	rng := rand.New(rand.NewPCG(1, 2))
	next := map[string]int{}
	events := make(map[string]rebalanceEvent, rebalanceEvents)
	var msgs []kafka.Message
	for range rebalanceEvents {
		key := keys[rng.IntN(len(keys))]
		ev := rebalanceEvent{Key: key, Seq: next[key]}
		next[key]++
		env, err := eventbus.NewEnvelope("test", eventbus.TypePortfolioUpdated, "ledger/"+key, ev)
		if err != nil {
			r.t.Fatal(err)
		}
		events[env.ID] = ev
		msgs = append(msgs, message(r.t, r.ctx, key, env))
	}
	go func() {
		w := eventbus.NewWriter(r.brokers, topic)
		defer w.Close()
		for i := 0; i < len(msgs); {
			n := min(int(r.released.Load()), i+rebalanceChunk) - i
			if n <= 0 {
				if err := r.ctx.Err(); err != nil {
					done <- err
					return
				}
				time.Sleep(5 * time.Millisecond)
				continue
			}
			// One synchronous write at a time: a key's events reach its
			// partition in the order they were numbered.
			if err := w.WriteMessages(r.ctx, msgs[i:i+n]...); err != nil {
				done <- err
				return
			}
			i += n
			time.Sleep(10 * time.Millisecond)
		}
		done <- nil
	}()
	return events
}

// trappedEvent is the id of the event m's armed handler holds.
func (r *rebalanceRun) trappedEvent(m *rebalanceMember) string {
	r.t.Helper()
	select {
	case id := <-m.trapped:
		return id
	case <-time.After(30 * time.Second):
		r.t.Fatalf("member %s applied no event to trap\n%s", m.name, r.state())
		return ""
	}
}

// release lets the producer write n more messages.
func (r *rebalanceRun) release(n int) int {
	return int(r.released.Add(int64(n)))
}

// TestRebalanceAppliesEachEventOnceInKeyOrder: replicas join, leave and
// are killed mid-transaction while the stream is produced; in the end each
// event has been applied exactly once and each key's events in order, on
// the one-by-one path and on both batch paths.
func TestRebalanceAppliesEachEventOnceInKeyOrder(t *testing.T) {
	for _, c := range []struct {
		name string
		tune func(*inbox.Config, *rebalanceMember)
		// waits: the faults the broker must wait out (a crash and a
		// zombie, at once), at the cost of 10 s, in one run only.
		waits bool
	}{
		{"one by one", nil, true},
		{"batches", func(cfg *inbox.Config, _ *rebalanceMember) { cfg.BatchSize = 20 }, false},
		{"batch handler", func(cfg *inbox.Config, m *rebalanceMember) {
			cfg.BatchSize = 20
			cfg.BatchHandler = m.applyBatch
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Most of a run is waiting for rebalances, so runs overlap
			// well (as far as -parallel lets them).
			t.Parallel()
			rebalanceScenario(t, c.tune, c.waits)
		})
	}
}

func rebalanceScenario(t *testing.T, tune func(*inbox.Config, *rebalanceMember), waits bool) {
	began := time.Now()
	pool, dbURL := pgtest.NewWithURL(t, rebalanceMigrations)
	cluster := kafkatest.StartCluster(t)
	for topic, partitions := range map[string]int32{topic: rebalancePartitions, eventbus.DLQTopic(topic): 1} {
		if err := cluster.CreateTopic(topic, partitions, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r := &rebalanceRun{
		t: t, ctx: ctx, cluster: cluster, brokers: cluster.ListenAddrs(), pool: pool, dbURL: dbURL,
		tune: tune, logs: &testkit.SyncBuffer{}, trapped: map[string]string{},
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs := r.logs.String()
			if len(logs) > 20000 {
				logs = "…" + logs[len(logs)-20000:]
			}
			t.Logf("consumer logs:\n%s", logs)
		}
	})

	produced := make(chan error, 1)
	events := r.produce(produced)

	// Each step lets a share of the stream be produced while it changes
	// the group, then waits for the group to settle and to apply that
	// share, so that the next step starts from a known group.
	// Two replicas, then a third joins.
	a, b := r.join("a"), r.join("b")
	r.waitConsumed(r.release(rebalanceStep))
	r.waitMembers(2)
	r.release(rebalanceStep)
	c := r.join("c")
	r.waitMembers(3)
	r.waitConsumed(int(r.released.Load()))
	// b is killed mid-transaction; a and c take over its partitions.
	r.kill(b, false, rebalanceStep)
	r.waitMembers(2)
	r.waitConsumed(int(r.released.Load()))
	r.release(rebalanceStep)
	d := r.join("d")
	r.waitMembers(3)
	r.waitConsumed(int(r.released.Load()))
	// a leaves cleanly.
	r.release(rebalanceStep)
	a.stop()
	r.waitMembers(2)
	r.waitConsumed(int(r.released.Load()))
	var e *rebalanceMember
	if !waits {
		// c is killed mid-transaction; d takes over, then e joins.
		r.kill(c, false, rebalanceStep)
		r.waitMembers(1)
		r.waitConsumed(int(r.released.Load()))
		r.release(rebalanceStep)
		e = r.join("e")
		r.waitMembers(2)
	} else {
		// c crashes mid-transaction: with no LeaveGroup, the broker keeps
		// c's partitions assigned to it until its session ends. Meanwhile
		// d turns zombie as e joins: the broker waits out both at once and
		// settles with e alone, before d comes back.
		r.kill(c, true, rebalanceStep)
		if g := cluster.GroupInfo(rebalanceGroup); g == nil || len(g.Members) != 2 {
			t.Fatalf("after the crash the group has %v, want the dead member still in it", g)
		}
		e = r.zombie(d, "e", rebalanceStep, 1)
	}
	r.release(rebalanceEvents)

	// The survivors drain the stream.
	select {
	case err := <-produced:
		if err != nil {
			t.Fatalf("producing: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the stream was not all produced")
	}
	r.waitConsumed(rebalanceEvents)
	d.stop()
	e.stop()

	// Every event applied exactly once, each key's in order.
	rows, err := pool.Query(ctx, `SELECT event_id::text, key, seq, member FROM applied ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	type application struct {
		id, key, member string
		seq             int
	}
	apps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (application, error) {
		var a application
		return a, row.Scan(&a.id, &a.key, &a.seq, &a.member)
	})
	if err != nil {
		t.Fatal(err)
	}
	times := map[string]int{}
	nextSeq := map[string]int{}
	byMember := map[string]int{}
	doubles, disorders, missing := 0, 0, 0
	// Each kind of fault is shown a few times, then counted.
	show := func(n *int, format string, args ...any) {
		if *n++; *n <= 5 {
			t.Errorf(format, args...)
		}
	}
	for _, a := range apps {
		times[a.id]++
		byMember[a.member]++
		ev, ok := events[a.id]
		switch {
		case !ok:
			t.Fatalf("applied an event that was not produced: %+v", a)
		case ev.Key != a.key || ev.Seq != a.seq:
			t.Fatalf("event %s applied as %s #%d, produced as %s #%d", a.id, a.key, a.seq, ev.Key, ev.Seq)
		case times[a.id] > 1:
			show(&doubles, "event %s (%s #%d) applied %d times, the last by %s", a.id, a.key, a.seq, times[a.id], a.member)
		case a.seq != nextSeq[a.key]:
			show(&disorders, "key %s: #%d applied (by %s) when #%d was due", a.key, a.seq, a.member, nextSeq[a.key])
		}
		nextSeq[a.key] = a.seq + 1
	}
	for id, ev := range events {
		if times[id] == 0 {
			show(&missing, "event %s (%s #%d) never applied", id, ev.Key, ev.Seq)
		}
	}
	if doubles+disorders+missing > 0 || len(apps) != rebalanceEvents {
		t.Fatalf("%d applications of %d events: %d applied again, %d out of key order, %d never applied",
			len(apps), rebalanceEvents, doubles, disorders, missing)
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE group_id = $1`, rebalanceGroup); n != rebalanceEvents {
		t.Fatalf("processed_events has %d rows, want %d", n, rebalanceEvents)
	}

	// The scenario did what it says: each kill caught an event inside its
	// transaction, which another member applied later, and every member
	// applied events.
	if len(r.trapped) != 2 || waits != (r.zombieEvent != "") {
		t.Fatalf("%d kills caught an event mid-transaction, want 2; zombie's event %q", len(r.trapped), r.zombieEvent)
	}
	for _, a := range apps {
		if killed, ok := r.trapped[a.id]; ok && a.member == killed {
			t.Fatalf("event %s was applied by %s, killed while applying it", a.id, killed)
		}
	}
	var duplicates, letters float64
	for _, m := range r.members {
		if byMember[m.name] == 0 {
			t.Errorf("member %s applied nothing", m.name)
		}
		duplicates += counter(t, m.reg, inbox.ResultDuplicate)
		letters += counter(t, m.reg, inbox.ResultDLQ)
	}
	if letters != 0 {
		t.Fatalf("%v messages dead-lettered", letters)
	}
	for _, a := range apps {
		if a.id == r.zombieEvent {
			t.Logf("the event the zombie held open was applied by %s", a.member)
		}
	}
	t.Logf("%d events on %d keys applied once each in key order by %v; %v duplicates skipped; took %s",
		rebalanceEvents, len(nextSeq), byMember, duplicates, time.Since(began).Round(100*time.Millisecond))
}
