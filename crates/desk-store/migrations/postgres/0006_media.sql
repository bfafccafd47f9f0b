-- Media: every stored attachment, outgoing (uploaded by an operator, converted for LINE) and
-- incoming (downloaded from LINE's content endpoint). An incoming row is created with its
-- message, in the same transaction, as a durable download job (state 'pending'); the media
-- worker claims it, stores the content and marks it 'ready'. Unsend and retention move a row
-- to 'purge'; the worker deletes its objects and marks it 'deleted' (the row stays, so the
-- console can say the content was removed).
CREATE TABLE media (
    id              UUID PRIMARY KEY,
    brand_id        UUID NOT NULL REFERENCES brands(id),
    channel_id      UUID NOT NULL REFERENCES line_channels(id),
    message_id      UUID UNIQUE REFERENCES messages(id),
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    kind            TEXT NOT NULL CHECK (kind IN ('image', 'video', 'audio', 'file')),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'gone', 'failed', 'purge', 'deleted')),
    content_type    TEXT,
    size_bytes      BIGINT NOT NULL DEFAULT 0,
    -- Original plus preview and thumbnail: what the media costs in storage.
    stored_bytes    BIGINT NOT NULL DEFAULT 0,
    object_key      TEXT,
    preview_key     TEXT,
    thumb_key       TEXT,
    width           INTEGER,
    height          INTEGER,
    duration_ms     BIGINT,
    file_name       TEXT,
    line_message_id TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL DEFAULT 0,
    lease_until_ms  BIGINT,
    last_error      TEXT,
    created_ms      BIGINT NOT NULL,
    stored_ms       BIGINT
);
-- The worker's queues: pending downloads by due time, and rows to purge.
CREATE INDEX media_due ON media (next_attempt_ms) WHERE state IN ('pending', 'purge');
CREATE INDEX media_brand ON media (brand_id, state);
-- Retention: incoming media by age.
CREATE INDEX media_incoming_age ON media (created_ms) WHERE direction = 'in' AND state = 'ready';
