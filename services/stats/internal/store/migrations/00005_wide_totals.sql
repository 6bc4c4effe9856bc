-- +goose Up
-- Every running total is NUMERIC(38,8), as in the profit and withdrawal
-- services (docs/api.md#money-and-rounding): NUMERIC(28,8) held 10^8
-- maximal amounts, a bound nothing enforced. Widening keeps the scale, so
-- PostgreSQL rewrites none of these tables.
ALTER TABLE portfolio_totals
    ALTER COLUMN acc_profit        TYPE numeric(38,8),
    ALTER COLUMN distributed       TYPE numeric(38,8),
    ALTER COLUMN to_team_total     TYPE numeric(38,8),
    ALTER COLUMN to_platform_total TYPE numeric(38,8),
    ALTER COLUMN to_user_total     TYPE numeric(38,8),
    ALTER COLUMN loss_carryforward TYPE numeric(38,8);
ALTER TABLE hourly_owner_profit
    ALTER COLUMN profit TYPE numeric(38,8);
ALTER TABLE summary_hourly
    ALTER COLUMN profit      TYPE numeric(38,8),
    ALTER COLUMN distributed TYPE numeric(38,8),
    ALTER COLUMN to_team     TYPE numeric(38,8),
    ALTER COLUMN to_platform TYPE numeric(38,8),
    ALTER COLUMN to_user     TYPE numeric(38,8),
    ALTER COLUMN withdrawn   TYPE numeric(38,8);
ALTER TABLE summary_daily
    ALTER COLUMN profit      TYPE numeric(38,8),
    ALTER COLUMN distributed TYPE numeric(38,8),
    ALTER COLUMN to_team     TYPE numeric(38,8),
    ALTER COLUMN to_platform TYPE numeric(38,8),
    ALTER COLUMN to_user     TYPE numeric(38,8),
    ALTER COLUMN withdrawn   TYPE numeric(38,8);
ALTER TABLE summary_totals
    ALTER COLUMN profit      TYPE numeric(38,8),
    ALTER COLUMN distributed TYPE numeric(38,8),
    ALTER COLUMN to_team     TYPE numeric(38,8),
    ALTER COLUMN to_platform TYPE numeric(38,8),
    ALTER COLUMN to_user     TYPE numeric(38,8),
    ALTER COLUMN withdrawn   TYPE numeric(38,8);
ALTER TABLE withdrawals_by_status
    ALTER COLUMN amount TYPE numeric(38,8);
ALTER TABLE overview
    ALTER COLUMN total_profit            TYPE numeric(38,8),
    ALTER COLUMN total_distributed       TYPE numeric(38,8),
    ALTER COLUMN to_team_total           TYPE numeric(38,8),
    ALTER COLUMN to_platform_total       TYPE numeric(38,8),
    ALTER COLUMN to_user_total           TYPE numeric(38,8),
    ALTER COLUMN loss_carryforward_total TYPE numeric(38,8),
    ALTER COLUMN reallocated_total       TYPE numeric(38,8);

-- +goose Down
ALTER TABLE portfolio_totals
    ALTER COLUMN acc_profit        TYPE numeric(28,8),
    ALTER COLUMN distributed       TYPE numeric(28,8),
    ALTER COLUMN to_team_total     TYPE numeric(28,8),
    ALTER COLUMN to_platform_total TYPE numeric(28,8),
    ALTER COLUMN to_user_total     TYPE numeric(28,8),
    ALTER COLUMN loss_carryforward TYPE numeric(28,8);
ALTER TABLE hourly_owner_profit
    ALTER COLUMN profit TYPE numeric(28,8);
ALTER TABLE summary_hourly
    ALTER COLUMN profit      TYPE numeric(28,8),
    ALTER COLUMN distributed TYPE numeric(28,8),
    ALTER COLUMN to_team     TYPE numeric(28,8),
    ALTER COLUMN to_platform TYPE numeric(28,8),
    ALTER COLUMN to_user     TYPE numeric(28,8),
    ALTER COLUMN withdrawn   TYPE numeric(28,8);
ALTER TABLE summary_daily
    ALTER COLUMN profit      TYPE numeric(28,8),
    ALTER COLUMN distributed TYPE numeric(28,8),
    ALTER COLUMN to_team     TYPE numeric(28,8),
    ALTER COLUMN to_platform TYPE numeric(28,8),
    ALTER COLUMN to_user     TYPE numeric(28,8),
    ALTER COLUMN withdrawn   TYPE numeric(28,8);
ALTER TABLE summary_totals
    ALTER COLUMN profit      TYPE numeric(28,8),
    ALTER COLUMN distributed TYPE numeric(28,8),
    ALTER COLUMN to_team     TYPE numeric(28,8),
    ALTER COLUMN to_platform TYPE numeric(28,8),
    ALTER COLUMN to_user     TYPE numeric(28,8),
    ALTER COLUMN withdrawn   TYPE numeric(28,8);
ALTER TABLE withdrawals_by_status
    ALTER COLUMN amount TYPE numeric(28,8);
ALTER TABLE overview
    ALTER COLUMN total_profit            TYPE numeric(28,8),
    ALTER COLUMN total_distributed       TYPE numeric(28,8),
    ALTER COLUMN to_team_total           TYPE numeric(28,8),
    ALTER COLUMN to_platform_total       TYPE numeric(28,8),
    ALTER COLUMN to_user_total           TYPE numeric(28,8),
    ALTER COLUMN loss_carryforward_total TYPE numeric(28,8),
    ALTER COLUMN reallocated_total       TYPE numeric(28,8);
