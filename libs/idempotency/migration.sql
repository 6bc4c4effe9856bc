-- Idempotency-Key store of libs/idempotency. A service that uses
-- idempotency.Middleware adds this file to its own migrations with
-- idempotency.WithMigration (it is not applied on its own).

-- +goose Up
CREATE TABLE idempotency_keys (
    caller           text        NOT NULL,
    key              text        NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 255),
    request_hash     bytea       NOT NULL,
    method           text        NOT NULL,
    path             text        NOT NULL,
    -- NULL while the first request is in flight; set with the rest of the
    -- stored response once it has completed.
    status           int,
    response_body    bytea,
    response_headers jsonb,
    created_at       timestamptz NOT NULL,
    completed_at     timestamptz,
    PRIMARY KEY (caller, key),
    CHECK ((status IS NULL) = (completed_at IS NULL))
);
-- Expiry: Purge deletes by age.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
