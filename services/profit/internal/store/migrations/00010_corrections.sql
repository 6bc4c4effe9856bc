-- +goose Up
-- NAV corrections (docs/api.md#nav-corrections). An allocation is never
-- edited by a correction: it is reversed (a row of allocation_reversals
-- names it) and a new allocation, source 'correction', replaces it;
-- corrects names the allocation it replaces, snapshot_of the NAV snapshot
-- whose profit it carries (NULL when it replaces a manual profit) and
-- correction_id the portfolio service's correction. Expand only: the
-- previous release writes 'nav' and 'manual' rows as before and never
-- reads these columns.
ALTER TABLE allocations DROP CONSTRAINT allocations_source_check;
ALTER TABLE allocations ADD CONSTRAINT allocations_source_check CHECK (source IN ('nav', 'manual', 'correction'));
ALTER TABLE allocations ADD COLUMN corrects bigint UNIQUE REFERENCES allocations (id);
ALTER TABLE allocations ADD COLUMN snapshot_of bigint;
ALTER TABLE allocations ADD COLUMN correction_id bigint;
ALTER TABLE allocations ADD CONSTRAINT allocations_correction_check
    CHECK ((source = 'correction') = (correction_id IS NOT NULL) AND (source = 'correction' OR (corrects IS NULL AND snapshot_of IS NULL)));
CREATE INDEX allocations_snapshot_of ON allocations (snapshot_of) WHERE snapshot_of IS NOT NULL;

-- A reversal takes back everything its allocation did; an allocation is
-- reversed at most once.
CREATE TABLE allocation_reversals (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    allocation_id   bigint      NOT NULL UNIQUE REFERENCES allocations (id),
    portfolio_id    bigint      NOT NULL REFERENCES portfolios (portfolio_id),
    correction_id   bigint      NOT NULL,
    -- The portfolio.nav_corrected event that caused it.
    source_event_id uuid        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX allocation_reversals_correction ON allocation_reversals (correction_id);

-- +goose Down
DROP TABLE allocation_reversals;
ALTER TABLE allocations DROP CONSTRAINT allocations_correction_check;
ALTER TABLE allocations DROP COLUMN correction_id;
ALTER TABLE allocations DROP COLUMN snapshot_of;
ALTER TABLE allocations DROP COLUMN corrects;
ALTER TABLE allocations DROP CONSTRAINT allocations_source_check;
ALTER TABLE allocations ADD CONSTRAINT allocations_source_check CHECK (source IN ('nav', 'manual'));
