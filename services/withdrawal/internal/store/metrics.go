package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// Gauges are the withdrawal service's business metrics, read from its
// database when Prometheus scrapes (pg.Gauges;
// docs/operations.md#business-metrics). Every currency the ledger holds has
// a series for every status, zero or not.
func Gauges() []pg.Gauge {
	byStatus := func(value string) string {
		return `SELECT s.status, c.currency, ` + value + `
			FROM (SELECT DISTINCT currency FROM accounts) c
			CROSS JOIN (VALUES ('pending'), ('completed'), ('failed')) s(status)
			LEFT JOIN withdrawals w ON w.currency = c.currency AND w.status = s.status
			GROUP BY 1, 2`
	}
	perCurrency := func(value string) string {
		return `SELECT c.currency, ` + value + `
			FROM (SELECT DISTINCT currency FROM accounts) c
			LEFT JOIN reallocations r ON r.currency = c.currency
			GROUP BY 1`
	}
	return []pg.Gauge{{
		Name: "fund_withdrawals", Help: "Withdrawals by status (pending, completed, failed) and currency.",
		Labels: []string{"status", "currency"}, SQL: byStatus(`count(w.id)::float8`),
	}, {
		Name: "fund_withdrawals_amount", Help: "The amount of the withdrawals by status and currency.",
		Labels: []string{"status", "currency"}, SQL: byStatus(`COALESCE(sum(w.amount), 0)::float8`),
	}, {
		// docs/api.md#nav-corrections: each is a credit the ledger still
		// holds although its allocation was reversed; an admin applies it.
		Name: "fund_ledger_parked_reversals", Help: "Reversals of a corrected allocation parked because an owner's available balance did not cover them, by currency.",
		Labels: []string{"currency"}, SQL: `SELECT c.currency, count(p.id)::float8
			FROM (SELECT DISTINCT currency FROM accounts) c
			LEFT JOIN parked_reversals p ON p.currency = c.currency AND p.status = 'parked'
			GROUP BY 1`,
	}, {
		Name: "fund_reallocations", Help: "Reallocations by currency.",
		Labels: []string{"currency"}, SQL: perCurrency(`count(r.id)::float8`),
	}, {
		Name: "fund_reallocations_amount", Help: "The amount reallocated, by currency.",
		Labels: []string{"currency"}, SQL: perCurrency(`COALESCE(sum(r.amount), 0)::float8`),
	}}
}

// VerifyInterval is how often each process of the service verifies the
// whole ledger in the background (VerifyLoop).
const VerifyInterval = 5 * time.Minute

// VerifyLoop verifies the ledger with verify (the service's Verify, as GET
// /api/v1/ledger/verify does: the chains, balances and sums, and the latest
// signed checkpoint) at once and then every interval until ctx ends, and
// exposes the
// last outcome: fund_ledger_verify_ok (1 when every chain, balance and sum
// checked out), fund_ledger_verify_timestamp_seconds (when that run ended)
// and fund_ledger_verify_duration_seconds. A run that could not complete
// (the database failed) is logged and leaves the last outcome, whose
// timestamp then ages: the FundLedgerVerifyStale alert.
func VerifyLoop(ctx context.Context, verify func(context.Context) (ledger.Verification, error), interval time.Duration, reg prometheus.Registerer, log *slog.Logger) error {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	ok := gauge("fund_ledger_verify_ok", "1 when the last background verification of the ledger found every chain, balance and sum correct, 0 when it did not.")
	at := gauge("fund_ledger_verify_timestamp_seconds", "When the last background verification of the ledger ended (Unix seconds).")
	took := gauge("fund_ledger_verify_duration_seconds", "How long the last background verification of the ledger took.")
	// Registered after the first run: no outcome is not a failed one.
	registered := false
	for {
		began := time.Now()
		v, err := verify(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("background ledger verification failed to run", "error", err)
		default:
			ok.Set(boolGauge(v.OK))
			at.SetToCurrentTime()
			took.Set(time.Since(began).Seconds())
			if !registered {
				if err := errors.Join(reg.Register(ok), reg.Register(at), reg.Register(took)); err != nil {
					return fmt.Errorf("store: register the verification gauges: %w", err)
				}
				registered = true
			}
			if !v.OK {
				attrs := []any{"accounts", v.Accounts, "entries", v.Entries}
				if v.FirstBadEntryID != nil {
					attrs = append(attrs, "first_bad_entry_id", *v.FirstBadEntryID)
				}
				if v.FirstBadAccount != nil {
					attrs = append(attrs, "first_bad_account", *v.FirstBadAccount)
				}
				log.Error("the ledger does not verify: see GET /api/v1/ledger/verify", attrs...)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
