-- +goose Up
-- The idempotent consumer (libs/inbox): which events a consumer group has
-- applied, and where it is in each partition. Both are written in the same
-- transaction as the event's effects.
CREATE TABLE processed_events (
    group_id     text        NOT NULL,
    event_id     uuid        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    "offset"     bigint      NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, event_id)
);
CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at);

CREATE TABLE consumer_offsets (
    group_id    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

-- +goose Down
DROP TABLE consumer_offsets;
DROP TABLE processed_events;
