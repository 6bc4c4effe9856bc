-- +goose Up
-- The identities of the allocations applied (profit.allocated's and
-- profit.outcome_recorded's allocation_key, derived from the profit's
-- source), beside their ids (applied_allocations): a profit the profit
-- service records again after its database is restored comes with a new
-- allocation id but the same identity, and is counted once. Events
-- without one (published before it existed) are deduped on the id alone.
CREATE TABLE applied_allocation_keys (
    allocation_key uuid PRIMARY KEY,
    allocation_id  bigint NOT NULL
);

-- +goose Down
DROP TABLE applied_allocation_keys;
