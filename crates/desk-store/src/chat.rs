//! Contacts, conversations and messages: applying an inbound LINE event, and reading chats.
//!
//! An inbound event is applied in one transaction together with recording it applied (its
//! inbox row marked processed; on SQLite, where the inbox is another file, a row of
//! `inbox_applied`, and the inbox row marked after the commit), so a crash either applies it
//! whole or leaves it to be claimed again, and a claimed event already applied is skipped.

use desk_core::{
    BrandId, ChannelId, ContactId, ConversationId, ConversationState, DepartmentId, FriendStatus,
    MessageId, Millis, ReplyToken,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    BackendKind, ContactRef, Conversation, ConversationFilter, InboundMessage, Message, Result,
    Store, StoreError, on_read, on_write,
};

/// What an inbound event does to the desk.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundEffect {
    /// A message: stored in the contact's live conversation (opened if there is none).
    Message {
        contact: ContactRef,
        message: InboundMessage,
        reply_token: Option<String>,
    },
    /// Follow (friend) or unfollow (blocked); `unblocked` when a follow undoes a block.
    FriendStatus {
        contact: ContactRef,
        status: FriendStatus,
        unblocked: bool,
    },
    /// The user retracted a message.
    Unsend { line_message_id: String },
    /// Something to show on the contact's timeline (join, leave, postback, beacon, …);
    /// kept in the events log.
    Timeline {
        contact: Option<ContactRef>,
        kind: String,
        detail: Value,
        reply_token: Option<String>,
    },
    /// Nothing to apply beyond the inbox copy (e.g. `mode: standby`, unknown types).
    Nothing,
}

impl InboundEffect {
    /// Whether applying it leaves work for the media worker: content to fetch (an image,
    /// video, audio or file message), or stored content to delete (an unsent message).
    pub fn touches_media(&self) -> bool {
        match self {
            InboundEffect::Message { message, .. } => {
                desk_core::MediaKind::of_message(message.kind).is_some()
            }
            InboundEffect::Unsend { .. } => true,
            InboundEffect::FriendStatus { .. }
            | InboundEffect::Timeline { .. }
            | InboundEffect::Nothing => false,
        }
    }

    /// The LINE user whose profile the event is a reason to look at: who wrote, followed or
    /// acted (not who blocked the account: LINE gives no profile then).
    pub fn user_to_profile(&self) -> Option<&ContactRef> {
        let contact = match self {
            InboundEffect::Message { contact, .. } => Some(contact),
            InboundEffect::FriendStatus {
                contact, status, ..
            } if *status != FriendStatus::Blocked => Some(contact),
            InboundEffect::Timeline { contact, .. } => contact.as_ref(),
            _ => None,
        };
        contact.filter(|c| c.kind == desk_core::ContactKind::User)
    }
}

/// Where an inbound event landed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    pub contact_id: Option<ContactId>,
    pub conversation_id: Option<ConversationId>,
    /// A new conversation was opened for this event.
    pub opened: bool,
    /// The stored message, unless it was a duplicate.
    pub message_id: Option<MessageId>,
}

/// The channel facts an inbound event needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelScope {
    pub channel_id: ChannelId,
    pub brand_id: BrandId,
    pub department_id: DepartmentId,
}

impl From<&crate::Channel> for ChannelScope {
    fn from(channel: &crate::Channel) -> Self {
        Self {
            channel_id: channel.id,
            brand_id: channel.brand_id,
            department_id: channel.department_id,
        }
    }
}

/// A conversation query with its contact's name and picture; `$tail` filters and orders.
macro_rules! conversation_sql {
    ($tail:literal) => {
        concat!(
            "SELECT c.id, c.brand_id, c.channel_id, c.contact_id, c.department_id, c.assignee_id, ",
            "c.previous_id, c.state, c.close_reason, c.opened_ms, c.closed_ms, c.last_message_ms, ",
            "k.line_id AS contact_line_id, k.kind AS contact_kind, k.display_name AS contact_name, ",
            "k.picture_url AS contact_picture_url, k.friend_status ",
            "FROM conversations c JOIN contacts k ON k.id = c.contact_id ",
            $tail
        )
    };
}

/// A message query; `$tail` filters and orders.
macro_rules! message_sql {
    ($tail:literal) => {
        concat!(
            "SELECT id, conversation_id, direction, kind, body, line_message_id, quote_token, ",
            "mark_as_read_token, sender_line_id, sender_name, sender_operator_id, sender_bot, status, failure_reason, sent_via, unsent, event_ms, created_ms ",
            "FROM messages ",
            $tail
        )
    };
}

