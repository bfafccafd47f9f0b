-- Chatbot (Postgres twin of sqlite/0007): each channel's bot, what the rules bot remembers
-- per chat, the external bot's failures, and which messages the bot wrote.

-- One row per channel that ever configured a bot. `rules` is the rules bot's JSON (kept when
-- the mode changes, so switching back restores it); the external bot's signing secret is
-- sealed like the LINE channel secret.
CREATE TABLE channel_bots (
    channel_id        UUID PRIMARY KEY REFERENCES line_channels(id),
    mode              TEXT NOT NULL CHECK (mode IN ('off', 'rules', 'external')),
    rules             JSONB,
    external_url      TEXT,
    external_secret   BYTEA,
    updated_ms        BIGINT NOT NULL
);

-- The rules bot's memory of a chat: the question it could not answer (a repeat hands off).
CREATE TABLE bot_chats (
    conversation_id   UUID PRIMARY KEY REFERENCES conversations(id),
    unanswered        TEXT,
    updated_ms        BIGINT NOT NULL
);

-- External bot calls that failed (timeout, transport error, non-2xx status, bad answer, or a
-- signing secret this server cannot open): the chat went to operators.
CREATE TABLE bot_failures (
    id                BIGSERIAL PRIMARY KEY,
    channel_id        UUID NOT NULL REFERENCES line_channels(id),
    conversation_id   UUID REFERENCES conversations(id),
    kind              TEXT NOT NULL CHECK (kind IN ('timeout', 'http', 'status', 'answer', 'secret')),
    detail            TEXT NOT NULL,
    created_ms        BIGINT NOT NULL
);
CREATE INDEX bot_failures_channel ON bot_failures (channel_id, id);

-- Messages the bot wrote. A bot turn of several messages is one LINE call: the first message
-- carries the send job, the others name it in `bundle_of` and share its outcome.
ALTER TABLE messages ADD COLUMN sender_bot BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE messages ADD COLUMN bundle_of UUID;
CREATE INDEX messages_bundle ON messages (bundle_of) WHERE bundle_of IS NOT NULL;
