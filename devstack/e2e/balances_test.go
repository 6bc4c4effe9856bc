package e2e

import "github.com/fundplatform/platform/devstack/invariants"

// inUSD narrows GET /api/v1/balances/{owner_type}/{owner_id} to the base
// currency, the one the suites' portfolios book in (their default):
// docs/api.md#withdrawal-service, balances per currency.
const inUSD = "?currency=USD"

// ownerBalances is the answer of GET /api/v1/balances/{owner_type}/{owner_id}
// (one balance per currency; In picks one), accountBalance one of them:
// the invariant checker's reading of them.
type (
	ownerBalances  = invariants.OwnerBalances
	accountBalance = invariants.Balance
)
