package ledger

import (
	"crypto/sha256"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// EntryHash is the hash of an entry in its account's chain: SHA-256 over
// the previous entry's hash of the same account (empty for the first),
// then the account, the amount with exactly 8 fractional digits, the kind,
// the reference type and id, the transfer id and created_at in RFC 3339
// with nanoseconds in UTC, each field followed by a NUL byte so that no
// two different entries hash the same bytes.
func EntryHash(prev []byte, account string, amount decimal.Decimal, kind, refType string, refID, transferID int64, createdAt time.Time) []byte {
	h := sha256.New()
	h.Write(prev)
	for _, f := range []string{
		account, amount.StringFixed(8), kind, refType,
		strconv.FormatInt(refID, 10), strconv.FormatInt(transferID, 10),
		createdAt.UTC().Format(time.RFC3339Nano),
	} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// ExpectedHash is EntryHash of e with prev.
func (e Entry) ExpectedHash(prev []byte) []byte {
	return EntryHash(prev, e.Account, e.Amount, e.Kind, e.RefType, e.RefID, e.TransferID, e.CreatedAt)
}
