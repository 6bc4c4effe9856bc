-- +goose Up
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL,
    username      text        NOT NULL,
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'viewer', 'user')),
    is_active     boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CHECK (email = lower(email))
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_role_active ON users (role, is_active);

CREATE TABLE teams (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX teams_name_key ON teams (lower(name));

CREATE TABLE team_members (
    team_id  bigint      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id  bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

-- Refresh tokens are opaque; only their SHA-256 is stored. A family is one
-- login session: each refresh rotates to a new token of the same family.
CREATE TABLE refresh_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash bytea       NOT NULL UNIQUE,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  uuid        NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_live ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- Failed logins by email, for the lock-out rule.
CREATE TABLE login_failures (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email     text        NOT NULL,
    failed_at timestamptz NOT NULL
);
CREATE INDEX login_failures_email_time ON login_failures (email, failed_at);

-- Public keys that have signed access tokens; a retired key stays in the
-- JWKS until the tokens it signed have expired.
CREATE TABLE signing_keys (
    kid        text PRIMARY KEY,
    public_key bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    retired_at timestamptz
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE users;
