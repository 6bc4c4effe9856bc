-- Totals per currency (docs/api.md#stats-service). Every amount of an
-- event is in its currency: the event's `currency`, or for an event from
-- before events carried one the portfolio's currency as portfolio.created
-- or portfolio.updated said it, else USD (eventbus.BaseCurrency).
--
-- Expand-only. The tables keyed without a currency stay, and both releases
-- keep writing them (the current one sums its additions over currencies),
-- so the previous release reads right during a rolling update or after a
-- rollback. The current release also writes the tables keyed by currency
-- (currency_totals, hourly_currency_profit, summary_currency_*), marking
-- its transactions (set_config('stats.currencies', 'app', true)); for any
-- other writer of the old tables (the previous release, a manual
-- correction) a row trigger adds the same change to the new tables as USD,
-- the only currency that writer knows.
--
-- Existing rows are USD: the stats database never kept a portfolio's
-- currency before this migration, so there is nothing to take it from.

-- +goose Up
ALTER TABLE portfolio_owners ADD COLUMN currency text CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE portfolio_totals ADD COLUMN currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE withdrawal_states ADD COLUMN currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');

CREATE TABLE currency_totals (
    currency                     text          PRIMARY KEY CHECK (currency ~ '^[A-Z]{3}$'),
    total_profit                 numeric(38,8) NOT NULL DEFAULT 0,
    total_distributed            numeric(38,8) NOT NULL DEFAULT 0,
    to_team_total                numeric(38,8) NOT NULL DEFAULT 0,
    to_platform_total            numeric(38,8) NOT NULL DEFAULT 0,
    to_user_total                numeric(38,8) NOT NULL DEFAULT 0,
    loss_carryforward_total      numeric(38,8) NOT NULL DEFAULT 0,
    reallocated_total            numeric(38,8) NOT NULL DEFAULT 0,
    withdrawals_pending_amount   numeric(38,8) NOT NULL DEFAULT 0,
    withdrawals_completed_amount numeric(38,8) NOT NULL DEFAULT 0,
    withdrawals_failed_amount    numeric(38,8) NOT NULL DEFAULT 0
);
INSERT INTO currency_totals (currency, total_profit, total_distributed, to_team_total, to_platform_total, to_user_total,
                             loss_carryforward_total, reallocated_total, withdrawals_pending_amount,
                             withdrawals_completed_amount, withdrawals_failed_amount)
SELECT 'USD', o.total_profit, o.total_distributed, o.to_team_total, o.to_platform_total, o.to_user_total,
       o.loss_carryforward_total, o.reallocated_total,
       (SELECT amount FROM withdrawals_by_status WHERE status = 'pending'),
       (SELECT amount FROM withdrawals_by_status WHERE status = 'completed'),
       (SELECT amount FROM withdrawals_by_status WHERE status = 'failed')
  FROM overview o WHERE o.id = 1 AND o.events_applied > 0;

CREATE TABLE hourly_currency_profit (
    owner_type text          NOT NULL CHECK (owner_type IN ('user', 'team', 'platform')),
    owner_id   bigint        NOT NULL,
    currency   text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    hour       timestamptz   NOT NULL,
    profit     numeric(38,8) NOT NULL,
    PRIMARY KEY (owner_type, owner_id, hour, currency)
);
INSERT INTO hourly_currency_profit (owner_type, owner_id, currency, hour, profit)
SELECT owner_type, owner_id, 'USD', hour, profit FROM hourly_owner_profit;

CREATE TABLE summary_currency_hourly (
    dimension   text          NOT NULL,
    key         text          NOT NULL,
    currency    text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    hour        timestamptz   NOT NULL,
    profit      numeric(38,8) NOT NULL DEFAULT 0,
    distributed numeric(38,8) NOT NULL DEFAULT 0,
    to_team     numeric(38,8) NOT NULL DEFAULT 0,
    to_platform numeric(38,8) NOT NULL DEFAULT 0,
    to_user     numeric(38,8) NOT NULL DEFAULT 0,
    withdrawn   numeric(38,8) NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, key, currency, hour)
);
CREATE INDEX summary_currency_hourly_dimension_hour_idx ON summary_currency_hourly (dimension, hour);
CREATE TABLE summary_currency_daily (
    dimension   text          NOT NULL,
    key         text          NOT NULL,
    currency    text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    day         timestamptz   NOT NULL,
    profit      numeric(38,8) NOT NULL DEFAULT 0,
    distributed numeric(38,8) NOT NULL DEFAULT 0,
    to_team     numeric(38,8) NOT NULL DEFAULT 0,
    to_platform numeric(38,8) NOT NULL DEFAULT 0,
    to_user     numeric(38,8) NOT NULL DEFAULT 0,
    withdrawn   numeric(38,8) NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, key, currency, day)
);
CREATE INDEX summary_currency_daily_dimension_day_idx ON summary_currency_daily (dimension, day);
CREATE TABLE summary_currency_totals (
    dimension   text          NOT NULL,
    key         text          NOT NULL,
    currency    text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    profit      numeric(38,8) NOT NULL DEFAULT 0,
    distributed numeric(38,8) NOT NULL DEFAULT 0,
    to_team     numeric(38,8) NOT NULL DEFAULT 0,
    to_platform numeric(38,8) NOT NULL DEFAULT 0,
    to_user     numeric(38,8) NOT NULL DEFAULT 0,
    withdrawn   numeric(38,8) NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, key, currency)
);
INSERT INTO summary_currency_hourly (dimension, key, currency, hour, profit, distributed, to_team, to_platform, to_user, withdrawn)
SELECT dimension, key, 'USD', hour, profit, distributed, to_team, to_platform, to_user, withdrawn FROM summary_hourly;
INSERT INTO summary_currency_daily (dimension, key, currency, day, profit, distributed, to_team, to_platform, to_user, withdrawn)
SELECT dimension, key, 'USD', day, profit, distributed, to_team, to_platform, to_user, withdrawn FROM summary_daily;
INSERT INTO summary_currency_totals (dimension, key, currency, profit, distributed, to_team, to_platform, to_user, withdrawn)
SELECT dimension, key, 'USD', profit, distributed, to_team, to_platform, to_user, withdrawn FROM summary_totals;

