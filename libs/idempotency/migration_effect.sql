-- Idempotency-Key store of libs/idempotency, second step: effect_at marks,
-- in the transaction of the operation's effect, that the effect committed
-- (a row in flight without it may be taken over after its lease). Added to
-- a service's migrations with idempotency.WithMigration, after the first.

-- +goose Up
ALTER TABLE idempotency_keys ADD COLUMN effect_at timestamptz;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN effect_at;
