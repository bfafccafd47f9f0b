-- The webhook inbox in a SQLite file of its own (see the store's `Backend::Sqlite`): webhook
-- requests commit here through their own writer, never queued behind the transactions that
-- apply events to the desk. Same columns as the table it replaces (sqlite/0001); the channel
-- has no foreign key, since the channels live in the other file.
CREATE TABLE webhook_inbox (
    id            INTEGER PRIMARY KEY,
    channel_id    BLOB NOT NULL,
    dedupe_key    TEXT NOT NULL,
    chat_key      TEXT,
    event_type    TEXT NOT NULL,
    event_ms      BIGINT NOT NULL,
    raw           TEXT NOT NULL,
    received_ms   BIGINT NOT NULL,
    lease_until_ms BIGINT,
    -- Set once the event is applied in the desk's file (where `inbox_applied` records it in
    -- the applying transaction), so the processor stops claiming it.
    processed_ms  BIGINT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    UNIQUE (channel_id, event_ms, dedupe_key)
);
CREATE INDEX webhook_inbox_pending ON webhook_inbox (id) WHERE processed_ms IS NULL;
