package inbox_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/testkit"
)

// TestDatabaseFaultsAreRetriedNotDeadLettered: a valid event whose handler
// meets a fault of the database — a statement timeout, its backend
// terminated, a full disk, a lock timeout, an I/O error, a server that
// cannot take connections — more often than MaxAttempts is applied once
// when the fault clears, and never dead-lettered. A refusal of the event
// itself (a check violation) still is.
func TestDatabaseFaultsAreRetriedNotDeadLettered(t *testing.T) {
	raise := func(code string) string {
		return `DO $$ BEGIN RAISE EXCEPTION 'injected fault' USING ERRCODE = '` + code + `'; END $$`
	}
	for _, c := range []struct {
		name   string
		fault  []string // run in the handler's transaction until the fault clears
		letter bool
	}{
		{"statement timeout", []string{`SET LOCAL statement_timeout = '20ms'`, `SELECT pg_sleep(2)`}, false},
		{"backend terminated", []string{`SELECT pg_terminate_backend(pg_backend_pid())`}, false},
		{"disk full", []string{raise("53100")}, false},
		{"lock timeout", []string{raise("55P03")}, false},
		{"I/O error", []string{raise("58030")}, false},
		{"cannot connect now", []string{raise("57P03")}, false},
		{"check violation: the event's fault", []string{raise("23514")}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pool, brokers, ctx := setup(t, 25*time.Second, topic, eventbus.DLQTopic(topic))
			env := ratioEvent(t, 1)
			var attempts atomic.Int32
			handler := func(ctx context.Context, tx pgx.Tx, env eventbus.Envelope) error {
				if attempts.Add(1) <= 4 {
					for _, sql := range c.fault {
						if _, err := tx.Exec(ctx, sql); err != nil {
							return err
						}
					}
				}
				return record(ctx, tx, env)
			}
			produce(t, ctx, brokers, message(t, ctx, "k", env))
			r := start(t, pool, brokers, "stats", handler, func(cfg *inbox.Config) { cfg.MaxAttempts = 2 })
			testkit.Eventually(t, 20*time.Second, "the message done", func() bool { return storedTotal(t, pool, "stats") == 1 })
			r.stop()

			applied := count(t, pool, `SELECT count(*) FROM effects WHERE event_id = $1`, env.ID)
			letters := counter(t, r.reg, inbox.ResultDLQ)
			switch {
			case c.letter && (applied != 0 || letters != 1):
				t.Fatalf("applied %d times, %v dead letters; want it dead-lettered", applied, letters)
			case !c.letter && (applied != 1 || letters != 0 || attempts.Load() != 5):
				t.Fatalf("applied %d times after %d attempts, %v dead letters; want applied once on the 5th, none",
					applied, attempts.Load(), letters)
			}
		})
	}
}
