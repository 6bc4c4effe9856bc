-- +goose Up

-- Ledger accounts. Owner accounts (user:{id}, team:{id}, platform) keep the
-- contract's buckets; available is generated from them and the database
-- itself refuses to let it go below zero. balance is the sum of the
-- account's postings, kept for every account: for an owner account it
-- equals available; for its hold account (held:{account}) it is the held
-- amount; system:profit goes negative by everything credited.
CREATE TABLE accounts (
    account         text PRIMARY KEY,
    owner_type      text          NOT NULL CHECK (owner_type IN ('user', 'team', 'platform', 'hold', 'system')),
    owner_id        bigint        NOT NULL DEFAULT 0 CHECK (owner_id >= 0),
    credited        numeric(20,8) NOT NULL DEFAULT 0,
    reallocated_in  numeric(20,8) NOT NULL DEFAULT 0,
    reallocated_out numeric(20,8) NOT NULL DEFAULT 0,
    held            numeric(20,8) NOT NULL DEFAULT 0,
    withdrawn       numeric(20,8) NOT NULL DEFAULT 0,
    available       numeric(20,8) GENERATED ALWAYS AS
                        (credited + reallocated_in - reallocated_out - held - withdrawn) STORED,
    balance         numeric(20,8) NOT NULL DEFAULT 0,
    -- The hash of the account's latest entry (NULL before its first).
    last_hash       bytea,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT accounts_available_check CHECK (owner_type NOT IN ('user', 'team', 'platform') OR available >= 0),
    CONSTRAINT accounts_held_check CHECK (owner_type <> 'hold' OR balance >= 0),
    CONSTRAINT accounts_buckets_check CHECK (credited >= 0 AND reallocated_in >= 0 AND reallocated_out >= 0
                                             AND held >= 0 AND withdrawn >= 0),
    CONSTRAINT accounts_owner_balance_check CHECK (owner_type NOT IN ('user', 'team', 'platform') OR balance = available)
);
CREATE INDEX accounts_owner ON accounts (owner_type, owner_id);

-- One movement: its entries sum to zero (checked at commit by the
-- entries_balanced constraint trigger).
CREATE TABLE transfers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text        NOT NULL,
    ref_type   text        NOT NULL,
    ref_id     bigint      NOT NULL,
    created_at timestamptz NOT NULL
);

-- The immutable postings, hash-chained per account (see ledger.EntryHash).
CREATE TABLE entries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transfer_id bigint        NOT NULL REFERENCES transfers (id),
    account     text          NOT NULL REFERENCES accounts (account),
    amount      numeric(20,8) NOT NULL CHECK (amount <> 0),
    kind        text          NOT NULL CHECK (kind IN ('profit_credit', 'reallocation', 'withdrawal_hold',
                                                       'withdrawal_release', 'withdrawal_payout')),
    ref_type    text          NOT NULL,
    ref_id      bigint        NOT NULL,
    created_at  timestamptz   NOT NULL,
    prev_hash   bytea,
    hash        bytea         NOT NULL,
    -- The second guard, after the inbox, against applying one event twice.
    CONSTRAINT entries_ref_kind_account_key UNIQUE (ref_type, ref_id, kind, account)
);
CREATE INDEX entries_account ON entries (account, id);
CREATE INDEX entries_account_created ON entries (account, created_at);
CREATE INDEX entries_transfer ON entries (transfer_id);
CREATE INDEX entries_created ON entries (created_at, id);

-- +goose StatementBegin
CREATE FUNCTION entries_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable: corrections are new postings'
        USING ERRCODE = 'insufficient_privilege';
END $$;
-- +goose StatementEnd
CREATE TRIGGER entries_immutable BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_immutable();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION entries_immutable();

-- +goose StatementBegin
CREATE FUNCTION entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total numeric;
BEGIN
    SELECT sum(amount) INTO total FROM entries WHERE transfer_id = NEW.transfer_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'transfer % does not balance: its entries sum to %', NEW.transfer_id, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE CONSTRAINT TRIGGER entries_balanced AFTER INSERT ON entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION entries_balanced();

CREATE TABLE withdrawals (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_type    text          NOT NULL CHECK (from_type IN ('user', 'team', 'platform')),
    owner_id     bigint        NOT NULL CHECK (owner_id >= 0),
    account      text          NOT NULL REFERENCES accounts (account),
    amount       numeric(20,8) NOT NULL CHECK (amount > 0),
    status       text          NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    reason       text,
    requested_by bigint        NOT NULL,
    created_at   timestamptz   NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CHECK ((status = 'failed') = (reason IS NOT NULL))
);
CREATE INDEX withdrawals_created ON withdrawals (created_at DESC, id DESC);
CREATE INDEX withdrawals_owner ON withdrawals (from_type, owner_id, created_at DESC);

CREATE TABLE reallocations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_account text          NOT NULL REFERENCES accounts (account),
    to_account   text          NOT NULL REFERENCES accounts (account),
    amount       numeric(20,8) NOT NULL CHECK (amount > 0),
    reason       text          NOT NULL CHECK (reason <> ''),
    created_by   bigint        NOT NULL,
    created_at   timestamptz   NOT NULL DEFAULT now(),
    CHECK (from_account <> to_account)
);
CREATE INDEX reallocations_created ON reallocations (created_at DESC, id DESC);

-- +goose Down
DROP TABLE reallocations;
DROP TABLE withdrawals;
DROP TABLE entries;
DROP FUNCTION entries_balanced();
DROP FUNCTION entries_immutable();
DROP TABLE transfers;
DROP TABLE accounts;
