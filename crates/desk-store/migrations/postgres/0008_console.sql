-- Operator console: canned responses, notes on contacts, per-operator read markers (unread
-- counts) and per-chat LINE courtesy calls (loading animation throttle, last mark-as-read).

CREATE TABLE canned_responses (
    id             UUID PRIMARY KEY,
    brand_id       UUID NOT NULL REFERENCES brands(id),
    -- NULL: every department of the brand.
    department_id  UUID REFERENCES departments(id),
    title          TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_ms     BIGINT NOT NULL,
    updated_ms     BIGINT NOT NULL
);
CREATE INDEX canned_responses_brand ON canned_responses (brand_id, title);

CREATE TABLE contact_notes (
    id          UUID PRIMARY KEY,
    contact_id  UUID NOT NULL REFERENCES contacts(id),
    author_id   UUID REFERENCES operators(id),
    body        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
CREATE INDEX contact_notes_contact ON contact_notes (contact_id, created_ms);

-- Inbound messages newer than `read_ms` are unread for this operator.
CREATE TABLE read_markers (
    operator_id      UUID NOT NULL REFERENCES operators(id),
    conversation_id  UUID NOT NULL REFERENCES conversations(id),
    read_ms          BIGINT NOT NULL,
    PRIMARY KEY (operator_id, conversation_id)
);

-- Shared by instances, so the throttle and "already marked read" hold across them.
CREATE TABLE chat_courtesy (
    conversation_id        UUID PRIMARY KEY REFERENCES conversations(id),
    loading_started_ms     BIGINT,
    marked_read_message_ms BIGINT
);

-- A chat's timeline (assigned, transferred, follow, …) is read from the realtime log.
CREATE INDEX events_timeline ON events (conversation_id, id) WHERE kind = 'timeline';
