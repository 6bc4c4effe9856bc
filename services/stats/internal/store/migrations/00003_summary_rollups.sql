-- Roll-ups of summary_hourly, kept by a trigger in the transaction of each
-- change: summary_daily (one row per dimension, key and UTC day) and
-- summary_totals (one row per dimension and key, all time). /stats/summary
-- reads them when the range allows (whole days, or no range), so its cost
-- follows the number of keys or days, not the number of hours recorded.
-- Expand-only: the old code keeps writing summary_hourly and the trigger
-- keeps the roll-ups right.

-- +goose Up
CREATE TABLE summary_daily (
    dimension   text          NOT NULL,
    key         text          NOT NULL,
    day         timestamptz   NOT NULL,
    profit      numeric(28,8) NOT NULL DEFAULT 0,
    distributed numeric(28,8) NOT NULL DEFAULT 0,
    to_team     numeric(28,8) NOT NULL DEFAULT 0,
    to_platform numeric(28,8) NOT NULL DEFAULT 0,
    to_user     numeric(28,8) NOT NULL DEFAULT 0,
    withdrawn   numeric(28,8) NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, key, day)
);
CREATE INDEX summary_daily_dimension_day_idx ON summary_daily (dimension, day);

CREATE TABLE summary_totals (
    dimension   text          NOT NULL,
    key         text          NOT NULL,
    profit      numeric(28,8) NOT NULL DEFAULT 0,
    distributed numeric(28,8) NOT NULL DEFAULT 0,
    to_team     numeric(28,8) NOT NULL DEFAULT 0,
    to_platform numeric(28,8) NOT NULL DEFAULT 0,
    to_user     numeric(28,8) NOT NULL DEFAULT 0,
    withdrawn   numeric(28,8) NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, key)
);

INSERT INTO summary_daily (dimension, key, day, profit, distributed, to_team, to_platform, to_user, withdrawn)
SELECT dimension, key, date_trunc('day', hour, 'UTC'), sum(profit), sum(distributed), sum(to_team), sum(to_platform),
       sum(to_user), sum(withdrawn)
  FROM summary_hourly GROUP BY dimension, key, date_trunc('day', hour, 'UTC');
INSERT INTO summary_totals (dimension, key, profit, distributed, to_team, to_platform, to_user, withdrawn)
SELECT dimension, key, sum(profit), sum(distributed), sum(to_team), sum(to_platform), sum(to_user), sum(withdrawn)
  FROM summary_hourly GROUP BY dimension, key;

-- +goose StatementBegin
CREATE FUNCTION summary_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
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
    INSERT INTO summary_daily AS s (dimension, key, day, profit, distributed, to_team, to_platform, to_user, withdrawn)
    VALUES (NEW.dimension, NEW.key, date_trunc('day', NEW.hour, 'UTC'), d_profit, d_distributed, d_to_team, d_to_platform,
            d_to_user, d_withdrawn)
    ON CONFLICT (dimension, key, day) DO UPDATE SET
        profit = s.profit + EXCLUDED.profit, distributed = s.distributed + EXCLUDED.distributed,
        to_team = s.to_team + EXCLUDED.to_team, to_platform = s.to_platform + EXCLUDED.to_platform,
        to_user = s.to_user + EXCLUDED.to_user, withdrawn = s.withdrawn + EXCLUDED.withdrawn;
    INSERT INTO summary_totals AS s (dimension, key, profit, distributed, to_team, to_platform, to_user, withdrawn)
    VALUES (NEW.dimension, NEW.key, d_profit, d_distributed, d_to_team, d_to_platform, d_to_user, d_withdrawn)
    ON CONFLICT (dimension, key) DO UPDATE SET
        profit = s.profit + EXCLUDED.profit, distributed = s.distributed + EXCLUDED.distributed,
        to_team = s.to_team + EXCLUDED.to_team, to_platform = s.to_platform + EXCLUDED.to_platform,
        to_user = s.to_user + EXCLUDED.to_user, withdrawn = s.withdrawn + EXCLUDED.withdrawn;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER summary_hourly_rollup AFTER INSERT OR UPDATE ON summary_hourly
    FOR EACH ROW EXECUTE FUNCTION summary_rollup();

-- +goose Down
DROP TRIGGER summary_hourly_rollup ON summary_hourly;
DROP FUNCTION summary_rollup();
DROP TABLE summary_totals;
DROP TABLE summary_daily;
