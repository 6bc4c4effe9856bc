package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
	"github.com/fundplatform/platform/services/portfolio/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The outbox table is the lib's, byte for byte, under the version it was
// released with.
func TestOutboxMigrationIsTheLibrarys(t *testing.T) {
	pgtest.RequireFiles(t, store.Migrations(), map[string]string{"00002_outbox.sql": outbox.Migration})
}

// Every migration applies on an empty database, rolls back, and applies
// again.
func TestMigrationsUpDownUp(t *testing.T) {
	if _, up := pgtest.UpDownUp(t, store.Migrations()); up != 6 {
		t.Fatalf("%d migrations applied, want 6 (init, outbox, idempotency keys, its effect mark, NAV corrections, recovery positions)", up)
	}
}

// The schema itself refuses what the service never writes.
func TestSchemaConstraints(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, store.Migrations())
	now := time.Now()
	var pid int64
	if err := pool.QueryRow(ctx, `INSERT INTO portfolios (name, user_id, team_id, currency, created_at, updated_at)
		VALUES ('p', 1, 1, 'USD', $1, $1) RETURNING id`, now).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	insert := func(asOf time.Time, nav string, prev *int64, profit string) (int64, error) {
		var id int64
		err := pool.QueryRow(ctx, `INSERT INTO nav_snapshots (portfolio_id, as_of, nav, profit, prev_snapshot_id, user_id, team_id, created_at)
			VALUES ($1, $2, $3::text::numeric, $4::text::numeric, $5, 1, 1, $2) RETURNING id`, pid, asOf, nav, profit, prev).Scan(&id)
		return id, err
	}
	first, err := insert(now, "10", nil, "0")
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]func() error{
		"negative nav":         func() error { _, err := insert(now.Add(time.Hour), "-1", &first, "0"); return err },
		"second baseline":      func() error { _, err := insert(now.Add(time.Hour), "1", nil, "0"); return err },
		"baseline with profit": func() error { _, err := insert(now.Add(-time.Hour), "1", nil, "5"); return err },
		"13 integer digits":    func() error { _, err := insert(now.Add(time.Hour), "1000000000000", &first, "0"); return err },
		"same as_of":           func() error { _, err := insert(now, "1", &first, "0"); return err },
	}
	for name, fn := range refused {
		if err := fn(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := insert(now.Add(time.Hour), "11", &first, "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := insert(now.Add(2*time.Hour), "12", &first, "1"); err == nil {
		t.Error("two snapshots follow the same predecessor")
	}
}

// Store errors carry what failed and stay matchable: the domain's
// sentinels with errors.Is, the database's errors with errors.As (so
// pg.Retryable still sees a serialization failure through the context).
func TestErrorsCarryContext(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	if _, err := st.Portfolio(ctx, 404); !errors.Is(err, portfolio.ErrPortfolioNotFound) {
		t.Fatalf("missing portfolio: %v", err)
	}
	_, err := st.UpdatePortfolio(ctx, 404, func(*portfolio.Portfolio) (bool, error) { return true, nil }, nil)
	if !errors.Is(err, portfolio.ErrPortfolioNotFound) || !strings.Contains(err.Error(), "update portfolio 404") {
		t.Fatalf("update of a missing portfolio: %v", err)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE nav_snapshots RENAME TO nav_snapshots_gone`); err != nil {
		t.Fatal(err)
	}
	_, _, err = st.ListSnapshots(ctx, 1, portfolio.SnapshotFilter{}, httpx.Pagination{Limit: 10})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" || !strings.HasPrefix(err.Error(), "count snapshots of portfolio 1: ") {
		t.Fatalf("list snapshots without their table: %v", err)
	}
	if retry := fmt.Errorf("record NAV of portfolio 1: %w", &pgconn.PgError{Code: "40001"}); !pg.Retryable(retry) {
		t.Fatal("a wrapped serialization failure is not retryable")
	}
}
