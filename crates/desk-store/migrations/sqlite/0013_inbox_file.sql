-- The webhook inbox moves to a file of its own (sqlite-inbox/0001). Each step touches one
-- file: in WAL mode SQLite commits attached files one by one, so a transaction spanning both
-- could survive a crash in one file and not the other.
--
-- Here: the old table is set aside (not dropped); on start the store copies its rows into the
-- inbox file and only then drops it (`Store::migrate`).

-- Bot turns point at inbox rows, which now live in the other file: no foreign key across
-- files. Rebuilt without it (SQLite cannot drop a constraint).
CREATE TABLE bot_turns_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The stored webhook event the bot answers (its raw JSON stays in the inbox).
    inbox_id         BIGINT NOT NULL UNIQUE,
    channel_id       BLOB NOT NULL REFERENCES line_channels(id),
    chat_key         TEXT NOT NULL,
    contact_id       BLOB NOT NULL REFERENCES contacts(id),
    conversation_id  BLOB REFERENCES conversations(id),
    opened           BOOLEAN NOT NULL,
    new_message      BOOLEAN NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_until_ms   BIGINT,
    last_error       TEXT,
    created_ms       BIGINT NOT NULL,
    done_ms          BIGINT
);
INSERT INTO bot_turns_new SELECT * FROM bot_turns;
DROP TABLE bot_turns;
ALTER TABLE bot_turns_new RENAME TO bot_turns;
CREATE INDEX bot_turns_pending ON bot_turns (channel_id, chat_key, id) WHERE status = 'pending';

ALTER TABLE webhook_inbox RENAME TO webhook_inbox_0012;

-- Which inbox events are applied, written in the transaction that applies them: what makes
-- applying exactly-once now that the inbox row is marked in another file. An event applied
-- and not yet marked (a crash between the two commits) is claimed again, found here, and
-- only marked.
CREATE TABLE inbox_applied (
    inbox_id    INTEGER PRIMARY KEY,
    applied_ms  BIGINT NOT NULL
);
