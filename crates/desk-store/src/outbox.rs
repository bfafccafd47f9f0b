//! The outbox: an operator's message and its send job are written in one transaction; the
//! sender worker claims jobs, talks to LINE, and records the outcome on the message.

use desk_core::{
    ConversationId, ConversationState, Direction, FriendStatus, MessageId, MessageKind,
    MessageStatus, Millis, OperatorId, OutboxId, SentVia,
};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{Message, OutboxJob, Result, SendOutcome, Store, StoreError, on_read, on_write};

/// Why a conversation refuses an outgoing message: shown to the operator as is.
pub const CHAT_COMPLETED: &str = "this chat is completed";
/// The contact blocked the account.
pub const CONTACT_BLOCKED: &str = "the user has blocked this account, so nothing can be sent";

/// Leases due jobs; `$lock` is Postgres's row-lock clause.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET lease_until_ms = $1, attempts = attempts + 1 WHERE id IN (",
            "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $2 ",
            "AND (lease_until_ms IS NULL OR lease_until_ms < $2) ORDER BY next_attempt_ms LIMIT $3",
            $lock,
            ") RETURNING id, message_id, conversation_id, channel_id, to_line_id, payload, attempts"
        )
    };
}

impl Store {
    /// Stores an outgoing message (status `pending`) and its send job. `line_message` is the
    /// LINE message object to send. Refuses completed chats and blocked contacts.
    pub async fn enqueue_message(
        &self,
        conversation: ConversationId,
        sender: Option<OperatorId>,
        kind: MessageKind,
        line_message: Value,
        now: Millis,
    ) -> Result<Message> {
        let id = MessageId::new();
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let row: Option<(Uuid, Uuid, String, String, String)> = sqlx::query_as(
                "SELECT c.brand_id, c.channel_id, c.state, k.friend_status, k.line_id
                 FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE c.id = $1",
            )
            .bind(conversation.0)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((brand, channel, state, friend_status, to)) = row else {
                return Err(StoreError::NotFound("conversation"));
            };
            if state == ConversationState::Closed.as_str() {
                return Err(StoreError::Conflict(CHAT_COMPLETED.into()));
            }
            if friend_status == FriendStatus::Blocked.as_str() {
                return Err(StoreError::Conflict(CONTACT_BLOCKED.into()));
            }
            sqlx::query(
                "INSERT INTO messages (id, conversation_id, channel_id, direction, kind, body, sender_operator_id,
                 status, event_ms, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(id.0)
            .bind(conversation.0)
            .bind(channel)
            .bind(Direction::Out.as_str())
            .bind(kind.as_str())
            .bind(Json(&line_message))
            .bind(sender.map(|s| s.0))
            .bind(MessageStatus::Pending.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO outbox (id, message_id, conversation_id, channel_id, to_line_id, payload, status,
                 next_attempt_ms, created_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)",
            )
            .bind(OutboxId::new().0)
            .bind(id.0)
            .bind(conversation.0)
            .bind(channel)
            .bind(&to)
            .bind(Json(json!([line_message])))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE conversations SET last_message_ms = CASE WHEN last_message_ms < $1 THEN $1 ELSE last_message_ms END
                 WHERE id = $2",
            )
            .bind(now)
            .bind(conversation.0)
            .execute(&mut *tx)
            .await?;
            append_event!(
                &mut *tx,
                desk_core::BrandId(brand),
                Some(conversation),
                "message.created",
                json!({"message_id": id, "conversation_id": conversation}),
                now
            );
            tx.commit().await?;
            Ok::<_, StoreError>(())
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
        let sql: &'static str = match self.kind() {
            crate::BackendKind::Sqlite => claim_sql!(""),
            crate::BackendKind::Postgres => claim_sql!(" FOR UPDATE SKIP LOCKED"),
        };
        Ok(on_write!(self.backend(), |pool| {
            sqlx::query_as(sql)
                .bind(now + lease_ms)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await
        })?)
    }

    /// The earliest time a pending job is due, to sleep until then.
    pub async fn outbox_next_due(&self) -> Result<Option<Millis>> {
        let (next,): (Option<Millis>,) = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT MIN(next_attempt_ms) FROM outbox WHERE status = 'pending'")
                .fetch_one(pool)
                .await
        })?;
        Ok(next)
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
