package eventbus

import (
	"strconv"

	"github.com/google/uuid"
)

// allocationKeySpace is the UUIDv5 namespace of allocation identities. It
// never changes: every identity ever derived was derived in it.
var allocationKeySpace = uuid.MustParse("6f3c0b5e-2d0a-4c1e-9a63-2f1c7d8e4b90")

// NAVAllocationKey is the identity of the allocation of a NAV profit,
// derived from its portfolio and NAV snapshot: the same however often the
// profit is recorded (its portfolio.profit_recorded re-consumed after the
// profit database was restored), whatever its allocation id. A
// profit.allocated of a NAV profit does not carry it: its consumers derive
// it from the event's portfolio_id and snapshot_id (AllocatedData.Key), so
// the event keeps the shape every release's consumers accept.
func NAVAllocationKey(portfolioID, snapshotID int64) string {
	return uuid.NewSHA1(allocationKeySpace, []byte("nav/"+strconv.FormatInt(portfolioID, 10)+"/"+strconv.FormatInt(snapshotID, 10))).String()
}

// ManualAllocationKey is the identity of the allocation of a manual
// profit, derived from its portfolio and the identity of the request that
// recorded it (idempotency.Identity: caller, Idempotency-Key and request
// fingerprint), so the same request executed again after its stored answer
// was lost gets the identity it had. Its events carry it (allocation_key).
func ManualAllocationKey(portfolioID int64, requestIdentity string) string {
	return uuid.NewSHA1(allocationKeySpace, []byte("manual/"+strconv.FormatInt(portfolioID, 10)+"/"+requestIdentity)).String()
}

// CorrectionAllocationKey is the identity of the n-th replacement
// allocation (0 first) NAV correction correctionID of a portfolio made:
// the correction's id is the portfolio service's, and the replacements of
// one correction are folded in one order, so a restored profit database
// that applies the correction again derives the same identities. Its
// events carry it (allocation_key).
func CorrectionAllocationKey(portfolioID, correctionID int64, n int) string {
	return uuid.NewSHA1(allocationKeySpace, []byte("correction/"+strconv.FormatInt(portfolioID, 10)+"/"+
		strconv.FormatInt(correctionID, 10)+"/"+strconv.Itoa(n))).String()
}

// Key is the identity of the allocation the event credits: its
// allocation_key when it carries one (a manual profit, a correction's
// replacement), the NAVAllocationKey of its snapshot for a NAV profit, ""
// otherwise (a manual profit recorded by a release without identities).
// Only a NAV profit's is derived: a replacement names the snapshot it
// corrects, whose NAV allocation it must not be taken for.
func (d AllocatedData) Key() string {
	if d.AllocationKey != "" {
		return d.AllocationKey
	}
	if d.SnapshotID != nil && d.Source == "nav" {
		return NAVAllocationKey(d.PortfolioID, *d.SnapshotID)
	}
	return ""
}
