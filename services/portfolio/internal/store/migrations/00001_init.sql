-- +goose Up
-- Portfolios. The owners (a user and a team of the auth service) are the
-- beneficiaries of the profit recorded while they own it.
CREATE TABLE portfolios (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (btrim(name) <> ''),
    description text        NOT NULL DEFAULT '',
    user_id     bigint      NOT NULL CHECK (user_id > 0),
    team_id     bigint      NOT NULL CHECK (team_id > 0),
    currency    text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX portfolios_user ON portfolios (user_id);
CREATE INDEX portfolios_team ON portfolios (team_id);

-- NAV snapshots: one valuation each, chained to the previous one of the
-- same portfolio. Never updated: a correction is a later snapshot.
CREATE TABLE nav_snapshots (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portfolio_id     bigint         NOT NULL REFERENCES portfolios (id),
    as_of            timestamptz    NOT NULL,
    nav              NUMERIC(20, 8) NOT NULL CHECK (nav >= 0),
    net_flow         NUMERIC(20, 8) NOT NULL DEFAULT 0,
    units            NUMERIC(20, 8) CHECK (units > 0),
    nav_per_unit     NUMERIC(20, 8),
    profit           NUMERIC(20, 8) NOT NULL,
    return_          NUMERIC(20, 8),
    prev_snapshot_id bigint,
    -- The owners when the snapshot was recorded: whom its profit went to.
    user_id          bigint         NOT NULL,
    team_id          bigint         NOT NULL,
    created_at       timestamptz    NOT NULL,
    UNIQUE (portfolio_id, id),
    -- One snapshot per instant, and the index "latest" and lists read.
    UNIQUE (portfolio_id, as_of),
    -- A snapshot is the successor of at most one, of the same portfolio.
    UNIQUE (prev_snapshot_id),
    FOREIGN KEY (portfolio_id, prev_snapshot_id) REFERENCES nav_snapshots (portfolio_id, id),
    CHECK ((units IS NULL) = (nav_per_unit IS NULL)),
    -- The baseline records no profit and no return.
    CHECK (prev_snapshot_id IS NOT NULL OR (profit = 0 AND return_ IS NULL))
);
-- One baseline per portfolio.
CREATE UNIQUE INDEX nav_snapshots_baseline ON nav_snapshots (portfolio_id) WHERE prev_snapshot_id IS NULL;

-- +goose Down
DROP TABLE nav_snapshots;
DROP TABLE portfolios;
