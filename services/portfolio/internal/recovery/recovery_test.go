package recovery_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
	"github.com/fundplatform/platform/services/portfolio/internal/recovery"
	"github.com/fundplatform/platform/services/portfolio/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestRestoredDatabaseRecoversItsSnapshots: the database loses (as a
// restore of an older backup does) a portfolio created after the backup
// and the snapshots recorded after it, while their events are on the
// topic. Recovery at start puts back the portfolio and the lost profit
// snapshots with their ids and figures, so the next NAV's profit starts
// from the last one recovered instead of spanning periods already
// allocated; a second start recovers nothing more, and new snapshots take
// ids past the recovered ones.
func TestRestoredDatabaseRecoversItsSnapshots(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	brokers := kafkatest.Start(t, eventbus.TopicPortfolio)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	p := create(t, st, "kept")
	nav(t, st, p.ID, 0, "1000")
	nav(t, st, p.ID, 1, "1100") // +100: in the backup
	lost1 := nav(t, st, p.ID, 2, "1250")
	lost2 := nav(t, st, p.ID, 3, "1200")
	q := create(t, st, "created after the backup")
	nav(t, st, q.ID, 0, "500")
	nav(t, st, q.ID, 1, "550")
	publishOutbox(t, brokers, pool)

	// The restore: what came after the backup is gone from the database.
	if _, err := pool.Exec(ctx, `DELETE FROM nav_snapshots WHERE id >= $1`, lost1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM portfolios WHERE id = $1`, q.ID); err != nil {
		t.Fatal(err)
	}

	got, err := recovery.Run(ctx, brokers, eventbus.TopicPortfolio, st, log)
	if err != nil {
		t.Fatal(err)
	}
	// Q's snapshots cannot come back without its baseline (no event): its
	// next NAV is a baseline, which pays nothing twice.
	if want := (store.Recovered{Portfolios: 1, Snapshots: 2, Skipped: 1}); got != want {
		t.Fatalf("recovered %+v, want %+v", got, want)
	}
	snaps, _, err := st.ListSnapshots(ctx, p.ID, portfolio.SnapshotFilter{}, everything)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 4 || snaps[2].ID != lost1.ID || snaps[3].ID != lost2.ID || !snaps[3].Profit.Decimal.Equal(decimal.RequireFromString("-50")) ||
		snaps[3].PrevSnapshotID == nil || *snaps[3].PrevSnapshotID != lost1.ID || snaps[2].PeriodReturn == nil ||
		!snaps[2].PeriodReturn.Decimal.Equal(lost1.PeriodReturn.Decimal) {
		t.Fatalf("snapshots after recovery: %+v", snaps)
	}
	if qq, err := st.Portfolio(ctx, q.ID); err != nil || qq.Name != q.Name || qq.UserID != q.UserID {
		t.Fatalf("portfolio created after the backup: %+v, %v", qq, err)
	}

	next := nav(t, st, p.ID, 4, "1300")
	if !next.Profit.Decimal.Equal(decimal.RequireFromString("100")) || next.ID <= lost2.ID {
		t.Fatalf("next snapshot %+v: want profit 100 over the recovered 1200, and a new id", next)
	}
	if again, err := recovery.Run(ctx, brokers, eventbus.TopicPortfolio, st, log); err != nil || again != (store.Recovered{}) {
		t.Fatalf("second start recovered %+v, %v; want nothing", again, err)
	}
}

// TestRestoredDatabaseRecoversACorrection: a correction of the latest
// snapshot made after the backup is lost with the restore; recovery puts it
// back (the snapshot's corrected values, the correction's row and id), so
// the next NAV's profit starts from the corrected NAV, as the profit
// service's allocations do.
func TestRestoredDatabaseRecoversACorrection(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	brokers := kafkatest.Start(t, eventbus.TopicPortfolio)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	p := create(t, st, "corrected")
	nav(t, st, p.ID, 0, "1000")
	s := nav(t, st, p.ID, 1, "1100") // +100, in the backup
	c, err := st.CorrectNAV(ctx, p.ID, s.ID, func(old portfolio.Snapshot, prev *portfolio.Snapshot) (portfolio.Correction, error) {
		fixed, err := portfolio.CorrectSnapshot(old, prev, portfolio.NAVInput{NAV: decimal.RequireFromString("1040")})
		return portfolio.Correction{Old: old, New: fixed, Prev: prev, CreatedBy: 1, CreatedAt: t0}, err
	}, portfolio.CorrectionEvents)
	if err != nil {
		t.Fatal(err)
	}
	publishOutbox(t, brokers, pool)

	// The restore: the correction is gone, the snapshot has its first values.
	if _, err := pool.Exec(ctx, `DELETE FROM nav_corrections`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE nav_snapshots SET nav = 1100, profit = 100 WHERE id = $1`, s.ID); err != nil {
		t.Fatal(err)
	}
	got, err := recovery.Run(ctx, brokers, eventbus.TopicPortfolio, st, log)
	if err != nil || got != (store.Recovered{Corrections: 1}) {
		t.Fatalf("recovered %+v, %v; want the correction", got, err)
	}
	var id int64
	if err := pool.QueryRow(ctx, `SELECT id FROM nav_corrections WHERE snapshot_id = $1`, s.ID).Scan(&id); err != nil || id != c.ID {
		t.Fatalf("correction row %d, %v; want %d", id, err, c.ID)
	}
	next := nav(t, st, p.ID, 2, "1100")
	if !next.Profit.Decimal.Equal(decimal.RequireFromString("60")) {
		t.Fatalf("next profit %s, want 60 over the corrected 1040", next.Profit)
	}
	if again, err := recovery.Run(ctx, brokers, eventbus.TopicPortfolio, st, log); err != nil || again != (store.Recovered{}) {
		t.Fatalf("second start recovered %+v, %v; want nothing", again, err)
	}
}

var everything = httpx.Pagination{Limit: 100}

func create(t *testing.T, st *store.Store, name string) portfolio.Portfolio {
	t.Helper()
	p, err := st.CreatePortfolio(context.Background(), portfolio.Portfolio{Name: name, UserID: 7, TeamID: 3, Currency: "USD",
		CreatedAt: t0, UpdatedAt: t0}, portfolio.CreatedEvents)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func nav(t *testing.T, st *store.Store, id int64, minute int, value string) portfolio.Snapshot {
	t.Helper()
	in := portfolio.NAVInput{AsOf: t0.Add(time.Duration(minute) * time.Minute), NAV: decimal.RequireFromString(value)}
	s, err := st.RecordNAV(context.Background(), id, func(p portfolio.Portfolio, prev *portfolio.Snapshot) (portfolio.Snapshot, error) {
		return portfolio.NewSnapshot(p, prev, in, time.Now())
	}, portfolio.SnapshotEvents)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// publishOutbox publishes the outbox's rows as the relay does: on their
// topic, keyed by portfolio, in order.
func publishOutbox(t *testing.T, brokers []string, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT key, payload::text FROM outbox WHERE topic = $1 ORDER BY id`, eventbus.TopicPortfolio)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	var key, payload string
	if _, err := pgx.ForEachRow(rows, []any{&key, &payload}, func() error {
		msgs = append(msgs, kafka.Message{Key: []byte(key), Value: []byte(payload)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w := eventbus.KafkaWriter(brokers, eventbus.TopicPortfolio)
	defer w.Close()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}
