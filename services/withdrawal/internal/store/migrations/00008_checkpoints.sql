-- +goose Up
-- Checkpoints of the ledger's chain heads (docs/decisions.md, anchored
-- audit chain): each row is one checkpoint the service has signed and put
-- in its outbox for ledger.checkpoints. The signed checkpoint itself lives
-- on the topic, outside this database; this table only keeps the replicas
-- from publishing the same heads twice (one row per digest of the heads
-- and signing key). A new table: the previous release never reads it.
CREATE TABLE checkpoints (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest       bytea NOT NULL,
    key_id       text NOT NULL,
    max_entry_id bigint NOT NULL,
    taken_at     timestamptz NOT NULL,
    UNIQUE (digest, key_id)
);

-- +goose Down
DROP TABLE checkpoints;
