-- +goose Up
-- The stats read models (docs/api.md#stats-service). Every table is pre-aggregated and
-- updated in the transaction that records the event id (libs/inbox), so
-- queries never scan raw events. Aggregates are NUMERIC(28,8): sums of
-- many NUMERIC(20,8) amounts must not overflow, and stay exact.

-- Owners of each portfolio, from portfolio.created/updated.
CREATE TABLE portfolio_owners (
    portfolio_id bigint      PRIMARY KEY,
    user_id      bigint      NOT NULL,
    team_id      bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX portfolio_owners_user_idx ON portfolio_owners (user_id);
CREATE INDEX portfolio_owners_team_idx ON portfolio_owners (team_id);

-- Per portfolio totals of its profit.allocated events, and the loss
-- carry-forward as stats can see it (see internal/stats).
CREATE TABLE portfolio_totals (
    portfolio_id      bigint        PRIMARY KEY,
    acc_profit        numeric(28,8) NOT NULL DEFAULT 0,
    distributed       numeric(28,8) NOT NULL DEFAULT 0,
    to_team_total     numeric(28,8) NOT NULL DEFAULT 0,
    to_platform_total numeric(28,8) NOT NULL DEFAULT 0,
    to_user_total     numeric(28,8) NOT NULL DEFAULT 0,
    loss_carryforward numeric(28,8) NOT NULL DEFAULT 0 CHECK (loss_carryforward >= 0),
    updated_at        timestamptz
);

-- Profit credited to each owner per UTC hour of period_end.
CREATE TABLE hourly_owner_profit (
    owner_type text          NOT NULL CHECK (owner_type IN ('user', 'team', 'platform')),
    owner_id   bigint        NOT NULL,
    hour       timestamptz   NOT NULL,
    profit     numeric(28,8) NOT NULL,
    PRIMARY KEY (owner_type, owner_id, hour)
);

-- The summary: one row per (dimension, key, UTC hour). dimension is
-- portfolio, team or user (key: the id) or all (key ''), which answers
-- group_by day and hour. Profit figures are bucketed by the hour of
-- period_end, withdrawn by the hour of the withdrawal.completed event.
CREATE TABLE summary_hourly (
    dimension   text          NOT NULL CHECK (dimension IN ('portfolio', 'team', 'user', 'all')),
    key         text          NOT NULL,
    hour        timestamptz   NOT NULL,
    profit      numeric(28,8) NOT NULL DEFAULT 0,
    distributed numeric(28,8) NOT NULL DEFAULT 0,
    to_team     numeric(28,8) NOT NULL DEFAULT 0,
    to_platform numeric(28,8) NOT NULL DEFAULT 0,
    to_user     numeric(28,8) NOT NULL DEFAULT 0,
    withdrawn   numeric(28,8) NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, key, hour)
);
CREATE INDEX summary_hourly_dimension_hour_idx ON summary_hourly (dimension, hour);

-- Each withdrawal's last status, so a transition moves its amount once.
CREATE TABLE withdrawal_states (
    withdrawal_id bigint        PRIMARY KEY,
    status        text          NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    amount        numeric(20,8) NOT NULL,
    updated_at    timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE withdrawals_by_status (
    status text          PRIMARY KEY CHECK (status IN ('pending', 'completed', 'failed')),
    amount numeric(28,8) NOT NULL DEFAULT 0,
    count  bigint        NOT NULL DEFAULT 0
);
INSERT INTO withdrawals_by_status (status) VALUES ('pending'), ('completed'), ('failed');

-- Second guards behind the event ids: one allocation, reallocation or NAV
-- snapshot is counted once even if it were published under two event ids.
CREATE TABLE applied_allocations (allocation_id bigint PRIMARY KEY);
CREATE TABLE applied_snapshots (portfolio_id bigint NOT NULL, snapshot_id bigint NOT NULL, PRIMARY KEY (portfolio_id, snapshot_id));
CREATE TABLE applied_reallocations (reallocation_id bigint PRIMARY KEY);

-- The platform totals: one row. Every event updates it first, so the
-- consumer's transactions take their locks in one order.
CREATE TABLE overview (
    id                      integer       PRIMARY KEY CHECK (id = 1),
    total_profit            numeric(28,8) NOT NULL DEFAULT 0,
    total_distributed       numeric(28,8) NOT NULL DEFAULT 0,
    to_team_total           numeric(28,8) NOT NULL DEFAULT 0,
    to_platform_total       numeric(28,8) NOT NULL DEFAULT 0,
    to_user_total           numeric(28,8) NOT NULL DEFAULT 0,
    loss_carryforward_total numeric(28,8) NOT NULL DEFAULT 0,
    reallocated_total       numeric(28,8) NOT NULL DEFAULT 0,
    portfolios              bigint        NOT NULL DEFAULT 0,
    allocations             bigint        NOT NULL DEFAULT 0,
    withdrawals             bigint        NOT NULL DEFAULT 0,
    reallocations           bigint        NOT NULL DEFAULT 0,
    profits_recorded        bigint        NOT NULL DEFAULT 0,
    ratio_changes           bigint        NOT NULL DEFAULT 0,
    events_applied          bigint        NOT NULL DEFAULT 0,
    last_event_at           timestamptz
);
INSERT INTO overview (id) VALUES (1);

-- +goose Down
DROP TABLE overview;
DROP TABLE applied_snapshots;
DROP TABLE applied_reallocations;
DROP TABLE applied_allocations;
DROP TABLE withdrawals_by_status;
DROP TABLE withdrawal_states;
DROP TABLE summary_hourly;
DROP TABLE hourly_owner_profit;
DROP TABLE portfolio_totals;
DROP TABLE portfolio_owners;
