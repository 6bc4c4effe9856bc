-- +goose Up
-- Currencies (docs/api.md#currencies): every account is in one currency,
-- and so is every entry, withdrawal and reallocation on it. The accounts
-- and postings written before this migration were all in the base currency
-- (USD, the portfolio service's default): the default says so. Account
-- names stay as they are (entries are hash-chained over them): the base
-- currency's accounts keep their names, another currency's end in
-- ":{currency}" (ledger.AccountIn). Expand only: the previous release
-- inserts without these columns and gets the base currency, as its names
-- say.
ALTER TABLE accounts ADD COLUMN currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE entries ADD COLUMN currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE withdrawals ADD COLUMN currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE reallocations ADD COLUMN currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');
CREATE INDEX accounts_owner_currency ON accounts (owner_type, owner_id, currency);

-- +goose Down
DROP INDEX accounts_owner_currency;
ALTER TABLE reallocations DROP COLUMN currency;
ALTER TABLE withdrawals DROP COLUMN currency;
ALTER TABLE entries DROP COLUMN currency;
ALTER TABLE accounts DROP COLUMN currency;
