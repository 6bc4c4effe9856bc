-- +goose Up
-- A NAV correction replaces the values of a portfolio's latest snapshot
-- (docs/api.md#nav-corrections); the values it replaces stay here, so a
-- snapshot never changes without a trace.
CREATE TABLE nav_corrections (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portfolio_id     bigint         NOT NULL,
    snapshot_id      bigint         NOT NULL,
    old_nav          NUMERIC(20, 8) NOT NULL,
    old_net_flow     NUMERIC(20, 8) NOT NULL,
    old_units        NUMERIC(20, 8),
    old_nav_per_unit NUMERIC(20, 8),
    old_profit       NUMERIC(20, 8) NOT NULL,
    old_return       NUMERIC(20, 8),
    new_nav          NUMERIC(20, 8) NOT NULL,
    new_net_flow     NUMERIC(20, 8) NOT NULL,
    new_units        NUMERIC(20, 8),
    new_profit       NUMERIC(20, 8) NOT NULL,
    corrected_by     bigint         NOT NULL,
    created_at       timestamptz    NOT NULL,
    FOREIGN KEY (portfolio_id, snapshot_id) REFERENCES nav_snapshots (portfolio_id, id)
);
CREATE INDEX nav_corrections_snapshot ON nav_corrections (snapshot_id, id);

-- +goose Down
DROP TABLE nav_corrections;
