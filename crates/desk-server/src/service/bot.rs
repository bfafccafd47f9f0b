//! The chatbot at work: the inbox processor queues a turn for each event of a channel whose
//! bot is on, in the transaction that stores the event (see `desk_store::QueuedBotTurn`);
//! the bot worker (`crate::worker::bot`) claims it and the bot answers it here, outside any
//! transaction and off the ingest path (an external bot may take seconds).
//!
//! A chat's turns are claimed one after the other, in the order they were stored; different
//! chats are answered in parallel. A bot turn is written in one transaction with its handoff
//! or close and with the queued turn marked done, and only if the bot still holds the chat
//! and the turn was not answered before (see [`desk_store::Store::bot_turn`]): after a crash
//! a turn is asked again, but its answer is sent once. Bot messages go out through the outbox
//! like operators' and use the event's reply token, so answering costs no message quota.
//!
//! The bot talks only in 1:1 chats: a group or room chat that starts with the bot is handed
//! to the department at once, silently.

use std::sync::Arc;

use desk_core::bot::rules::{RulesBot, Situation, Trigger};
use desk_core::bot::{After, Answer, BotMode, BotReply, ButtonAction, Language, OutMessage};
use desk_core::{ContactId, ConversationId, ConversationState, MessageKind, ReplyToken};
use desk_store::{
    BotSettings, BotTurn, BotTurnOutcome, ChannelScope, QueuedBotTurn, Remember, Rules, StoreError,
};
use line_api::message::{Message as LineMessage, QuickReply, QuickReplyItem};
use serde_json::Value;
use tokio::sync::Notify;

use crate::crypto::Purpose;
use crate::service::bot_external::{CallError, ExternalCall};
use crate::service::routing;
use crate::state::AppState;

/// What the user did, as the bot sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Added the account as a friend.
    Follow,
    /// A message; LINE's message object as received.
    Message(Value),
    /// Tapped a postback button; `params` for date pickers and the like.
    Postback {
        /// `postback.data`.
        data: String,
        /// `postback.params`, if any.
        params: Option<Value>,
    },
}

/// One stored event for the bot to answer.
#[derive(Debug, Clone)]
pub struct BotEvent {
    /// The queued turn ([`QueuedBotTurn::id`]); also the idempotency key the external bot
    /// gets, the same on every attempt.
    pub turn: i64,
    /// LINE's id of the webhook event (`webhookEventId`), when it has one.
    pub webhook_event_id: Option<String>,
    /// The channel.
    pub scope: ChannelScope,
    /// Its settings and department hours.
    pub rules: Rules,
    /// Who.
    pub contact: ContactId,
    /// Their LINE id (a user's; a group's or room's for those chats).
    pub line_id: String,
    /// The chat the event landed in (none for a follow, or a postback after a close).
    pub conversation: Option<ConversationId>,
    /// Whether this event started the chat.
    pub opened: bool,
    /// What happened.
    pub incoming: Incoming,
    /// The event's reply token, for events whose token the inbound path does not keep.
    pub reply_token: Option<ReplyToken>,
    /// Whether the chat is 1:1 (the bot does not talk in groups and rooms).
    pub one_to_one: bool,
}

/// The bot's shared parts: its HTTP client for external bots and the worker's wake-up.
/// Cheap to clone.
#[derive(Clone)]
pub struct BotRunner {
    pub(crate) external: ExternalCall,
    pub(crate) wake: Arc<Notify>,
}

impl BotRunner {
    /// A runner with its HTTP client for external bots.
    pub fn new() -> Result<Self, reqwest::Error> {
        Ok(Self {
            external: ExternalCall::new()?,
            wake: Arc::default(),
        })
    }

