package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
)

// A checkpoint anchors the hash chains outside the ledger's database
// (docs/decisions.md): the service signs the head of every account's chain
// (its last entry's id and hash) with a key the database does not hold and
// publishes it on ledger.checkpoints. Whoever rewrites entries and
// recomputes their hashes in the database cannot sign a checkpoint that
// agrees, so Verify finds the account whose entry at the checkpoint's
// last_entry_id no longer has the signed hash.

// Head is the head of one account's chain: its last entry.
type Head struct {
	Account     string
	Currency    string
	LastEntryID int64
	Hash        []byte
}

// Checkpoint is a verified checkpoint: the heads at TakenAt, by account.
type Checkpoint struct {
	KeyID      string
	TakenAt    time.Time
	MaxEntryID int64
	Heads      []Head
}

// Checkpoint statuses (CheckpointVerification.Status).
const (
	CheckpointOK          = "ok"          // every head is still in the database
	CheckpointMissing     = "missing"     // none published yet (a new ledger)
	CheckpointDisabled    = "disabled"    // no checkpoint key configured
	CheckpointDivergent   = "divergent"   // an account's head was rewritten
	CheckpointInvalid     = "invalid"     // the latest one's signature does not verify
	CheckpointUnavailable = "unavailable" // the topic could not be read
)

// ErrCheckpointInvalid is a checkpoint whose signature, key or data does
// not verify.
var ErrCheckpointInvalid = errors.New("the checkpoint does not verify")

// CheckpointVerification is the comparison of the database with the
// latest checkpoint. OK unless divergent, invalid or unavailable.
type CheckpointVerification struct {
	Status                string
	OK                    bool
	KeyID                 string
	TakenAt               *time.Time
	MaxEntryID            int64
	FirstDivergentAccount *string
}

// CheckpointSource reads the latest checkpoint from outside the database;
// nil, nil when none has been published.
type CheckpointSource interface {
	Latest(ctx context.Context) (*Checkpoint, error)
}

// CheckpointKey signs checkpoints: an Ed25519 key and its id.
type CheckpointKey struct {
	Private ed25519.PrivateKey
	ID      string
}

// NewCheckpointKey is the CheckpointKey of k, with the RFC 7638
// thumbprint of its public key as its id (as the auth service's kid).
func NewCheckpointKey(k ed25519.PrivateKey) CheckpointKey {
	return CheckpointKey{Private: k, ID: libauth.Thumbprint(k.Public().(ed25519.PublicKey))}
}

// Public is the key's public half.
func (k CheckpointKey) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// Sign is the signed data of cp's ledger.checkpoint event.
func (k CheckpointKey) Sign(cp Checkpoint) (eventbus.CheckpointData, error) {
	d := eventbus.CheckpointData{KeyID: k.ID, TakenAt: cp.TakenAt.UTC(), MaxEntryID: cp.MaxEntryID,
		Accounts: make([]eventbus.CheckpointHead, 0, len(cp.Heads))}
	for _, h := range cp.Heads {
		d.Accounts = append(d.Accounts, eventbus.CheckpointHead{Account: h.Account, Currency: h.Currency,
			LastEntryID: h.LastEntryID, Hash: hex.EncodeToString(h.Hash)})
	}
	msg, err := signedBytes(d)
	if err != nil {
		return eventbus.CheckpointData{}, err
	}
	d.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(k.Private, msg))
	return d, nil
}

// signedBytes are the bytes a checkpoint's signature is over: its JSON
// with the signature empty.
func signedBytes(d eventbus.CheckpointData) ([]byte, error) {
	d.Signature = ""
	d.TakenAt = d.TakenAt.UTC()
	return json.Marshal(d)
}

// OpenCheckpoint checks d's signature with keys (by key id) and returns
// its checkpoint; ErrCheckpointInvalid when the key is unknown, the
// signature does not verify or a hash is not hex.
func OpenCheckpoint(keys map[string]ed25519.PublicKey, d eventbus.CheckpointData) (Checkpoint, error) {
	pub, ok := keys[d.KeyID]
	if !ok {
		return Checkpoint{}, fmt.Errorf("%w: signed by the unknown key %q", ErrCheckpointInvalid, d.KeyID)
	}
	sig, err := base64.StdEncoding.DecodeString(d.Signature)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: signature: %v", ErrCheckpointInvalid, err)
	}
	msg, err := signedBytes(d)
	if err != nil || !ed25519.Verify(pub, msg, sig) {
		return Checkpoint{}, fmt.Errorf("%w: bad signature", ErrCheckpointInvalid)
	}
	cp := Checkpoint{KeyID: d.KeyID, TakenAt: d.TakenAt.UTC(), MaxEntryID: d.MaxEntryID}
	for _, a := range d.Accounts {
		h, err := hex.DecodeString(a.Hash)
		if err != nil {
			return Checkpoint{}, fmt.Errorf("%w: hash of %s: %v", ErrCheckpointInvalid, a.Account, err)
		}
		cp.Heads = append(cp.Heads, Head{Account: a.Account, Currency: a.Currency, LastEntryID: a.LastEntryID, Hash: h})
	}
	return cp, nil
}

// CompareHeads is the verification of cp against stored, the entries of
// the database at the checkpoint's heads (by entry id; an id not there is
// missing): the first account, in cp's order (by account name), whose
// entry at its LastEntryID is gone, on another account or no longer has
// the signed hash is the first divergent one.
func CompareHeads(cp Checkpoint, stored map[int64]Head) CheckpointVerification {
	at := cp.TakenAt
	v := CheckpointVerification{Status: CheckpointOK, OK: true, KeyID: cp.KeyID, TakenAt: &at, MaxEntryID: cp.MaxEntryID}
	for _, h := range cp.Heads {
		got, ok := stored[h.LastEntryID]
		if ok && got.Account == h.Account && got.Currency == h.Currency && bytes.Equal(got.Hash, h.Hash) {
			continue
		}
		account := h.Account
		v.Status, v.OK, v.FirstDivergentAccount = CheckpointDivergent, false, &account
		break
	}
	return v
}

// checkpointFailure is the verification when the latest checkpoint could
// not be read (err) or there is none (nil, nil).
func checkpointFailure(err error) CheckpointVerification {
	switch {
	case err == nil:
		return CheckpointVerification{Status: CheckpointMissing, OK: true}
	case errors.Is(err, ErrCheckpointInvalid):
		return CheckpointVerification{Status: CheckpointInvalid}
	}
	return CheckpointVerification{Status: CheckpointUnavailable}
}
