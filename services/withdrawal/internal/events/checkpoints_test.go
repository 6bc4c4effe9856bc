package events_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/eventbus/kafkatest"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/withdrawal/internal/events"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

// TestCheckpointCatchesASuperuserRewrite: the ledger publishes a signed
// checkpoint of its chain heads through its outbox to ledger.checkpoints
// (once per change of the heads), and verify compares the database with
// the latest one read back from the broker. An untouched ledger verifies;
// after an attacker with the database rewrites a transfer's amounts and
// recomputes every later hash and the accounts' last hashes in SQL (the
// immutability trigger off, as a superuser can), the chains verify again
// but the checkpoint reports the first divergent account.
func TestCheckpointCatchesASuperuserRewrite(t *testing.T) {
	brokers := kafkatest.Start(t, eventbus.TopicProfit, eventbus.DLQTopic(eventbus.TopicProfit), eventbus.TopicCheckpoints)
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx, _ := eventtest.Run(context.Background(), t, pool, eventtest.Consumer(brokers, events.GroupID, events.Topics, events.Handler(st)), true)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := ledger.NewCheckpointKey(priv)
	svc := ledger.NewAnchored(st, events.CheckpointReader{Brokers: brokers, Keys: map[string]ed25519.PublicKey{key.ID: key.Public()}})
	admin := ledger.Caller{UserID: 1, Role: auth.RoleAdmin}

	if v, err := svc.Verify(ctx, admin); err != nil || !v.OK || v.Checkpoint.Status != ledger.CheckpointMissing {
		t.Fatalf("new ledger: %+v, %v; want OK with the checkpoint missing", v, err)
	}
	if published, err := st.PublishCheckpoint(ctx, key, time.Now()); err != nil || published {
		t.Fatalf("checkpoint of an empty ledger: %v, %v; want none", published, err)
	}
	for id, toUser := range []string{"6", "12"} {
		c := ledger.Credit{AllocationID: int64(id + 1), Distributable: decimal.RequireFromString("10").Add(decimal.RequireFromString(toUser)),
			ToUser: decimal.RequireFromString(toUser), ToTeam: decimal.RequireFromString("9"), ToPlatform: decimal.RequireFromString("1"),
			UserID: 7, TeamID: 3, Currency: "USD"}
		if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return st.Credit(ctx, tx, c) }); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []bool{true, false} { // the second finds the heads unchanged
		if published, err := st.PublishCheckpoint(ctx, key, time.Now()); err != nil || published != want {
			t.Fatalf("checkpoint %d: published %v, %v; want %v", i+1, published, err, want)
		}
	}
	kafkatest.ReadAll(t, brokers, eventbus.TopicCheckpoints, 1, 30*time.Second)
	v, err := svc.Verify(ctx, admin)
	if err != nil || !v.OK || v.Checkpoint.Status != ledger.CheckpointOK || v.Checkpoint.MaxEntryID == 0 {
		t.Fatalf("untouched ledger: %+v, %v; want OK against the checkpoint", v, err)
	}

	superuserRewrite(ctx, t, pool)
	v, err = svc.Verify(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if v.FirstBadEntryID != nil || v.FirstBadAccount != nil || !v.Currencies[0].OK {
		t.Fatalf("the rewritten chains: %+v; want them to verify on their own (the attack is complete)", v)
	}
	cp := v.Checkpoint
	if v.OK || cp.OK || cp.Status != ledger.CheckpointDivergent || cp.FirstDivergentAccount == nil || *cp.FirstDivergentAccount != "system:profit" {
		t.Fatalf("after the rewrite: %+v, checkpoint %+v; want divergent at system:profit", v, cp)
	}
}

// superuserRewrite does what an attacker who owns the database can: with
// the triggers off it makes allocation 1's credit to user:7 ten times
// larger, takes the difference from system:profit's leg of the same
// transfer (so the postings still sum to zero), recomputes every hash of
// both chains from the rewritten entry on, and their last hashes.
func superuserRewrite(ctx context.Context, t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		for _, sql := range []string{
			`SET LOCAL session_replication_role = replica`,
			`UPDATE entries SET amount = amount * 10 WHERE account = 'user:7' AND ref_type = 'allocation' AND ref_id = 1`,
			`UPDATE entries e SET amount = e.amount - 54 WHERE account = 'system:profit' AND ref_type = 'allocation' AND ref_id = 1`,
		} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
		}
		for _, account := range []string{"user:7", "system:profit"} {
			if err := rehash(ctx, tx, account); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the superuser's rewrite: %v", err)
	}
}

// rehash recomputes account's chain (ledger.EntryHash) and its last hash.
func rehash(ctx context.Context, tx pgx.Tx, account string) error {
	rows, err := tx.Query(ctx, `SELECT id, amount, kind, ref_type, ref_id, transfer_id, created_at FROM entries WHERE account = $1 ORDER BY id`, account)
	if err != nil {
		return err
	}
	type entry struct {
		id, refID, transferID int64
		amount                decimal.Decimal
		kind, refType         string
		createdAt             time.Time
	}
	var es []entry
	var e entry
	if _, err := pgx.ForEachRow(rows, []any{&e.id, &e.amount, &e.kind, &e.refType, &e.refID, &e.transferID, &e.createdAt}, func() error {
		es = append(es, e)
		return nil
	}); err != nil {
		return err
	}
	var prev []byte
	for _, e := range es {
		h := ledger.EntryHash(prev, account, e.amount, e.kind, e.refType, e.refID, e.transferID, e.createdAt)
		if _, err := tx.Exec(ctx, `UPDATE entries SET prev_hash = $2, hash = $3 WHERE id = $1`, e.id, prev, h); err != nil {
			return err
		}
		prev = h
	}
	_, err = tx.Exec(ctx, `UPDATE accounts SET last_hash = $2 WHERE account = $1`, account, prev)
	return err
}
