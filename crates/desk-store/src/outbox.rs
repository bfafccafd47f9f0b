//! The outbox: an operator's message and its send job are written in one transaction; the
//! sender worker claims jobs, talks to LINE, and records the outcome on the message.

use desk_core::lifecycle::{Command, apply};
use desk_core::{
    ConversationId, ConversationState, FriendStatus, MessageKind, Millis, OperatorId, SentVia,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    ChatRules, Message, OutboxJob, Result, SendOutcome, Store, StoreError, claim, next_due,
    on_read, on_write,
};

/// Why a conversation refuses an outgoing message: shown to the operator as is.
pub const CHAT_COMPLETED: &str = "this chat is completed";
/// The contact blocked the account.
pub const CONTACT_BLOCKED: &str = "the user has blocked this account, so nothing can be sent";

impl Store {
    /// Stores an operator's outgoing message (status `pending`) and its send job, after the
    /// conversation accepts it: the message goes through the lifecycle (an operator's answer
    /// picks up a waiting or missed chat and resets the idle timer), so a completed chat, a
    /// chat another operator holds, or a blocked user refuses it with the reason.
    /// `line_message` is the LINE message object to send.
    pub async fn enqueue_message(
        &self,
        conversation: ConversationId,
        sender: OperatorId,
        kind: MessageKind,
        line_message: Value,
        rules: &ChatRules,
        now: Millis,
    ) -> Result<Message> {
        let capacity = self.per_backend(
            crate::lifecycle::CAPACITY_SQLITE,
            crate::lifecycle::CAPACITY_POSTGRES,
        );
        let id = on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let row = load_lifecycle!(&mut *tx, conversation)
                .ok_or(StoreError::NotFound("conversation"))?;
            let (friend_status, to): (String, String) =
                sqlx::query_as("SELECT friend_status, line_id FROM contacts WHERE id = $1")
                    .bind(row.contact_id)
                    .fetch_one(&mut *tx)
                    .await?;
            // Blocked first: it is why a blocked user's chat closed, and the more useful reason.
            if friend_status == FriendStatus::Blocked.as_str() {
                return Err(StoreError::Conflict(CONTACT_BLOCKED.into()));
            }
            if row.state == ConversationState::Closed.as_str() {
                return Err(StoreError::Conflict(CHAT_COMPLETED.into()));
            }
            let transition = apply(
                &row.conversation()?,
                Command::OperatorMessage { operator: sender },
                &rules.settings,
                rules.hours.as_ref(),
                now,
            )
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
            check_capacity!(&mut tx, capacity, row.assignee_id, &transition);
            if !save_lifecycle!(&mut *tx, &transition.conversation, row.version) {
                return Err(StoreError::Conflict(crate::lifecycle::CHAT_CHANGED.into()));
            }
            let brand = desk_core::BrandId(row.brand_id);
            let id = queue_send!(
                &mut tx,
                brand,
                row.channel_id,
                conversation,
                Some(sender.0),
                &to,
                kind,
                line_message,
                now
            );
            record_transition!(&mut tx, row.brand_id, row.channel_id, &transition, now);
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        self.message(id).await
    }

    /// Leases due send jobs. A crashed sender's lease runs out and the job is claimed again;
    /// the retry key (the job id) keeps LINE from delivering a push twice.
    pub async fn outbox_claim(
        &self,
        now: Millis,
        lease_ms: Millis,
        limit: i64,
    ) -> Result<Vec<OutboxJob>> {
        Ok(claim!(
            self,
            "outbox",
            "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $2 \
             AND (lease_until_ms IS NULL OR lease_until_ms < $2) ORDER BY next_attempt_ms LIMIT $3",
            "id, message_id, conversation_id, channel_id, to_line_id, payload, attempts",
            now,
            lease_ms,
            limit
        )?)
    }

    /// The earliest time a pending job is due, to sleep until then.
    pub async fn outbox_next_due(&self) -> Result<Option<Millis>> {
        next_due!(self, "FROM outbox WHERE status = 'pending'")
    }

    /// Records how a send ended, on the job and on its message.
    pub async fn outbox_finish(
        &self,
        job: &OutboxJob,
        outcome: &SendOutcome,
        now: Millis,
    ) -> Result<()> {
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            match outcome {
                SendOutcome::Sent {
                    via,
                    line_message_id,
                    quote_token,
                } => {
                    sqlx::query("UPDATE outbox SET status = 'sent', lease_until_ms = NULL, last_error = NULL WHERE id = $1")
                        .bind(job.id.0)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE messages SET status = 'sent', sent_via = $1, line_message_id = $2, quote_token = $3,
                         failure_reason = NULL WHERE id = $4",
                    )
                    .bind(via.as_str())
                    .bind(line_message_id)
                    .bind(quote_token)
                    .bind(job.message_id.0)
                    .execute(&mut *tx)
                    .await?;
                    let counter = match via {
                        SentVia::Reply => {
                            "UPDATE line_channels SET reply_count = reply_count + 1 WHERE id = $1"
                        }
                        SentVia::Push => {
                            "UPDATE line_channels SET push_count = push_count + 1 WHERE id = $1"
                        }
                    };
                    sqlx::query(counter)
                        .bind(job.channel_id.0)
                        .execute(&mut *tx)
                        .await?;
                }
                SendOutcome::Retry {
                    next_attempt_ms,
                    error,
                } => {
                    sqlx::query(
                        "UPDATE outbox SET next_attempt_ms = $1, last_error = $2, lease_until_ms = NULL WHERE id = $3",
                    )
                    .bind(next_attempt_ms)
                    .bind(error)
                    .bind(job.id.0)
                    .execute(&mut *tx)
                    .await?;
                }
                SendOutcome::Failed { reason } => {
                    sqlx::query("UPDATE outbox SET status = 'failed', last_error = $1, lease_until_ms = NULL WHERE id = $2")
                        .bind(reason)
                        .bind(job.id.0)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE messages SET status = 'failed', failure_reason = $1 WHERE id = $2",
                    )
                    .bind(reason)
                    .bind(job.message_id.0)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            if !matches!(outcome, SendOutcome::Retry { .. }) {
                // A chatbot turn of several messages is one send: the others share its outcome.
                sqlx::query(
                    "UPDATE messages SET status = m.status, sent_via = m.sent_via, failure_reason = m.failure_reason
                     FROM (SELECT status, sent_via, failure_reason FROM messages WHERE id = $1) AS m WHERE bundle_of = $1",
                )
                .bind(job.message_id.0)
                .execute(&mut *tx)
                .await?;
                let (brand,): (Uuid,) =
                    sqlx::query_as("SELECT brand_id FROM conversations WHERE id = $1")
                        .bind(job.conversation_id.0)
                        .fetch_one(&mut *tx)
                        .await?;
                append_event!(
                    &mut *tx,
                    desk_core::BrandId(brand),
                    Some(job.conversation_id),
                    "message.updated",
                    json!({"message_id": job.message_id, "conversation_id": job.conversation_id}),
                    now
                );
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// Send jobs not yet finished (pending or leased).
    pub async fn outbox_pending(&self) -> Result<i64> {
        let (n,): (i64,) = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
                .fetch_one(pool)
                .await
        })?;
        Ok(n)
    }
}
