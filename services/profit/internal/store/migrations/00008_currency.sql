-- +goose Up
-- Each portfolio's currency (docs/api.md#currencies), from portfolio.created
-- and portfolio.updated, a lookup of the portfolio service or a NAV profit's
-- event, and the currency of each allocation: the portfolio's. The read
-- model never stored it before, so rows written before this migration read
-- as the base currency, USD (the portfolio service's default), until an
-- event that carries the portfolio's currency corrects the portfolio's row
-- (allocations already recorded keep theirs). Expand only: the previous
-- release inserts without these columns and gets the default.
ALTER TABLE portfolios ADD COLUMN currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE allocations ADD COLUMN currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');

-- +goose Down
ALTER TABLE allocations DROP COLUMN currency;
ALTER TABLE portfolios DROP COLUMN currency;
