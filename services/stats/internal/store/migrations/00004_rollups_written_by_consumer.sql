-- The stats consumer writes summary_daily and summary_totals itself, one
-- set-based statement each, in the transaction that writes summary_hourly,
-- and marks that transaction (set_config('stats.rollups', 'app', true)).
-- The row trigger of 00003 stands down for such a transaction (it ran two
-- upserts per hourly row, the most costly part of applying a run) and
-- keeps the roll-ups right for any other writer of summary_hourly: the
-- previous release during a rolling upgrade, a manual correction.

-- +goose Up
CREATE OR REPLACE TRIGGER summary_hourly_rollup AFTER INSERT OR UPDATE ON summary_hourly
    FOR EACH ROW WHEN (current_setting('stats.rollups', true) IS DISTINCT FROM 'app')
    EXECUTE FUNCTION summary_rollup();

-- +goose Down
CREATE OR REPLACE TRIGGER summary_hourly_rollup AFTER INSERT OR UPDATE ON summary_hourly
    FOR EACH ROW EXECUTE FUNCTION summary_rollup();
