-- +goose Up
-- Expand only: the previous release neither reads nor writes these columns,
-- and its queries keep their index (login_failures_email_time).
--
-- The client address of each failed login (identity.Login): failures are
-- counted per (email, client) for the lock-out and per email for the
-- slow-down. Rows written by the previous release have none and count only
-- per email. The second index serves the bounded purge of expired rows.
-- The table holds at most the failures of one window, so building the
-- indexes in the migration's transaction is quick.
ALTER TABLE login_failures ADD COLUMN client text;
CREATE INDEX login_failures_email_client_time ON login_failures (email, client, failed_at);
CREATE INDEX login_failures_time ON login_failures (failed_at);

-- The token a refresh rotated to (identity.Refresh's grace window): its
-- hash, and the token itself sealed with a key derived from the rotated
-- token, which only its holder has; the database alone cannot open it.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash bytea;
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed bytea;

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN successor_sealed;
ALTER TABLE refresh_tokens DROP COLUMN successor_hash;
DROP INDEX login_failures_time;
DROP INDEX login_failures_email_client_time;
ALTER TABLE login_failures DROP COLUMN client;
