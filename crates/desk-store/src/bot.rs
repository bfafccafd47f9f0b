//! The chatbot in the store: each channel's bot settings, the bot's turn (its messages, the
//! reply token it answers with, and the handoff or close that follows, in one transaction),
//! what the rules bot remembers per chat, and the external bot's failure log.
//!
//! A bot turn is checked against the chat as it is when written: if an operator took the
//! chat over while the bot was thinking (an external bot can take seconds), the turn is
//! dropped ([`BotTurnOutcome::NotWithBot`]) and nothing reaches the user.

use desk_core::bot::external::ExternalUrl;
use desk_core::bot::rules::RulesBot;
use desk_core::bot::{After, BotMode};
use desk_core::lifecycle::Command;
use desk_core::{
    ChannelId, ChannelSettings, ContactId, ConversationId, ConversationState, DepartmentId,
    MessageId, MessageKind, Millis, ReplyToken, Sealed, SentVia,
};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{ChannelScope, ChatRules, Result, Store, StoreError, on_read, on_write};

/// A channel's chatbot as stored. A channel without a row has the bot off.
#[derive(Debug, Clone, PartialEq)]
pub struct BotSettings {
    /// Off, rules or external.
    pub mode: BotMode,
    /// The rules bot, kept while another mode is on.
    pub rules: Option<RulesBot>,
    /// The external bot's address.
    pub external_url: Option<ExternalUrl>,
    /// The external bot's signing secret, sealed by the server.
    pub external_secret: Option<Sealed>,
}

impl Default for BotSettings {
    fn default() -> Self {
        Self {
            mode: BotMode::Off,
            rules: None,
            external_url: None,
            external_secret: None,
        }
    }
}

/// What the rules bot remembers after a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remember {
    /// Leave the memory as it is (the external bot keeps its own).
    Unchanged,
    /// The question still unanswered, or `None`.
    Unanswered(Option<String>),
}

/// One bot turn to write.
#[derive(Debug, Clone, PartialEq)]
pub struct BotTurn {
    /// The chat.
    pub conversation: ConversationId,
    /// LINE message objects with their kinds, sent in one call (at most 5).
    pub messages: Vec<(MessageKind, Value)>,
    /// The reply token of the event being answered, when the inbound path did not keep it
    /// (postback and follow events): the answer then costs no quota.
    pub reply_token: Option<ReplyToken>,
    /// What happens to the chat after the messages.
    pub then: After,
    /// The rules bot's memory.
    pub remember: Remember,
    /// The queued turn this answers ([`crate::QueuedBotTurn::id`]): marked done in the same
    /// transaction, and if it is done already nothing is written
    /// ([`BotTurnOutcome::AlreadyDone`]), so a turn answered twice after a crash sends once.
    pub queued: Option<i64>,
}

/// How a bot turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotTurnOutcome {
    /// Written. `routed` is the department the chat now waits in, after a handoff.
    Written {
        /// The first message written, if any.
        message: Option<MessageId>,
        /// Set when the chat was handed off.
        routed: Option<DepartmentId>,
    },
    /// The bot no longer holds the chat (an operator took it, or it closed): nothing written.
    NotWithBot,
    /// The queued turn was answered before (by a run that crashed after writing, or whose
    /// lease ran out): nothing written.
    AlreadyDone,
}

/// A failed external bot call.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct BotFailure {
    pub id: i64,
    pub conversation_id: Option<Uuid>,
    /// `timeout`, `http`, `status`, `answer` or `secret`.
    pub kind: String,
    pub detail: String,
    pub created_ms: Millis,
}

/// Messages sent by reply token (free) and by push (quota), for the channel and for its bot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SendCounts {
    /// All sends of the channel, by reply token.
    pub reply: i64,
    /// All sends of the channel, by push.
    pub push: i64,
    /// Bot messages sent by reply token.
    pub bot_reply: i64,
    /// Bot messages sent by push.
    pub bot_push: i64,
}

