-- Durable chatbot turns (Postgres twin of sqlite/0009). Written in the transaction that applies
-- an inbound event of a channel whose bot is on, so a crash between the inbox commit and the
-- bot's answer loses nothing: the bot worker claims pending turns with a lease, asks the bot
-- outside any transaction, and marks the turn done in the transaction that writes its answer.
-- A turn that is already done is never written again (a turn applied twice sends once).
CREATE TABLE bot_turns (
    id               BIGSERIAL PRIMARY KEY,
    -- The stored webhook event the bot answers (its raw JSON stays in the inbox).
    inbox_id         BIGINT NOT NULL UNIQUE REFERENCES webhook_inbox(id),
    channel_id       UUID NOT NULL REFERENCES line_channels(id),
    -- Turns of one chat are answered one after the other, in id order.
    chat_key         TEXT NOT NULL,
    contact_id       UUID NOT NULL REFERENCES contacts(id),
    conversation_id  UUID REFERENCES conversations(id),
    -- The event started the chat.
    opened           BOOLEAN NOT NULL,
    -- The event stored a new user message (its reply token is kept on the chat).
    new_message      BOOLEAN NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_until_ms   BIGINT,
    last_error       TEXT,
    created_ms       BIGINT NOT NULL,
    done_ms          BIGINT
);
CREATE INDEX bot_turns_pending ON bot_turns (channel_id, chat_key, id) WHERE status = 'pending';
