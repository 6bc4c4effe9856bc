-- Idempotency-Key store of libs/idempotency, second step: effect_at marks,
-- in the transaction of the operation's effect, that the effect committed;
-- lease_until, set when a key is claimed, is when a row still in flight
-- without that mark may be taken over. Rows claimed by a release before
-- this step have no lease_until and are never taken over (they stay in
-- flight until they expire), since that release commits the effect before
-- storing the answer. Added to a service's migrations with
-- idempotency.WithMigration, after the first.

-- +goose Up
ALTER TABLE idempotency_keys ADD COLUMN effect_at timestamptz, ADD COLUMN lease_until timestamptz;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN lease_until, DROP COLUMN effect_at;
