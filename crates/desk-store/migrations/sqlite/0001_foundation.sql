-- Foundation schema (SQLite twin of postgres/0001). Times are BIGINT unix milliseconds on both backends so comparisons
-- (`deadline <= now`) never depend on a text format.

CREATE TABLE brands (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE departments (
    id          BLOB PRIMARY KEY,
    brand_id    BLOB NOT NULL REFERENCES brands(id),
    name        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    UNIQUE (brand_id, name)
);

CREATE TABLE operators (
    id             BLOB PRIMARY KEY,
    brand_id       BLOB REFERENCES brands(id),
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'operator')),
    password_hash  TEXT,
    capacity       INTEGER NOT NULL DEFAULT 5,
    presence       TEXT NOT NULL DEFAULT 'offline' CHECK (presence IN ('online', 'away', 'offline')),
    created_ms     BIGINT NOT NULL
);

CREATE TABLE department_members (
    department_id  BLOB NOT NULL REFERENCES departments(id),
    operator_id    BLOB NOT NULL REFERENCES operators(id),
    PRIMARY KEY (department_id, operator_id)
);

CREATE TABLE api_tokens (
    token_hash   BLOB PRIMARY KEY,
    operator_id  BLOB NOT NULL REFERENCES operators(id),
    label        TEXT NOT NULL,
    created_ms   BIGINT NOT NULL
);

CREATE TABLE line_channels (
    id                      BLOB PRIMARY KEY,
    brand_id                BLOB NOT NULL REFERENCES brands(id),
    department_id           BLOB NOT NULL REFERENCES departments(id),
    line_channel_id         TEXT NOT NULL,
    channel_key             TEXT NOT NULL UNIQUE,
    secret                  TEXT NOT NULL,
    previous_secret         TEXT,
    previous_secret_until_ms BIGINT,
    access_token            TEXT,
    token_expires_ms        BIGINT,
    bot_user_id             TEXT,
    basic_id                TEXT,
    display_name            TEXT NOT NULL DEFAULT '',
    picture_url             TEXT,
    signature_failures      BIGINT NOT NULL DEFAULT 0,
    reply_count             BIGINT NOT NULL DEFAULT 0,
    push_count              BIGINT NOT NULL DEFAULT 0,
    created_ms              BIGINT NOT NULL,
    removed_ms              BIGINT
);
-- A LINE channel can be connected once (while not removed).
CREATE UNIQUE INDEX line_channels_line_id ON line_channels (line_channel_id) WHERE removed_ms IS NULL;

CREATE TABLE contacts (
    id              BLOB PRIMARY KEY,
    channel_id      BLOB NOT NULL REFERENCES line_channels(id),
    kind            TEXT NOT NULL CHECK (kind IN ('user', 'group', 'room')),
    line_id         TEXT NOT NULL,
    display_name    TEXT,
    picture_url     TEXT,
    status_message  TEXT,
    language        TEXT,
    friend_status   TEXT NOT NULL DEFAULT 'unknown' CHECK (friend_status IN ('friend', 'blocked', 'unknown')),
    profile_ms      BIGINT,
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    UNIQUE (channel_id, line_id)
);

CREATE TABLE conversations (
    id                 BLOB PRIMARY KEY,
    brand_id           BLOB NOT NULL REFERENCES brands(id),
    channel_id         BLOB NOT NULL REFERENCES line_channels(id),
    contact_id         BLOB NOT NULL REFERENCES contacts(id),
    department_id      BLOB NOT NULL REFERENCES departments(id),
    assignee_id        BLOB REFERENCES operators(id),
    previous_id        BLOB REFERENCES conversations(id),
    state              TEXT NOT NULL CHECK (state IN ('bot', 'waiting', 'missed', 'open', 'closed')),
    close_reason       TEXT CHECK (close_reason IN ('operator', 'idle', 'missed_timeout', 'bot_idle', 'blocked')),
    opened_ms          BIGINT NOT NULL,
    closed_ms          BIGINT,
    last_message_ms    BIGINT NOT NULL,
    reply_token        TEXT,
    reply_token_ms     BIGINT,
    pickup_deadline_ms BIGINT,
    missed_close_at_ms BIGINT,
    idle_close_at_ms   BIGINT,
    CHECK ((state = 'closed') = (close_reason IS NOT NULL))
);
-- At most one live conversation per contact: the user's next message after a close opens a new one.
CREATE UNIQUE INDEX conversations_live_contact ON conversations (contact_id) WHERE state <> 'closed';
CREATE INDEX conversations_brand_recent ON conversations (brand_id, last_message_ms DESC);

CREATE TABLE messages (
    id                 BLOB PRIMARY KEY,
    conversation_id    BLOB NOT NULL REFERENCES conversations(id),
    channel_id         BLOB NOT NULL REFERENCES line_channels(id),
    direction          TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    kind               TEXT NOT NULL,
    body               TEXT NOT NULL,
    line_message_id    TEXT,
    quote_token        TEXT,
    mark_as_read_token TEXT,
    sender_line_id     TEXT,
    sender_operator_id BLOB REFERENCES operators(id),
    status             TEXT NOT NULL CHECK (status IN ('received', 'pending', 'sent', 'failed')),
    failure_reason     TEXT,
    sent_via           TEXT CHECK (sent_via IN ('reply', 'push')),
    unsent             BOOLEAN NOT NULL DEFAULT 0,
    event_ms           BIGINT NOT NULL,
    created_ms         BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_line_id ON messages (channel_id, line_message_id);
CREATE INDEX messages_conversation ON messages (conversation_id, event_ms);

CREATE TABLE webhook_inbox (
    id            INTEGER PRIMARY KEY,
    channel_id    BLOB NOT NULL REFERENCES line_channels(id),
    dedupe_key    TEXT NOT NULL,
    chat_key      TEXT,
    event_type    TEXT NOT NULL,
    event_ms      BIGINT NOT NULL,
    raw           TEXT NOT NULL,
    received_ms   BIGINT NOT NULL,
    lease_until_ms BIGINT,
    processed_ms  BIGINT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    -- De-duplication. A redelivery repeats the event's timestamp, so leading with it changes
    -- nothing about which events collide, but keeps index inserts in time order even when
    -- event ids are random: each commit touches one index page, not one per event.
    UNIQUE (channel_id, event_ms, dedupe_key)
);
CREATE INDEX webhook_inbox_pending ON webhook_inbox (id) WHERE processed_ms IS NULL;

CREATE TABLE outbox (
    id               BLOB PRIMARY KEY,
    message_id       BLOB NOT NULL REFERENCES messages(id),
    conversation_id  BLOB NOT NULL REFERENCES conversations(id),
    channel_id       BLOB NOT NULL REFERENCES line_channels(id),
    to_line_id       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL,
    lease_until_ms   BIGINT,
    last_error       TEXT,
    created_ms       BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_ms) WHERE status = 'pending';

CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    brand_id         BLOB NOT NULL REFERENCES brands(id),
    conversation_id  BLOB,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_ms       BIGINT NOT NULL
);
CREATE INDEX events_brand ON events (brand_id, id);
