package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/outbox"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

// CheckpointKey is the Kafka key of every ledger.checkpoint event.
const CheckpointKey = "ledger"

// heads reads the head of every account's chain, by account name, in one
// statement (one snapshot): each account's last entry.
func heads(ctx context.Context, tx pgx.Tx) ([]ledger.Head, error) {
	rows, err := tx.Query(ctx, `
		SELECT a.account, a.currency, e.id, e.hash
		FROM accounts a
		CROSS JOIN LATERAL (SELECT id, hash FROM entries WHERE account = a.account ORDER BY id DESC LIMIT 1) e
		ORDER BY a.account`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ledger.Head, error) {
		var h ledger.Head
		err := r.Scan(&h.Account, &h.Currency, &h.LastEntryID, &h.Hash)
		return h, err
	})
}

// headsDigest identifies a set of heads: SHA-256 over each head's account,
// entry id and hash.
func headsDigest(hs []ledger.Head) []byte {
	d := sha256.New()
	for _, h := range hs {
		d.Write([]byte(h.Account))
		d.Write([]byte{0})
		d.Write([]byte(strconv.FormatInt(h.LastEntryID, 10)))
		d.Write([]byte{0})
		d.Write(h.Hash)
	}
	return d.Sum(nil)
}

// PublishCheckpoint takes a checkpoint of the chain heads, signs it with
// key and adds it to the outbox for ledger.checkpoints, unless the ledger
// has no entries or a checkpoint of the same heads with the same key was
// published already (by this process or another replica: the checkpoints
// table's unique digest). It reports whether it published one.
func (s *Store) PublishCheckpoint(ctx context.Context, key ledger.CheckpointKey, now time.Time) (bool, error) {
	published := false
	err := pg.InTx(ctx, s.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		hs, err := heads(ctx, tx)
		if err != nil || len(hs) == 0 {
			return err
		}
		cp := ledger.Checkpoint{KeyID: key.ID, TakenAt: now.UTC().Truncate(time.Microsecond), Heads: hs}
		for _, h := range hs {
			cp.MaxEntryID = max(cp.MaxEntryID, h.LastEntryID)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO checkpoints (digest, key_id, max_entry_id, taken_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (digest, key_id) DO NOTHING`, headsDigest(hs), key.ID, cp.MaxEntryID, cp.TakenAt)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		data, err := key.Sign(cp)
		if err != nil {
			return err
		}
		env, err := eventbus.NewEnvelope(EventSource, eventbus.TypeLedgerCheckpoint, "ledger/"+strconv.FormatInt(cp.MaxEntryID, 10), data)
		if err != nil {
			return err
		}
		published = true
		return outbox.Add(ctx, tx, eventbus.TopicCheckpoints, CheckpointKey, env)
	})
	if err != nil {
		return false, fmt.Errorf("store: publish a checkpoint: %w", err)
	}
	return published, nil
}

// EntryHeads implements ledger.Store.
func (s *Store) EntryHeads(ctx context.Context, ids []int64) (map[int64]ledger.Head, error) {
	rows, err := s.Pool.Query(ctx, `SELECT account, currency, id, hash FROM entries WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("store: read the checkpoint's entries: %w", err)
	}
	out := map[int64]ledger.Head{}
	var h ledger.Head
	_, err = pgx.ForEachRow(rows, []any{&h.Account, &h.Currency, &h.LastEntryID, &h.Hash}, func() error {
		out[h.LastEntryID] = ledger.Head{Account: h.Account, Currency: h.Currency, LastEntryID: h.LastEntryID, Hash: append([]byte(nil), h.Hash...)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: read the checkpoint's entries: %w", err)
	}
	return out, nil
}
