-- +goose Up
-- The loss carry-forward is NUMERIC(38,8) (docs/api.md#money-and-rounding).
-- One loss has at most 12 integer digits, but losses add up: at
-- NUMERIC(20,8) a carry-forward past 10^12 failed its NAV event, and later
-- profits were then paid without absorbing it. Widening keeps the scale, so
-- PostgreSQL rewrites neither table.
ALTER TABLE portfolios ALTER COLUMN loss_carryforward TYPE numeric(38,8);
ALTER TABLE allocations
    ALTER COLUMN loss_carryforward_before TYPE numeric(38,8),
    ALTER COLUMN loss_carryforward_after  TYPE numeric(38,8);

-- +goose Down
ALTER TABLE allocations
    ALTER COLUMN loss_carryforward_before TYPE numeric(20,8),
    ALTER COLUMN loss_carryforward_after  TYPE numeric(20,8);
ALTER TABLE portfolios ALTER COLUMN loss_carryforward TYPE numeric(20,8);
