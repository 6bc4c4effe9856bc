-- +goose Up
-- The identity of the allocation a profit_credit transfer credits
-- (profit.allocated's allocation_key, derived from the profit's source):
-- a profit the profit service records again after its database is
-- restored comes with a new allocation id but the same identity, and this
-- unique index is the last guard against crediting it twice (the store
-- looks both up first). Credits of events without it (published before it
-- existed) keep NULL and are deduped on the allocation id alone
-- (entries_ref_kind_account_key). Expand only: the previous release
-- inserts transfers without it.
ALTER TABLE transfers ADD COLUMN allocation_key uuid;
CREATE UNIQUE INDEX transfers_allocation_key ON transfers (allocation_key);

-- +goose Down
DROP INDEX transfers_allocation_key;
ALTER TABLE transfers DROP COLUMN allocation_key;