/// One inbound item for [`Store::apply_inbound_batch`].
#[derive(Debug, Clone, PartialEq)]
pub struct InboundItem {
    pub inbox_id: i64,
    pub scope: ChannelScope,
    /// The channel's settings and department hours, for conversations the event touches.
    pub rules: crate::Rules,
    pub event_ms: Millis,
    pub effect: InboundEffect,
}

/// Applies one event other than a message (see [`apply_messages_in_tx!`]) inside an open
/// transaction `$tx` (a `&mut Transaction`), its inbox row already claimed; evaluates to
/// [`Applied`].
macro_rules! apply_in_tx {
    ($tx:expr, $capacity_sql:expr, $scope:expr, $effect:expr, $now:expr) => {{
        let tx = $tx;
        let scope: ChannelScope = $scope;
        let effect: InboundEffect = $effect;
        let now: Millis = $now;
        let mut applied = Applied::default();
        match effect {
            // The batch hands every message to `apply_messages_in_tx!`.
            InboundEffect::Message { .. } => {
                return Err(StoreError::Conflict("messages are applied in runs".into()));
            }
            InboundEffect::FriendStatus { contact, status, unblocked } => {
                let contact_id = upsert_contact!(&mut **tx, scope, contact, Some(status), now);
                applied.contact_id = Some(contact_id);
                // On the timeline of the contact's latest chat, where operators look.
                if let Some(conversation) = latest_conversation!(&mut **tx, contact_id) {
                    let kind = if status == FriendStatus::Blocked { "unfollow" } else { "follow" };
                    append_event!(
                        &mut **tx,
                        scope.brand_id,
                        Some(conversation),
                        "timeline",
                        json!({"conversation_id": conversation, "kind": kind, "detail": {"unblocked": unblocked}}),
                        now
                    );
                }
                if status == FriendStatus::Blocked {
                    user_blocked!(tx, $capacity_sql, contact_id, now);
                }
                append_event!(
                    &mut **tx,
                    scope.brand_id,
                    None,
                    "contact.friend_status",
                    json!({"contact_id": contact_id, "friend_status": status}),
                    now
                );
            }
            InboundEffect::Unsend { line_message_id } => {
                let row: Option<(Uuid, Uuid)> = sqlx::query_as(
                    "UPDATE messages SET unsent = TRUE WHERE channel_id = $1 AND line_message_id = $2
                     RETURNING id, conversation_id",
                )
                .bind(scope.channel_id.0)
                .bind(&line_message_id)
                .fetch_optional(&mut **tx)
                .await?;
                if let Some((message, conversation)) = row {
                    applied.message_id = Some(MessageId(message));
                    purge_media_of!(&mut **tx, message);
                    applied.conversation_id = Some(ConversationId(conversation));
                    append_event!(
                        &mut **tx,
                        scope.brand_id,
                        Some(ConversationId(conversation)),
                        "message.unsent",
                        json!({"message_id": message, "conversation_id": conversation}),
                        now
                    );
                }
            }
            InboundEffect::Timeline {
                contact,
                kind,
                detail,
                reply_token: _,
            } => {
                let mut conversation = None;
                if let Some(contact) = contact {
                    let contact_id = upsert_contact!(&mut **tx, scope, contact, None, now);
                    applied.contact_id = Some(contact_id);
                    let live: Option<(Uuid,)> = sqlx::query_as(
                        "SELECT id FROM conversations WHERE contact_id = $1 AND state <> 'closed'",
                    )
                    .bind(contact_id.0)
                    .fetch_optional(&mut **tx)
                    .await?;
                    conversation = live.map(|(id,)| ConversationId(id));
                }
                applied.conversation_id = conversation;
                append_event!(
                    &mut **tx,
                    scope.brand_id,
                    conversation,
                    "timeline",
                    json!({"kind": kind, "detail": detail, "conversation_id": conversation}),
                    now
                );
            }
            InboundEffect::Nothing => {}
        }
        applied
    }};
}

impl Store {
    /// Applies inbound events in order, in one transaction: one commit (one fsync on SQLite)
    /// for a whole batch. If it fails, nothing of the batch is applied; the caller retries the
    /// items one by one so a single bad event cannot hold back the rest.
    ///
    /// Each inbox row is claimed for good first: one another processor (after an expired
    /// lease) applied already is skipped, so an event is applied exactly once. Runs of
    /// messages are applied together ([`apply_messages_in_tx!`]), other events one at a time;
    /// the order of the batch is kept.
    pub async fn apply_inbound_batch(
        &self,
        items: Vec<InboundItem>,
        now: Millis,
    ) -> Result<Vec<Applied>> {
        self.apply_inbound_batch_then(items, now, || {}).await
    }

