-- +goose Up
-- NAV corrections (docs/api.md#nav-corrections): a reversed allocation's
-- credit is taken back by a profit_reversal transfer, the mirror of its
-- profit_credit; one its owners' available balances do not cover is
-- parked here for an admin instead of being posted. Expand only: the
-- previous release never writes the new kind and never reads the table.
ALTER TABLE entries DROP CONSTRAINT entries_kind_check;
ALTER TABLE entries ADD CONSTRAINT entries_kind_check CHECK (kind IN ('profit_credit', 'reallocation', 'withdrawal_hold',
    'withdrawal_release', 'withdrawal_payout', 'profit_reversal'));

CREATE TABLE parked_reversals (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The allocation whose credit is to be taken back: reversed once, by
    -- id and by identity (null for an allocation without one).
    allocation_id  bigint        NOT NULL UNIQUE,
    allocation_key uuid          UNIQUE,
    reversal_id    bigint        NOT NULL,
    correction_id  bigint        NOT NULL,
    currency       text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    distributable  numeric(20,8) NOT NULL CHECK (distributable > 0),
    to_user        numeric(20,8) NOT NULL CHECK (to_user >= 0),
    to_team        numeric(20,8) NOT NULL CHECK (to_team >= 0),
    to_platform    numeric(20,8) NOT NULL CHECK (to_platform >= 0),
    user_id        bigint        NOT NULL,
    team_id        bigint        NOT NULL,
    status         text          NOT NULL CHECK (status IN ('parked', 'applied')),
    created_at     timestamptz   NOT NULL DEFAULT now(),
    applied_at     timestamptz,
    applied_by     bigint,
    CHECK (to_user + to_team + to_platform = distributable),
    CHECK ((status = 'applied') = (applied_at IS NOT NULL AND applied_by IS NOT NULL))
);
CREATE INDEX parked_reversals_status ON parked_reversals (status, id);
-- The identity of the allocation a posted profit_reversal takes back: one
-- reversal per credited identity (transfers.allocation_key is the credit's).
ALTER TABLE transfers ADD COLUMN reverses_key uuid;
CREATE UNIQUE INDEX transfers_reverses_key ON transfers (reverses_key) WHERE reverses_key IS NOT NULL;

-- +goose Down
DROP INDEX transfers_reverses_key;
ALTER TABLE transfers DROP COLUMN reverses_key;
DROP TABLE parked_reversals;
ALTER TABLE entries DROP CONSTRAINT entries_kind_check;
ALTER TABLE entries ADD CONSTRAINT entries_kind_check CHECK (kind IN ('profit_credit', 'reallocation', 'withdrawal_hold',
    'withdrawal_release', 'withdrawal_payout'));
