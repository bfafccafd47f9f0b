-- Indexes for the console's chat lists and their counts (desk-store/src/console.rs), so that
-- neither walks a brand's whole chat history: live lists and counts read only live chats,
-- "Completed" reads closed chats in the order it shows them.

-- Open and Mine (newest message first) and the list counts: the brand's live chats only.
CREATE INDEX conversations_brand_live ON conversations (brand_id, last_message_ms DESC, id)
    WHERE state <> 'closed';
-- Waiting and Missed: one state of the brand, oldest first.
CREATE INDEX conversations_brand_state_opened ON conversations (brand_id, state, opened_ms, id);
-- Completed: most recently closed first.
CREATE INDEX conversations_brand_closed ON conversations (brand_id, closed_ms DESC, id)
    WHERE state = 'closed';
