-- +goose Up
-- Expand only: the previous release neither reads nor writes the column.
--
-- Access tokens of a user issued before this time are revoked on writes
-- (identity.Me, the check every service asks on a state-changing request):
-- set when a password change or a deactivation ends the user's sessions and
-- when the role changes. NULL: no token was cut off.
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;

-- +goose Down
ALTER TABLE users DROP COLUMN tokens_valid_after;
