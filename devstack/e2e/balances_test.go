package e2e

import "github.com/shopspring/decimal"

// inUSD narrows GET /api/v1/balances/{owner_type}/{owner_id} to the base
// currency, the one the suites' portfolios book in (their default):
// docs/api.md#withdrawal-service, balances per currency.
const inUSD = "?currency=USD"

// accountBalance is one currency's balance of an owner.
type accountBalance struct {
	Currency       string          `json:"currency"`
	Credited       decimal.Decimal `json:"credited"`
	ReallocatedIn  decimal.Decimal `json:"reallocated_in"`
	ReallocatedOut decimal.Decimal `json:"reallocated_out"`
	Held           decimal.Decimal `json:"held"`
	Withdrawn      decimal.Decimal `json:"withdrawn"`
	Available      decimal.Decimal `json:"available"`
}

// ownerBalances is the answer of GET /api/v1/balances/{owner_type}/{owner_id}:
// one balance per currency.
type ownerBalances struct {
	OwnerType string           `json:"owner_type"`
	OwnerID   int64            `json:"owner_id"`
	Balances  []accountBalance `json:"balances"`
}

// in is the owner's balance in currency (zeros when it has none).
func (o ownerBalances) in(currency string) accountBalance {
	for _, b := range o.Balances {
		if b.Currency == currency {
			return b
		}
	}
	return accountBalance{Currency: currency}
}

// usd is the owner's balance in USD.
func (o ownerBalances) usd() accountBalance { return o.in("USD") }