-- The triggers for other writers of the old tables: each adds the change
-- of a row to the USD row of the new table.

-- +goose StatementBegin
CREATE FUNCTION currency_totals_from_overview() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.total_profit, NEW.total_distributed, NEW.to_team_total, NEW.to_platform_total, NEW.to_user_total,
        NEW.loss_carryforward_total, NEW.reallocated_total) IS NOT DISTINCT FROM
       (OLD.total_profit, OLD.total_distributed, OLD.to_team_total, OLD.to_platform_total, OLD.to_user_total,
        OLD.loss_carryforward_total, OLD.reallocated_total) THEN
        RETURN NULL;
    END IF;
    INSERT INTO currency_totals AS c (currency, total_profit, total_distributed, to_team_total, to_platform_total,
                                      to_user_total, loss_carryforward_total, reallocated_total)
    VALUES ('USD', NEW.total_profit - OLD.total_profit, NEW.total_distributed - OLD.total_distributed,
            NEW.to_team_total - OLD.to_team_total, NEW.to_platform_total - OLD.to_platform_total,
            NEW.to_user_total - OLD.to_user_total, NEW.loss_carryforward_total - OLD.loss_carryforward_total,
            NEW.reallocated_total - OLD.reallocated_total)
    ON CONFLICT (currency) DO UPDATE SET
        total_profit = c.total_profit + EXCLUDED.total_profit,
        total_distributed = c.total_distributed + EXCLUDED.total_distributed,
        to_team_total = c.to_team_total + EXCLUDED.to_team_total,
        to_platform_total = c.to_platform_total + EXCLUDED.to_platform_total,
        to_user_total = c.to_user_total + EXCLUDED.to_user_total,
        loss_carryforward_total = c.loss_carryforward_total + EXCLUDED.loss_carryforward_total,
        reallocated_total = c.reallocated_total + EXCLUDED.reallocated_total;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION currency_totals_from_withdrawals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d numeric := NEW.amount - OLD.amount;
