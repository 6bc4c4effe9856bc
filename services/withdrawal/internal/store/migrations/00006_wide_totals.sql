-- +goose Up
-- Running totals are NUMERIC(38,8) (docs/api.md#money-and-rounding). An
-- amount the API accepts has at most 12 integer digits, but an account's
-- lifetime buckets and a system account's balance add up without limit: at
-- NUMERIC(20,8) the first total past 10^12 refused every later credit.
-- Widening keeps the scale, so PostgreSQL rewrites none of these columns.
-- available is generated from them, so it is dropped and added back, with
-- the two checks that read it, in this same transaction: no other session
-- ever sees the table without it.
ALTER TABLE accounts DROP COLUMN available;
ALTER TABLE accounts
    ALTER COLUMN credited        TYPE numeric(38,8),
    ALTER COLUMN reallocated_in  TYPE numeric(38,8),
    ALTER COLUMN reallocated_out TYPE numeric(38,8),
    ALTER COLUMN held            TYPE numeric(38,8),
    ALTER COLUMN withdrawn       TYPE numeric(38,8),
    ALTER COLUMN balance         TYPE numeric(38,8),
    ADD COLUMN available numeric(38,8) GENERATED ALWAYS AS
        (credited + reallocated_in - reallocated_out - held - withdrawn) STORED,
    ADD CONSTRAINT accounts_available_check CHECK (owner_type NOT IN ('user', 'team', 'platform') OR available >= 0),
    ADD CONSTRAINT accounts_owner_balance_check CHECK (owner_type NOT IN ('user', 'team', 'platform') OR balance = available);

-- +goose Down
ALTER TABLE accounts DROP COLUMN available;
ALTER TABLE accounts
    ALTER COLUMN credited        TYPE numeric(20,8),
    ALTER COLUMN reallocated_in  TYPE numeric(20,8),
    ALTER COLUMN reallocated_out TYPE numeric(20,8),
    ALTER COLUMN held            TYPE numeric(20,8),
    ALTER COLUMN withdrawn       TYPE numeric(20,8),
    ALTER COLUMN balance         TYPE numeric(20,8),
    ADD COLUMN available numeric(20,8) GENERATED ALWAYS AS
        (credited + reallocated_in - reallocated_out - held - withdrawn) STORED,
    ADD CONSTRAINT accounts_available_check CHECK (owner_type NOT IN ('user', 'team', 'platform') OR available >= 0),
    ADD CONSTRAINT accounts_owner_balance_check CHECK (owner_type NOT IN ('user', 'team', 'platform') OR balance = available);
