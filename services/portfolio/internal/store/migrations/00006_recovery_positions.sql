-- +goose Up
-- How far the service has re-read its own topic (portfolio.events) at
-- start to re-derive what a restore of this database lost (store.Recover,
-- docs/operations-backup.md): per partition, the next offset to read. A
-- restored database holds the backup's positions, so the next start
-- re-reads everything published since.
CREATE TABLE recovery_positions (
    topic_partition int    PRIMARY KEY,
    next_offset     bigint NOT NULL CHECK (next_offset >= 0)
);

-- +goose Down
DROP TABLE recovery_positions;
