package profit

import (
	"github.com/google/uuid"

	"github.com/fundplatform/platform/libs/eventbus"
)

// NAVKey is the identity of the allocation of a NAV profit
// (eventbus.NAVAllocationKey of its portfolio and snapshot): the profit
// recorded again (its portfolio.profit_recorded re-consumed after the
// profit database was restored) gets the identity it had, whatever its
// allocation id.
func NAVKey(portfolioID, snapshotID int64) string {
	return eventbus.NAVAllocationKey(portfolioID, snapshotID)
}

// ManualKey is the identity of the allocation of a manual profit
// (eventbus.ManualAllocationKey of its portfolio and the request's
// Idempotency-Key identity, idempotency.Identity), so the same request
// executed again after its stored answer was lost gets the identity it
// had. A request without a key has no identity of its own to derive from:
// it gets a random one (a repeat of it is a new profit anyway).
func ManualKey(portfolioID int64, requestIdentity string, ok bool) string {
	if !ok {
		return uuid.NewString()
	}
	return eventbus.ManualAllocationKey(portfolioID, requestIdentity)
}
