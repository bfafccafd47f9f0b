-- Conversation lifecycle: per-channel settings, department business hours, and one indexed
-- "next deadline" per live conversation for the timer worker. `version` makes every
-- lifecycle write conditional (`... WHERE version = $seen`), so two instances never both
-- apply a transition.

ALTER TABLE line_channels ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE departments ADD COLUMN business_hours TEXT;
ALTER TABLE conversations ADD COLUMN next_deadline_ms BIGINT;
ALTER TABLE conversations ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
CREATE INDEX conversations_due ON conversations (next_deadline_ms) WHERE next_deadline_ms IS NOT NULL;

-- In group and room chats, who wrote each message (the member's LINE name).
ALTER TABLE messages ADD COLUMN sender_name TEXT;
