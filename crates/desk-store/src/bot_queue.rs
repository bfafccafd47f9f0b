//! The chatbot's durable queue of turns. An inbound event of a channel whose bot is on queues a
//! turn in the transaction that applies it ([`queue_bot_turn!`]); the bot worker claims turns
//! with a lease, one chat's turns one after the other, and the transaction that writes the
//! bot's answer marks the turn done ([`crate::BotTurn::queued`]). A crash anywhere in between
//! leaves the turn pending, and it is answered again after the lease (on SQLite, at once after
//! a restart: see [`Store::release_stale_leases`]).

use desk_core::{ChannelId, ContactId, ConversationId, Millis};

use crate::{Result, Store, claim, execute, on_write};

/// A claimed bot turn, with the stored webhook event it answers.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct QueuedBotTurn {
    pub id: i64,
    /// Claims so far, this one included.
    pub attempts: i32,
    #[sqlx(try_from = "uuid::Uuid")]
    pub channel_id: ChannelId,
    #[sqlx(try_from = "uuid::Uuid")]
    pub contact_id: ContactId,
    pub conversation_id: Option<uuid::Uuid>,
    /// The event started the chat.
    pub opened: bool,
    /// The event stored a new user message.
    pub new_message: bool,
    /// The webhook event as LINE sent it.
    pub raw: String,
    pub event_ms: Millis,
}

impl QueuedBotTurn {
    /// The chat the event landed in, if any.
    pub fn conversation(&self) -> Option<ConversationId> {
        self.conversation_id.map(ConversationId)
    }
}

/// Queues a bot turn for an applied inbound event inside the open transaction `$tx` (a
/// `&mut Transaction`): only when the channel's bot is on, the event reached a contact (a
/// duplicate or an event applied before reaches none) and its chat, if any, is the bot's.
macro_rules! queue_bot_turn {
    ($tx:expr, $bot_on:expr, $inbox_id:expr, $applied:expr, $now:expr) => {{
        let applied: &Applied = $applied;
        if $bot_on && let Some(contact) = applied.contact_id {
            sqlx::query(
                "INSERT INTO bot_turns (inbox_id, channel_id, chat_key, contact_id, conversation_id, opened,
                 new_message, status, created_ms)
                 SELECT id, channel_id, COALESCE(chat_key, ''), $2, $3, $4, $5, 'pending', $6
                 FROM webhook_inbox WHERE id = $1
                 AND ($3 IS NULL OR EXISTS (SELECT 1 FROM conversations WHERE id = $3 AND state = 'bot'))
                 ON CONFLICT (inbox_id) DO NOTHING",
            )
            .bind($inbox_id)
            .bind(contact.0)
            .bind(applied.conversation_id.map(|c| c.0))
            .bind(applied.opened)
            .bind(applied.message_id.is_some())
            .bind($now)
            .execute(&mut **$tx)
            .await?;
        }
    }};
}

impl Store {
    /// Leases up to `limit` turns for `lease_ms`: for each chat, only its oldest pending turn,
    /// and only while no other worker holds it (so a chat's turns are answered in order).
    pub async fn bot_turns_claim(
        &self,
        now: Millis,
        lease_ms: Millis,
        limit: i64,
    ) -> Result<Vec<QueuedBotTurn>> {
        // A read first: most wake-ups (every inbox batch) find nothing, and on SQLite a claim
        // would take the single writer that ingest needs.
        let any: Option<(i64,)> = crate::on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT id FROM bot_turns WHERE status = 'pending' LIMIT 1")
                .fetch_optional(pool)
                .await
        })?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        // The first pending turn of each chat whose earlier turns are all done.
        let ids: Vec<(i64,)> = claim!(
            self,
            "bot_turns",
            "SELECT t.id FROM bot_turns t WHERE t.status = 'pending' \
             AND (t.lease_until_ms IS NULL OR t.lease_until_ms < $2) \
             AND NOT EXISTS (SELECT 1 FROM bot_turns e WHERE e.status = 'pending' \
             AND e.channel_id = t.channel_id AND e.chat_key = t.chat_key AND e.id < t.id) \
             ORDER BY t.id LIMIT $3",
            "id",
            now,
            lease_ms,
            limit
        )?;
        let mut turns = Vec::with_capacity(ids.len());
        for (id,) in ids {
            let turn: QueuedBotTurn = on_write!(self.backend(), |pool| {
                sqlx::query_as(
                    "SELECT t.id, t.attempts, t.channel_id, t.contact_id, t.conversation_id, t.opened,
                     t.new_message, i.raw, i.event_ms
                     FROM bot_turns t JOIN webhook_inbox i ON i.id = t.inbox_id WHERE t.id = $1",
                )
                .bind(id)
                .fetch_one(pool)
                .await
            })?;
            turns.push(turn);
        }
        turns.sort_by_key(|t| t.id);
        Ok(turns)
    }

    /// Marks a turn done without an answer (the bot had nothing to say, or no longer holds
    /// the chat). Returns false when it was already finished.
    pub async fn bot_turn_done(&self, id: i64, now: Millis) -> Result<bool> {
        let done = execute!(
            self,
            "UPDATE bot_turns SET status = 'done', done_ms = $1, lease_until_ms = NULL
             WHERE id = $2 AND status = 'pending'",
            now,
            id
        )?;
        Ok(done == 1)
    }

    /// Records why a turn failed: it is claimed again at `retry_at`, or set aside as `failed`
    /// (kept, with its error) when `give_up`.
    pub async fn bot_turn_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Millis,
        give_up: bool,
        now: Millis,
    ) -> Result<()> {
        execute!(
            self,
            "UPDATE bot_turns SET last_error = $1, lease_until_ms = $2,
             status = CASE WHEN $3 THEN 'failed' ELSE status END,
             done_ms = CASE WHEN $3 THEN $4 ELSE done_ms END
             WHERE id = $5 AND status = 'pending'",
            error,
            retry_at,
            give_up,
            now,
            id
        )?;
        Ok(())
    }

    /// Turns not finished yet (pending or leased), for tests and the console's health view.
    pub async fn bot_turns_pending(&self) -> Result<i64> {
        let (n,): (i64,) = crate::on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM bot_turns WHERE status = 'pending'")
                .fetch_one(pool)
                .await
        })?;
        Ok(n)
    }
}