BEGIN
    IF d = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO currency_totals AS c (currency, withdrawals_pending_amount, withdrawals_completed_amount, withdrawals_failed_amount)
    VALUES ('USD', CASE NEW.status WHEN 'pending' THEN d ELSE 0 END, CASE NEW.status WHEN 'completed' THEN d ELSE 0 END,
            CASE NEW.status WHEN 'failed' THEN d ELSE 0 END)
    ON CONFLICT (currency) DO UPDATE SET
        withdrawals_pending_amount = c.withdrawals_pending_amount + EXCLUDED.withdrawals_pending_amount,
        withdrawals_completed_amount = c.withdrawals_completed_amount + EXCLUDED.withdrawals_completed_amount,
        withdrawals_failed_amount = c.withdrawals_failed_amount + EXCLUDED.withdrawals_failed_amount;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION hourly_currency_from_hourly() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d numeric := NEW.profit;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        d := NEW.profit - OLD.profit;
    END IF;
    INSERT INTO hourly_currency_profit AS h (owner_type, owner_id, currency, hour, profit)
    VALUES (NEW.owner_type, NEW.owner_id, 'USD', NEW.hour, d)
    ON CONFLICT (owner_type, owner_id, hour, currency) DO UPDATE SET profit = h.profit + EXCLUDED.profit;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION summary_currency_from_hourly() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d_profit      numeric := NEW.profit;
    d_distributed numeric := NEW.distributed;
    d_to_team     numeric := NEW.to_team;
    d_to_platform numeric := NEW.to_platform;
    d_to_user     numeric := NEW.to_user;
    d_withdrawn   numeric := NEW.withdrawn;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        d_profit := NEW.profit - OLD.profit;
        d_distributed := NEW.distributed - OLD.distributed;
        d_to_team := NEW.to_team - OLD.to_team;
        d_to_platform := NEW.to_platform - OLD.to_platform;
        d_to_user := NEW.to_user - OLD.to_user;
        d_withdrawn := NEW.withdrawn - OLD.withdrawn;
    END IF;
    INSERT INTO summary_currency_hourly AS s (dimension, key, currency, hour, profit, distributed, to_team, to_platform, to_user, withdrawn)
    VALUES (NEW.dimension, NEW.key, 'USD', NEW.hour, d_profit, d_distributed, d_to_team, d_to_platform, d_to_user, d_withdrawn)
    ON CONFLICT (dimension, key, currency, hour) DO UPDATE SET
        profit = s.profit + EXCLUDED.profit, distributed = s.distributed + EXCLUDED.distributed,
        to_team = s.to_team + EXCLUDED.to_team, to_platform = s.to_platform + EXCLUDED.to_platform,
        to_user = s.to_user + EXCLUDED.to_user, withdrawn = s.withdrawn + EXCLUDED.withdrawn;
    INSERT INTO summary_currency_daily AS s (dimension, key, currency, day, profit, distributed, to_team, to_platform, to_user, withdrawn)
    VALUES (NEW.dimension, NEW.key, 'USD', date_trunc('day', NEW.hour, 'UTC'), d_profit, d_distributed, d_to_team, d_to_platform,
            d_to_user, d_withdrawn)
    ON CONFLICT (dimension, key, currency, day) DO UPDATE SET
        profit = s.profit + EXCLUDED.profit, distributed = s.distributed + EXCLUDED.distributed,
        to_team = s.to_team + EXCLUDED.to_team, to_platform = s.to_platform + EXCLUDED.to_platform,
        to_user = s.to_user + EXCLUDED.to_user, withdrawn = s.withdrawn + EXCLUDED.withdrawn;
    INSERT INTO summary_currency_totals AS s (dimension, key, currency, profit, distributed, to_team, to_platform, to_user, withdrawn)
    VALUES (NEW.dimension, NEW.key, 'USD', d_profit, d_distributed, d_to_team, d_to_platform, d_to_user, d_withdrawn)
    ON CONFLICT (dimension, key, currency) DO UPDATE SET
        profit = s.profit + EXCLUDED.profit, distributed = s.distributed + EXCLUDED.distributed,
        to_team = s.to_team + EXCLUDED.to_team, to_platform = s.to_platform + EXCLUDED.to_platform,
        to_user = s.to_user + EXCLUDED.to_user, withdrawn = s.withdrawn + EXCLUDED.withdrawn;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER overview_currency_totals AFTER UPDATE ON overview
    FOR EACH ROW WHEN (current_setting('stats.currencies', true) IS DISTINCT FROM 'app')
    EXECUTE FUNCTION currency_totals_from_overview();
CREATE TRIGGER withdrawals_by_status_currency_totals AFTER UPDATE ON withdrawals_by_status
    FOR EACH ROW WHEN (current_setting('stats.currencies', true) IS DISTINCT FROM 'app')
    EXECUTE FUNCTION currency_totals_from_withdrawals();
CREATE TRIGGER hourly_owner_profit_currency AFTER INSERT OR UPDATE ON hourly_owner_profit
    FOR EACH ROW WHEN (current_setting('stats.currencies', true) IS DISTINCT FROM 'app')
    EXECUTE FUNCTION hourly_currency_from_hourly();
CREATE TRIGGER summary_hourly_currency AFTER INSERT OR UPDATE ON summary_hourly
    FOR EACH ROW WHEN (current_setting('stats.currencies', true) IS DISTINCT FROM 'app')
    EXECUTE FUNCTION summary_currency_from_hourly();

-- +goose Down
DROP TRIGGER summary_hourly_currency ON summary_hourly;
DROP TRIGGER hourly_owner_profit_currency ON hourly_owner_profit;
DROP TRIGGER withdrawals_by_status_currency_totals ON withdrawals_by_status;
DROP TRIGGER overview_currency_totals ON overview;
DROP FUNCTION summary_currency_from_hourly();
DROP FUNCTION hourly_currency_from_hourly();
DROP FUNCTION currency_totals_from_withdrawals();
DROP FUNCTION currency_totals_from_overview();
DROP TABLE summary_currency_totals;
DROP TABLE summary_currency_daily;
DROP TABLE summary_currency_hourly;
DROP TABLE hourly_currency_profit;
DROP TABLE currency_totals;
ALTER TABLE withdrawal_states DROP COLUMN currency;
ALTER TABLE portfolio_totals DROP COLUMN currency;
ALTER TABLE portfolio_owners DROP COLUMN currency;
