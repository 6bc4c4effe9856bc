package profit

import (
	"strconv"

	"github.com/google/uuid"
)

// keySpace is the UUIDv5 namespace of allocation identities. It never
// changes: every identity ever published was derived in it.
var keySpace = uuid.MustParse("6f3c0b5e-2d0a-4c1e-9a63-2f1c7d8e4b90")

// NAVKey is the identity of the allocation of a NAV profit: derived from
// its portfolio and NAV snapshot, so the profit recorded again (its
// portfolio.profit_recorded re-consumed after the profit database was
// restored) gets the identity it had, whatever its allocation id.
func NAVKey(portfolioID, snapshotID int64) string {
	return uuid.NewSHA1(keySpace, []byte("nav/"+strconv.FormatInt(portfolioID, 10)+"/"+strconv.FormatInt(snapshotID, 10))).String()
}

// ManualKey is the identity of the allocation of a manual profit: derived
// from its portfolio and the request's Idempotency-Key identity (caller,
// key and request fingerprint, idempotency.Identity), so the same request
// executed again after its stored answer was lost gets the identity it
// had. A request without a key has no identity of its own to derive from:
// it gets a random one (a repeat of it is a new profit anyway).
func ManualKey(portfolioID int64, requestIdentity string, ok bool) string {
	if !ok {
		return uuid.NewString()
	}
	return uuid.NewSHA1(keySpace, []byte("manual/"+strconv.FormatInt(portfolioID, 10)+"/"+requestIdentity)).String()
}