#[derive(sqlx::FromRow)]
struct BotRow {
    mode: String,
    rules: Option<Json<Value>>,
    external_url: Option<String>,
    external_secret: Option<Vec<u8>>,
}

impl Store {
    /// The channel's bot settings (bot off when never configured).
    pub async fn bot_settings(&self, channel: ChannelId) -> Result<BotSettings> {
        let row: Option<BotRow> = on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT mode, rules, external_url, external_secret FROM channel_bots WHERE channel_id = $1",
            )
            .bind(channel.0)
            .fetch_optional(pool)
            .await
        })?;
        let Some(row) = row else {
            return Ok(BotSettings::default());
        };
        let corrupt =
            |e: String| StoreError::Conflict(format!("stored chatbot settings are invalid: {e}"));
        Ok(BotSettings {
            mode: row
                .mode
                .parse()
                .map_err(|e: desk_core::UnknownVariant| corrupt(e.to_string()))?,
            rules: row
                .rules
                .map(|r| serde_json::from_value(r.0))
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
            external_url: row
                .external_url
                .map(ExternalUrl::parse)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
            external_secret: row.external_secret.map(Sealed::from_bytes),
        })
    }

    /// Replaces the channel's bot settings and, in the same transaction, its channel settings
    /// (whose `bot_enabled` decides whether new chats start with the bot: the caller keeps it
    /// equal to `bot.mode != off`).
    pub async fn set_bot_settings(
        &self,
        channel: ChannelId,
        bot: &BotSettings,
        settings: &ChannelSettings,
        now: Millis,
    ) -> Result<()> {
        let rules = bot
            .rules
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        let settings =
            serde_json::to_value(settings).map_err(|e| StoreError::Conflict(e.to_string()))?;
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE line_channels SET settings = $1 WHERE id = $2 AND removed_ms IS NULL",
            )
            .bind(Json(&settings))
            .bind(channel.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Err(StoreError::NotFound("channel"));
            }
            sqlx::query(
                "INSERT INTO channel_bots (channel_id, mode, rules, external_url, external_secret, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (channel_id) DO UPDATE SET mode = excluded.mode, rules = excluded.rules,
                 external_url = excluded.external_url, external_secret = excluded.external_secret,
                 updated_ms = excluded.updated_ms",
            )
            .bind(channel.0)
            .bind(bot.mode.as_str())
            .bind(rules.as_ref().map(Json))
            .bind(bot.external_url.as_ref().map(ExternalUrl::as_str))
            .bind(bot.external_secret.as_ref().map(Sealed::as_bytes))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// The question the rules bot could not answer last in this chat.
    pub async fn bot_unanswered(&self, conversation: ConversationId) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT unanswered FROM bot_chats WHERE conversation_id = $1")
                .bind(conversation.0)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.and_then(|(u,)| u))
    }

    /// The contact's live chat, or a new one (with the bot, as the channel's bot is on) for a
    /// bot turn that has none yet: a greeting on follow, a postback after a close. Returns the
    /// chat and whether it was started now.
    pub async fn bot_chat(
        &self,
        scope: ChannelScope,
        contact: ContactId,
        rules: &ChatRules,
        now: Millis,
    ) -> Result<(ConversationId, bool)> {
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let live: Option<(Uuid,)> = sqlx::query_as(
                "SELECT id FROM conversations WHERE contact_id = $1 AND state <> 'closed'",
            )
            .bind(contact.0)
            .fetch_optional(&mut *tx)
            .await?;
            let chat = match live {
                Some((id,)) => (ConversationId(id), false),
                None => {
                    let tx = &mut tx;
                    (start_conversation!(tx, scope, rules, contact, now), true)
                }
            };
            tx.commit().await?;
            Ok::<_, StoreError>(chat)
        })
    }

    /// Writes a bot turn: the messages (one send job, reply token first), the bot's memory,
    /// then the handoff or close. Refused as [`BotTurnOutcome::NotWithBot`] when the chat is
    /// no longer the bot's.
    pub async fn bot_turn(
        &self,
        turn: BotTurn,
        rules: &ChatRules,
        now: Millis,
    ) -> Result<BotTurnOutcome> {
        let capacity = self.per_backend(
            crate::lifecycle::CAPACITY_SQLITE,
            crate::lifecycle::CAPACITY_POSTGRES,
        );
        let id = turn.conversation;
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            if let Some(queued) = turn.queued {
                // First, so a second writer of the same turn waits here and then finds it done.
                let first = sqlx::query(
                    "UPDATE bot_turns SET status = 'done', done_ms = $1, lease_until_ms = NULL
                     WHERE id = $2 AND status = 'pending'",
                )
                .bind(now)
                .bind(queued)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !first {
                    return Ok(BotTurnOutcome::AlreadyDone);
                }
            }
            let row = load_lifecycle!(&mut *tx, id).ok_or(StoreError::NotFound("conversation"))?;
            if row.state != ConversationState::Bot.as_str() {
                // Keeps the turn marked done: the bot has nothing more to do for it.
                tx.commit().await?;
                return Ok(BotTurnOutcome::NotWithBot);
            }
            let brand = desk_core::BrandId(row.brand_id);
            if let Some(token) = &turn.reply_token {
                // Kept like an inbound message's token: the newest wins.
                sqlx::query(
                    "UPDATE conversations SET reply_token = $1, reply_token_ms = $2
                     WHERE id = $3 AND (reply_token_ms IS NULL OR reply_token_ms <= $2)",
                )
                .bind(&token.token)
                .bind(token.issued_ms)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            }
            let mut first = None;
            if !turn.messages.is_empty() {
                transition_in_tx!(&mut tx, capacity, id, Some(Command::BotMessage), rules, now)?
                    .ok_or_else(|| StoreError::Conflict(crate::lifecycle::CHAT_CHANGED.into()))?;
                let (to,): (String,) = sqlx::query_as("SELECT line_id FROM contacts WHERE id = $1")
                    .bind(row.contact_id)
                    .fetch_one(&mut *tx)
                    .await?;
                let lead = MessageId::new();
                for (i, (kind, body)) in turn.messages.iter().enumerate() {
                    let message = if i == 0 { lead } else { MessageId::new() };
                    sqlx::query(
                        "INSERT INTO messages (id, conversation_id, channel_id, direction, kind, body, sender_bot,
                         bundle_of, status, event_ms, created_ms) VALUES ($1, $2, $3, 'out', $4, $5, TRUE, $6, 'pending', $7, $7)",
                    )
                    .bind(message.0)
                    .bind(id.0)
                    .bind(row.channel_id)
                    .bind(kind.as_str())
                    .bind(Json(body))
                    .bind((i > 0).then_some(lead.0))
                    // Keeps the bot's messages in order on the timeline.
                    .bind(now + i64::try_from(i).unwrap_or(0))
                    .execute(&mut *tx)
                    .await?;
                    append_event!(
                        &mut *tx,
                        brand,
                        Some(id),
                        "message.created",
                        json!({"message_id": message, "conversation_id": id}),
                        now
                    );
                }
                let payload: Vec<&Value> = turn.messages.iter().map(|(_, body)| body).collect();
                sqlx::query(
                    "INSERT INTO outbox (id, message_id, conversation_id, channel_id, to_line_id, payload, status,
                     next_attempt_ms, created_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)",
                )
                .bind(desk_core::OutboxId::new().0)
                .bind(lead.0)
                .bind(id.0)
                .bind(row.channel_id)
                .bind(&to)
                .bind(Json(&payload))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                first = Some(lead);
            }
            if let Remember::Unanswered(unanswered) = &turn.remember {
                sqlx::query(
                    "INSERT INTO bot_chats (conversation_id, unanswered, updated_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (conversation_id) DO UPDATE SET unanswered = excluded.unanswered,
                     updated_ms = excluded.updated_ms",
                )
                .bind(id.0)
                .bind(unanswered)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            let next = match turn.then {
                After::Stay => None,
                After::Close => Some(Command::BotClose),
                After::Handoff { department: None } => Some(Command::Handoff),
                After::Handoff {
                    department: Some(department),
                } => {
                    // Only a department of the chat's brand; anything else is the bot's mistake
                    // and the chat goes to the channel's own department instead.
                    let same_brand: Option<(Uuid,)> = sqlx::query_as(
                        "SELECT id FROM departments WHERE id = $1 AND brand_id = $2",
                    )
                    .bind(department.0)
                    .bind(row.brand_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    Some(match same_brand {
                        Some(_) => Command::Transfer {
                            to: desk_core::lifecycle::TransferTarget::Department(department),
                            note: None,
                        },
                        None => Command::Handoff,
                    })
                }
            };
            let mut routed = None;
            if let Some(command) = next {
                let t = transition_in_tx!(&mut tx, capacity, id, Some(command), rules, now)?
                    .ok_or_else(|| StoreError::Conflict(crate::lifecycle::CHAT_CHANGED.into()))?;
                if t.conversation.state() == ConversationState::Waiting {
                    routed = Some(t.conversation.department);
                }
            }
            tx.commit().await?;
            Ok(BotTurnOutcome::Written {
                message: first,
                routed,
            })
        })
    }

    /// Logs a failed external bot call.
    pub async fn record_bot_failure(
        &self,
        channel: ChannelId,
        conversation: Option<ConversationId>,
        kind: &str,
        detail: &str,
        now: Millis,
    ) -> Result<()> {
        on_write!(self.backend(), |pool| {
            sqlx::query(
                "INSERT INTO bot_failures (channel_id, conversation_id, kind, detail, created_ms) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(channel.0)
            .bind(conversation.map(|c| c.0))
            .bind(kind)
            .bind(detail)
            .bind(now)
            .execute(pool)
            .await
            .map(drop)
        })?;
        Ok(())
    }

    /// How many external bot calls failed on the channel, and the latest `limit` of them.
    pub async fn bot_failures(
        &self,
        channel: ChannelId,
        limit: i64,
    ) -> Result<(i64, Vec<BotFailure>)> {
        on_read!(self.backend(), |pool| {
            let (total,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM bot_failures WHERE channel_id = $1")
                    .bind(channel.0)
                    .fetch_one(pool)
                    .await?;
            let recent: Vec<BotFailure> = sqlx::query_as(
                "SELECT id, conversation_id, kind, detail, created_ms FROM bot_failures
                 WHERE channel_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(channel.0)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            Ok::<_, StoreError>((total, recent))
        })
    }

    /// Reply and push counts of the channel (every send) and of its bot (per message).
    pub async fn send_counts(&self, channel: ChannelId) -> Result<SendCounts> {
        on_read!(self.backend(), |pool| {
            let (reply, push): (i64, i64) =
                sqlx::query_as("SELECT reply_count, push_count FROM line_channels WHERE id = $1")
                    .bind(channel.0)
                    .fetch_optional(pool)
                    .await?
                    .ok_or(StoreError::NotFound("channel"))?;
            let by_route: Vec<(String, i64)> = sqlx::query_as(
                "SELECT sent_via, COUNT(*) FROM messages WHERE channel_id = $1 AND sender_bot
                 AND sent_via IS NOT NULL GROUP BY sent_via",
            )
            .bind(channel.0)
            .fetch_all(pool)
            .await?;
            let bot = |via: SentVia| {
                by_route
                    .iter()
                    .find(|(v, _)| v == via.as_str())
                    .map_or(0, |(_, n)| *n)
            };
            Ok::<_, StoreError>(SendCounts {
                reply,
                push,
                bot_reply: bot(SentVia::Reply),
                bot_push: bot(SentVia::Push),
            })
        })
    }
}
