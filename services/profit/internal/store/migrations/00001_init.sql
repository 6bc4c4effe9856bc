-- +goose Up

-- The read model of portfolios, built from portfolio.events
-- (portfolio.created / portfolio.updated), plus the allocation state this
-- service keeps per portfolio. A portfolio.profit_recorded event for a
-- portfolio not seen yet creates its row from the event's own owners.
CREATE TABLE portfolios (
    portfolio_id      bigint PRIMARY KEY CHECK (portfolio_id > 0),
    user_id           bigint        NOT NULL,
    team_id           bigint        NOT NULL,
    -- The high-water mark: losses not yet made good by later profits.
    loss_carryforward numeric(20,8) NOT NULL DEFAULT 0 CHECK (loss_carryforward >= 0),
    -- The latest period_end recorded (NULL before the first profit).
    last_period_end   timestamptz,
    updated_at        timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX portfolios_user_id ON portfolios (user_id);
CREATE INDEX portfolios_team_id ON portfolios (team_id);

-- Every version of every portfolio's split; the latest version is current.
CREATE TABLE ratios (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portfolio_id bigint       NOT NULL REFERENCES portfolios (portfolio_id),
    version      int          NOT NULL CHECK (version > 0),
    to_team      numeric(5,4) NOT NULL CHECK (to_team BETWEEN 0 AND 1),
    to_platform  numeric(5,4) NOT NULL CHECK (to_platform BETWEEN 0 AND 1),
    to_user      numeric(5,4) NOT NULL CHECK (to_user BETWEEN 0 AND 1),
    created_by   bigint       NOT NULL,
    created_at   timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT ratios_portfolio_version_key UNIQUE (portfolio_id, version),
    CHECK (to_team + to_platform + to_user = 1)
);

-- One row per recorded profit and what the allocation rule made of it.
CREATE TABLE allocations (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portfolio_id             bigint        NOT NULL REFERENCES portfolios (portfolio_id),
    source                   text          NOT NULL CHECK (source IN ('nav', 'manual')),
    -- The NAV snapshot and the portfolio.profit_recorded event the profit
    -- came from (both NULL for a manual profit). Each is unique: the second
    -- guard, after the inbox, against allocating one profit twice.
    snapshot_id              bigint,
    source_event_id          uuid,
    period_end               timestamptz   NOT NULL,
    profit_amount            numeric(20,8) NOT NULL,
    loss_carryforward_before numeric(20,8) NOT NULL CHECK (loss_carryforward_before >= 0),
    loss_carryforward_after  numeric(20,8) NOT NULL CHECK (loss_carryforward_after >= 0),
    distributable            numeric(20,8) NOT NULL CHECK (distributable >= 0),
    ratio_id                 bigint REFERENCES ratios (id),
    ratio_version            int,
    to_team_amount           numeric(20,8) NOT NULL CHECK (to_team_amount >= 0),
    to_platform_amount       numeric(20,8) NOT NULL CHECK (to_platform_amount >= 0),
    to_user_amount           numeric(20,8) NOT NULL CHECK (to_user_amount >= 0),
    user_id                  bigint        NOT NULL,
    team_id                  bigint        NOT NULL,
    status                   text          NOT NULL CHECK (status IN ('allocated', 'awaiting_ratio', 'no_distribution')),
    created_at               timestamptz   NOT NULL DEFAULT now(),
    -- When the rule was applied (later than created_at for a profit that
    -- waited for the portfolio's first ratio).
    allocated_at             timestamptz,
    CONSTRAINT allocations_snapshot_id_key UNIQUE (snapshot_id),
    CONSTRAINT allocations_source_event_id_key UNIQUE (source_event_id),
    CHECK ((source = 'nav') = (snapshot_id IS NOT NULL AND source_event_id IS NOT NULL)),
    CHECK (source = 'nav' OR (snapshot_id IS NULL AND source_event_id IS NULL)),
    CHECK ((status = 'awaiting_ratio') = (ratio_id IS NULL)),
    CHECK ((ratio_id IS NULL) = (ratio_version IS NULL)),
    CHECK ((status = 'awaiting_ratio') = (allocated_at IS NULL)),
    CHECK (to_team_amount + to_platform_amount + to_user_amount = distributable),
    CHECK ((status = 'allocated') = (distributable > 0))
);
CREATE INDEX allocations_portfolio_period ON allocations (portfolio_id, period_end DESC, id DESC);
CREATE INDEX allocations_period ON allocations (period_end DESC, id DESC);
CREATE INDEX allocations_awaiting ON allocations (portfolio_id, period_end, id) WHERE status = 'awaiting_ratio';

-- +goose Down
DROP TABLE allocations;
DROP TABLE ratios;
DROP TABLE portfolios;