    /// Tells the bot worker that turns were queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The bot's view of a queued turn: `None` when the event is not one the bot answers
/// (anything but a new message, a postback or a follow, or an event in standby mode).
pub fn event_of(turn: &QueuedBotTurn, scope: ChannelScope, rules: Rules) -> Option<BotEvent> {
    let raw: Value = serde_json::from_str(&turn.raw).ok()?;
    if raw["mode"] == "standby" {
        return None;
    }
    let source = &raw["source"];
    let one_to_one = source["type"] == "user";
    // The chat's id, as the contact is keyed: the group or room, else the user.
    let line_id = source["groupId"]
        .as_str()
        .or_else(|| source["roomId"].as_str())
        .or_else(|| source["userId"].as_str())?
        .to_owned();
    let reply_token = raw["replyToken"].as_str().map(|token| ReplyToken {
        token: token.to_owned(),
        issued_ms: turn.event_ms,
    });
    let (incoming, reply_token) = match raw["type"].as_str()? {
        // A new message: the inbound path kept its reply token on the chat.
        "message" if turn.new_message => (Incoming::Message(raw["message"].clone()), None),
        "postback" => (
            Incoming::Postback {
                data: raw["postback"]["data"].as_str()?.to_owned(),
                params: raw["postback"].get("params").cloned(),
            },
            reply_token,
        ),
        "follow" => (Incoming::Follow, reply_token),
        _ => return None,
    };
    Some(BotEvent {
        turn: turn.id,
        webhook_event_id: raw["webhookEventId"].as_str().map(str::to_owned),
        scope,
        rules,
        contact: turn.contact_id,
        line_id,
        conversation: turn.conversation(),
        opened: turn.opened,
        incoming,
        reply_token,
        one_to_one,
    })
}

/// Answers one event. An error leaves the turn pending, to be answered again (the caller
/// records it).
#[tracing::instrument(skip_all, fields(turn = event.turn, channel = %event.scope.channel_id, conversation = ?event.conversation))]
pub async fn answer(
    state: &AppState,
    external: &ExternalCall,
    event: BotEvent,
) -> Result<(), StoreError> {
    // Only chats the bot holds (a follow or a postback may start one).
    if let Some(id) = event.conversation
        && state.store.conversation(id).await?.state != ConversationState::Bot
    {
        state
            .store
            .bot_turn_done(event.turn, state.clock.now_ms())
            .await?;
        return Ok(());
    }
    let settings = state.store.bot_settings(event.scope.channel_id).await?;
    let reply = match (settings.mode, event.one_to_one) {
        (BotMode::Rules, true) => {
            let bot = settings.rules.unwrap_or_else(empty_rules_bot);
            return rules_turn(state, &bot, event).await;
        }
        (BotMode::External, true) => external_reply(state, external, &settings, &event).await?,
        // The bot is on for new chats but has nothing to say here (mode off, or a group):
        // operators take it, rather than leave the user talking to nobody.
        _ => BotReply::handoff_silently(),
    };
    write_turn(state, &event, reply, Remember::Unchanged).await
}

/// The external bot's answer; any failure is logged for the channel and becomes a handoff.
async fn external_reply(
    state: &AppState,
    external: &ExternalCall,
    settings: &BotSettings,
    event: &BotEvent,
) -> Result<BotReply, StoreError> {
    let call = match (&settings.external_url, &settings.external_secret) {
        (Some(url), Some(sealed)) => match state.cipher.open(Purpose::BotSecret, sealed) {
            Ok(secret) => external.call(state, url, secret.expose(), event).await,
            Err(e) => Err(CallError::Secret(e.to_string())),
        },
        _ => Err(CallError::Secret(
            "no URL or signing secret is configured".into(),
        )),
    };
    let failure = match call {
        Ok(reply) => return Ok(reply),
        Err(failure) => failure,
    };
    tracing::warn!(kind = failure.kind(), error = %failure, "external bot failed; handing off");
    state
        .store
        .record_bot_failure(
            event.scope.channel_id,
            event.conversation,
            failure.kind(),
            &failure.to_string(),
            state.clock.now_ms(),
        )
        .await?;
    Ok(BotReply::handoff_silently())
}

/// A rules bot with nothing configured: it greets nobody and hands off a repeated question.
fn empty_rules_bot() -> RulesBot {
    match RulesBot::new(Default::default()) {
        Ok(bot) => bot,
        Err(e) => unreachable!("the empty rules bot is valid: {e}"),
    }
}

async fn rules_turn(state: &AppState, bot: &RulesBot, event: BotEvent) -> Result<(), StoreError> {
    let now = state.clock.now_ms();
    let contact = super::profiles::contact_with_profile(state, event.scope, &event.line_id).await?;
    let language = Language::for_contact(
        contact.as_ref().and_then(|c| c.language.as_deref()),
        bot.input().default_language,
    );
    let unanswered = match event.conversation {
        Some(id) => state.store.bot_unanswered(id).await?,
        None => None,
    };
    let text = match &event.incoming {
        Incoming::Message(m) if m["type"] == "text" => m["text"].as_str(),
        _ => None,
    };
    let trigger = match (&event.incoming, text) {
        (Incoming::Follow, _) => Trigger::Follow,
        (Incoming::Postback { data, .. }, _) => Trigger::Postback(data),
        (Incoming::Message(_), Some(text)) => Trigger::Text(text),
        (Incoming::Message(_), None) => Trigger::Other,
    };
    let outcome = bot.respond(
        trigger,
        &Situation {
            language,
            open: event.rules.hours.as_ref().is_none_or(|h| h.is_open(now)),
            new_chat: event.opened,
            unanswered,
        },
    );
    write_turn(
        state,
        &event,
        outcome.reply,
        Remember::Unanswered(outcome.unanswered),
    )
    .await
}

/// Stores the turn (starting a chat if the event had none and there is something to do),
/// then wakes the sender and routes a handed-off chat.
async fn write_turn(
    state: &AppState,
    event: &BotEvent,
    reply: BotReply,
    remember: Remember,
) -> Result<(), StoreError> {
    let now = state.clock.now_ms();
    let conversation = match event.conversation {
        Some(id) => id,
        None if reply.answer.is_empty() && reply.then == After::Stay => {
            state.store.bot_turn_done(event.turn, now).await?;
            return Ok(());
        }
        None => {
            let (id, _) = state
                .store
                .bot_chat(event.scope, event.contact, &event.rules, now)
                .await?;
            id
        }
    };
    let turn = BotTurn {
        conversation,
        messages: line_messages(&reply.answer),
        reply_token: event.reply_token.clone(),
        then: reply.then,
        remember,
        queued: Some(event.turn),
    };
    let outcome = state.store.bot_turn(turn, &event.rules, now).await?;
    state.hub.nudge();
    state.wake.outbox.notify_one();
    state.wake.timers.notify_one();
    match outcome {
        BotTurnOutcome::Written {
            routed: Some(department),
            ..
        } => routing::route(state, [department]).await,
        BotTurnOutcome::Written { .. } => {}
        BotTurnOutcome::NotWithBot => {
            tracing::info!(%conversation, "an operator took the chat first; the bot's answer was dropped")
        }
        BotTurnOutcome::AlreadyDone => {
            tracing::info!(%conversation, "the turn was answered before; this answer was dropped")
        }
    }
    Ok(())
}

/// The answer as LINE message objects, the buttons on the last one.
pub fn line_messages(answer: &Answer) -> Vec<(MessageKind, Value)> {
    let count = answer.messages.len();
    answer
        .messages
        .iter()
        .enumerate()
        .map(|(i, message)| {
            let (kind, mut line) = match message {
                OutMessage::Text { text } => (MessageKind::Text, LineMessage::text(text)),
                OutMessage::Sticker {
                    package_id,
                    sticker_id,
                } => (
                    MessageKind::Sticker,
                    LineMessage::sticker(package_id, sticker_id),
                ),
                OutMessage::Image { url, preview_url } => {
                    (MessageKind::Image, LineMessage::image(url, preview_url))
                }
            };
            if i + 1 == count && !answer.quick_replies.is_empty() {
                line =
                    line.with_quick_reply(QuickReply::new(answer.quick_replies.iter().map(|b| {
                        match &b.action {
                            ButtonAction::Message { text } => {
                                QuickReplyItem::message(&b.label, text)
                            }
                            ButtonAction::Postback { data, display_text } => {
                                QuickReplyItem::postback(&b.label, data, display_text.clone())
                            }
                        }
                    })));
            }
            (kind, serde_json::to_value(&line).unwrap_or(Value::Null))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use desk_core::bot::QuickReplyButton;
    use serde_json::json;

    fn queued(raw: Value, new_message: bool) -> QueuedBotTurn {
        QueuedBotTurn {
            id: 7,
            attempts: 1,
            channel_id: desk_core::ChannelId(uuid::Uuid::nil()),
            contact_id: ContactId(uuid::Uuid::nil()),
            conversation_id: None,
            opened: false,
            new_message,
            raw: raw.to_string(),
            event_ms: 1_000,
        }
    }

    fn event(turn: &QueuedBotTurn) -> Option<BotEvent> {
        let scope = ChannelScope {
            channel_id: turn.channel_id,
            brand_id: desk_core::BrandId(uuid::Uuid::nil()),
            department_id: desk_core::DepartmentId(uuid::Uuid::nil()),
        };
        event_of(turn, scope, Default::default())
    }

    #[test]
    fn queued_turns_become_the_events_the_bot_answers() {
        let user = json!({"type": "user", "userId": "U1"});
        let message = json!({"type": "message", "source": user, "replyToken": "rt",
                             "webhookEventId": "01W", "message": {"type": "text", "text": "hi"}});
        let answered = event(&queued(message.clone(), true)).expect("a new message");
        assert_eq!((answered.turn, answered.line_id.as_str()), (7, "U1"));
        assert_eq!(answered.webhook_event_id.as_deref(), Some("01W"));
        // The chat keeps a message's reply token; the bot does not carry it.
        assert_eq!(answered.reply_token, None);
        assert!(
            event(&queued(message, false)).is_none(),
            "a duplicate message"
        );

        let postback = json!({"type": "postback", "source": user, "replyToken": "rt",
                              "postback": {"data": "shops"}});
        let tapped = event(&queued(postback, false)).expect("a postback");
        assert_eq!(
            tapped.reply_token.map(|t| (t.token, t.issued_ms)),
            Some(("rt".to_owned(), 1_000))
        );
        let standby = json!({"type": "follow", "mode": "standby", "source": user});
        assert!(event(&queued(standby, false)).is_none());
        let unfollow = json!({"type": "unfollow", "source": user});
        assert!(event(&queued(unfollow, false)).is_none());
    }

    #[test]
    fn buttons_go_on_the_last_message() {
        let answer = Answer {
            messages: vec![
                OutMessage::Text { text: "hi".into() },
                OutMessage::Sticker {
                    package_id: "446".into(),
                    sticker_id: "1988".into(),
                },
            ],
            quick_replies: vec![QuickReplyButton {
                label: "Shops".into(),
                action: ButtonAction::Postback {
                    data: "shops".into(),
                    display_text: None,
                },
            }],
        };
        let messages = line_messages(&answer);
        assert_eq!(
            messages[0],
            (MessageKind::Text, json!({"type": "text", "text": "hi"}))
        );
        assert_eq!(
            messages[1],
            (
                MessageKind::Sticker,
                json!({"type": "sticker", "packageId": "446", "stickerId": "1988",
                       "quickReply": {"items": [{"type": "action", "action":
                           {"type": "postback", "label": "Shops", "data": "shops"}}]}})
            )
        );
    }
}
