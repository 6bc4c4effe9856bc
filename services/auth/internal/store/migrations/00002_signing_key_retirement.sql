-- +goose Up
-- A key retired at once by an operator (auth -retire-key): it leaves the
-- JWKS immediately instead of after its tokens' lifetime, its tokens are
-- refused, and the service refuses to sign with it again.
ALTER TABLE signing_keys ADD COLUMN revoked_at timestamptz;

-- +goose Down
ALTER TABLE signing_keys DROP COLUMN revoked_at;
