-- +goose Up
-- When each ratio version takes effect (docs/api.md#allocation-rule): a
-- profit is split with the version in effect at its period_end, not the one
-- current when its event happens to be processed. Existing versions took
-- effect when they were created. The column stays nullable so that the
-- previous release, which inserts without it, can run beside this one: a
-- NULL reads as created_at.
ALTER TABLE ratios ADD COLUMN effective_from timestamptz;
UPDATE ratios SET effective_from = created_at;

-- +goose Down
ALTER TABLE ratios DROP COLUMN effective_from;
