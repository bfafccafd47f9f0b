-- Routing: how each department hands out chats, and when each operator was last given one
-- (round robin's "least recently assigned" survives restarts and is shared by instances).

ALTER TABLE departments ADD COLUMN routing_mode TEXT NOT NULL DEFAULT 'notify_all'
    CHECK (routing_mode IN ('notify_all', 'round_robin', 'last_attender_first'));
ALTER TABLE operators ADD COLUMN last_assigned_ms BIGINT;

-- Notify-all: who a waiting chat has been shown to, as JSON {"department_id", "operators"},
-- so routing again (after every change, by any instance) only tells those not told yet.
-- Cleared whenever the chat gets an assignee.
ALTER TABLE conversations ADD COLUMN offered_to TEXT;
