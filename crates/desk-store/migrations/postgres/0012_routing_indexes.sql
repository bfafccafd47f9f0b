-- Routing reads a department's line (its unassigned live chats) and the live chats its members
-- hold, after every new chat and every change in the room. Without these both read every chat.
CREATE INDEX conversations_department_line ON conversations (department_id, state)
    WHERE assignee_id IS NULL;
CREATE INDEX conversations_assignee_live ON conversations (assignee_id, state)
    WHERE assignee_id IS NOT NULL;
