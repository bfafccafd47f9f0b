-- A contact's chats, newest first: the previous chat a new one links to (looked up for every
-- chat a user opens) and the contact panel's earlier chats. Without it both read every chat.
CREATE INDEX conversations_contact_opened ON conversations (contact_id, opened_ms DESC, id DESC);
