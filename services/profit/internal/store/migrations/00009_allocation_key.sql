-- +goose Up
-- Each allocation's identity derived from its source (profit.NAVKey of its
-- portfolio and NAV snapshot, profit.ManualKey of a manual profit's
-- request), carried in profit.allocated and profit.outcome_recorded as
-- allocation_key: the withdrawal ledger and stats dedupe on it, so a profit
-- recorded again after this database is restored (a new allocation id) is
-- not credited or counted twice (docs/decisions.md). Rows recorded before
-- it have none (NULL): their events are deduped on the allocation id
-- alone, as before. Expand only: the previous release inserts without it.
ALTER TABLE allocations ADD COLUMN allocation_key uuid;
CREATE UNIQUE INDEX allocations_allocation_key ON allocations (allocation_key);

-- +goose Down
DROP INDEX allocations_allocation_key;
ALTER TABLE allocations DROP COLUMN allocation_key;