    /// [`Store::apply_inbound_batch`], running `committed` as soon as the applied changes are
    /// visible, before the SQLite inbox is marked: it is where the caller tells the consoles,
    /// which need not wait for the mark.
    #[tracing::instrument(skip_all, fields(items = items.len()))]
    pub async fn apply_inbound_batch_then(
        &self,
        items: Vec<InboundItem>,
        now: Millis,
        committed: impl FnOnce(),
    ) -> Result<Vec<Applied>> {
        let capacity = self.per_backend(
            crate::lifecycle::CAPACITY_SQLITE,
            crate::lifecycle::CAPACITY_POSTGRES,
        );
        if items.is_empty() {
            return Ok(Default::default());
        }
        let kind = self.kind();
        let ids: Vec<i64> = items.iter().map(|item| item.inbox_id).collect();
        let results = on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let mut q = match kind {
                // The inbox is in this database: its rows are marked with the apply.
                BackendKind::Postgres => {
                    let mut q = crate::inbox::mark_processed(&ids, now);
                    q.push(" RETURNING id");
                    q
                }
                // The inbox is another file: the apply is recorded here, and the rows marked
                // there once this commits (see `Store::mark_applied`).
                BackendKind::Sqlite => {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO inbox_applied (inbox_id, applied_ms) ",
                    );
                    q.push_values(&ids, |mut row, id| {
                        row.push_bind(*id).push_bind(now);
                    });
                    q.push(" ON CONFLICT (inbox_id) DO NOTHING RETURNING inbox_id");
                    q
                }
            };
            let claimed: Vec<(i64,)> = q
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await?;
            let claimed: std::collections::HashSet<i64> =
                claimed.into_iter().map(|(id,)| id).collect();

            let mut results = vec![Applied::default(); items.len()];
            // The chatbot's turn is queued with the event: nothing waits in memory.
            let bot: Vec<(bool, i64)> = items
                .iter()
                .map(|i| (i.rules.settings.bot_enabled(), i.inbox_id))
                .collect();
            let mut run: Vec<(usize, crate::inbound::MessageItem)> = Vec::new();
            let mut items = items
                .into_iter()
                .enumerate()
                .filter(|(_, item)| claimed.contains(&item.inbox_id))
                .peekable();
            while let Some((i, item)) = items.next() {
                let InboundItem {
                    scope,
                    rules,
                    event_ms,
                    effect,
                    ..
                } = item;
                match effect {
                    InboundEffect::Message {
                        contact,
                        message,
                        reply_token,
                    } => {
                        run.push((
                            i,
                            crate::inbound::MessageItem {
                                scope,
                                rules,
                                event_ms,
                                contact,
                                message,
                                reply_token,
                            },
                        ));
                    }
                    effect => {
                        results[i] = apply_in_tx!(&mut tx, capacity, scope, effect, now);
                        queue_bot_turn!(&mut tx, bot[i].0, bot[i].1, &results[i], now);
                    }
                }
                let run_ends = items
                    .peek()
                    .is_none_or(|(_, next)| !matches!(next.effect, InboundEffect::Message { .. }));
                if run_ends && !run.is_empty() {
                    let (at, run_items): (Vec<usize>, Vec<_>) =
                        std::mem::take(&mut run).into_iter().unzip();
                    let applied = apply_messages_in_tx!(&mut tx, capacity, &run_items, now);
                    for (i, applied) in at.into_iter().zip(applied) {
                        queue_bot_turn!(&mut tx, bot[i].0, bot[i].1, &applied, now);
                        results[i] = applied;
                    }
                }
            }
            tx.commit().await?;
            Ok::<_, StoreError>(results)
        })?;
        committed();
        self.mark_applied(ids, now).await;
        Ok(results)
    }

    /// Applies one inbound event under the default channel rules and marks its inbox row
    /// processed, atomically.
    pub async fn apply_inbound(
        &self,
        inbox_id: i64,
        scope: ChannelScope,
        event_ms: Millis,
        effect: InboundEffect,
        now: Millis,
    ) -> Result<Applied> {
        // Default rules: what a channel has before anyone changes its settings.
        let item = InboundItem {
            inbox_id,
            scope,
            rules: Default::default(),
            event_ms,
            effect,
        };
        let mut applied = self.apply_inbound_batch(vec![item], now).await?;
        Ok(applied.pop().unwrap_or_default())
    }

    /// One conversation.
    pub async fn conversation(&self, id: ConversationId) -> Result<Conversation> {
        on_read!(self.backend(), |pool| {
            sqlx::query_as(conversation_sql!("WHERE c.id = $1"))
                .bind(id.0)
                .fetch_optional(pool)
                .await
        })?
        .ok_or(StoreError::NotFound("conversation"))
    }

    /// Conversations, most recent activity first.
    pub async fn list_conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<Conversation>> {
        let limit = if filter.limit > 0 {
            filter.limit.min(500)
        } else {
            100
        };
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(conversation_sql!(
                "WHERE ($1 IS NULL OR c.brand_id = $1) AND ($2 IS NULL OR c.state = $2) \
                 AND ($4 IS NULL OR c.department_id IN \
                   (SELECT department_id FROM department_members WHERE operator_id = $4)) \
                 ORDER BY c.last_message_ms DESC, c.id LIMIT $3"
            ))
            .bind(filter.brand_id.map(|b| b.0))
            .bind(filter.state.map(ConversationState::as_str))
            .bind(limit)
            .bind(filter.member_of.map(|o| o.0))
            .fetch_all(pool)
            .await
        })?)
    }

    /// Messages of a conversation, oldest first.
    pub async fn list_messages(&self, conversation: ConversationId) -> Result<Vec<Message>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(message_sql!(
                "WHERE conversation_id = $1 ORDER BY event_ms, created_ms, id"
            ))
            .bind(conversation.0)
            .fetch_all(pool)
            .await
        })?)
    }

    /// One message.
    pub async fn message(&self, id: MessageId) -> Result<Message> {
        on_read!(self.backend(), |pool| {
            sqlx::query_as(message_sql!("WHERE id = $1"))
                .bind(id.0)
                .fetch_optional(pool)
                .await
        })?
        .ok_or(StoreError::NotFound("message"))
    }

    /// The conversation's unused reply token, if any. A read: the send that uses it takes it
    /// with [`Store::take_reply_token`], which is what makes it single-use.
    pub async fn reply_token(&self, conversation: ConversationId) -> Result<Option<ReplyToken>> {
        let row: Option<(Option<String>, Option<Millis>)> = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT reply_token, reply_token_ms FROM conversations WHERE id = $1")
                .bind(conversation.0)
                .fetch_optional(pool)
                .await
        })?;
        Ok(match row {
            Some((Some(token), Some(issued_ms))) => Some(ReplyToken { token, issued_ms }),
            _ => None,
        })
    }

    /// Takes the reply token for one send. Returns false when someone else took it first:
    /// a token is single-use, so exactly one sender may win it.
    pub async fn take_reply_token(
        &self,
        conversation: ConversationId,
        token: &str,
    ) -> Result<bool> {
        let taken = on_write!(self.backend(), |pool| {
            sqlx::query(
                "UPDATE conversations SET reply_token = NULL, reply_token_ms = NULL WHERE id = $1 AND reply_token = $2",
            )
            .bind(conversation.0)
            .bind(token)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(taken == 1)
    }
}

#[cfg(test)]
mod tests {
    use desk_core::{ContactKind, MessageKind};

    use super::*;
    use crate::{ContactRef, InboundMessage};

    fn message(kind: MessageKind) -> InboundEffect {
        InboundEffect::Message {
            contact: ContactRef {
                kind: ContactKind::User,
                line_id: "U1".into(),
            },
            message: InboundMessage {
                line_message_id: "1".into(),
                kind,
                body: json!({}),
                quote_token: None,
                mark_as_read_token: None,
                sender_line_id: None,
                sender_name: None,
            },
            reply_token: None,
        }
    }

    #[test]
    fn only_content_to_fetch_or_delete_is_work_for_the_media_worker() {
        for kind in MessageKind::ALL {
            assert_eq!(
                message(*kind).touches_media(),
                desk_core::MediaKind::of_message(*kind).is_some(),
                "{kind:?}"
            );
        }
        assert!(message(MessageKind::Image).touches_media());
        assert!(!message(MessageKind::Text).touches_media());
        let unsend = InboundEffect::Unsend {
            line_message_id: "1".into(),
        };
        assert!(unsend.touches_media());
        assert!(!InboundEffect::Nothing.touches_media());
    }
}
