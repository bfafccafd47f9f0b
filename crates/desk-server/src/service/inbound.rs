//! Applying one inbox event to the desk: parse it, look up (or refresh) who sent it, and turn
//! it into a store effect.

use desk_core::{ContactKind, FriendStatus, MessageKind, Millis};
use desk_store::{
    ChannelScope, ContactRef, InboundEffect, InboundItem, InboundMessage, InboxRow, Profile,
    StoreError,
};
use line_api::webhook::{Event, EventKind, Mode, ParsedEvent, Source};
use serde_json::Value;

use crate::state::AppState;

/// Profiles older than this are fetched again when the user writes.
const PROFILE_MAX_AGE_MS: Millis = 24 * 3_600_000;

/// Why an event could not be applied (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Turns one claimed inbox row into a store item. `chat` carries what was already learnt about
/// this chat earlier in the batch (so a burst from a new user fetches the profile once).
#[tracing::instrument(skip_all, fields(inbox_id = row.id, event_type = %row.event_type))]
pub async fn prepare(
    state: &AppState,
    row: &InboxRow,
    chat: &mut ChatMemo,
    now: Millis,
) -> Result<InboundItem, InboundError> {
    let channel = state
        .channels
        .by_id(&state.store, row.channel_id, now)
        .await?;
    let scope = ChannelScope::from(&*channel);
    let effect = match serde_json::from_str::<ParsedEvent>(&row.raw) {
        Ok(parsed) => effect_of(state, &parsed, scope, chat, now).await,
        Err(e) => {
            // Ingest validated it, so only a version change can get here: keep the raw copy.
            tracing::warn!(error = %e, "stored event no longer parses; kept in the inbox only");
            InboundEffect::Nothing
        }
    };
    let rules = state.rules.get(&state.store, channel.id, now).await?;
    Ok(InboundItem {
        inbox_id: row.id,
        scope,
        rules,
        event_ms: row.event_ms,
        effect,
    })
}

/// What one batch has learnt about a chat so far.
#[derive(Debug, Default)]
pub struct ChatMemo {
    /// When the stored contact's profile was fetched (`None`: no contact or no profile yet).
    profile_ms: Option<Millis>,
    profile_checked: bool,
}

impl ChatMemo {
    /// A chat whose stored profile was fetched at `profile_ms`.
    pub fn new(profile_ms: Option<Millis>) -> Self {
        Self {
            profile_ms,
            profile_checked: false,
        }
    }
}

async fn effect_of(
    state: &AppState,
    parsed: &ParsedEvent,
    scope: ChannelScope,
    chat: &mut ChatMemo,
    now: Millis,
) -> InboundEffect {
    let event = &parsed.event;
    if event.mode == Mode::Standby {
        // Another channel has chat control: record, never act.
        return InboundEffect::Nothing;
    }
    let raw: Value = serde_json::from_str(parsed.raw.get()).unwrap_or(Value::Null);
    match &event.kind {
        EventKind::Message(m) => {
            let Some(contact) = contact_of(state, event, scope, chat, now).await else {
                return timeline(None, event, raw);
            };
            let Some(line_message_id) = m.message.id().map(str::to_owned) else {
                return timeline(Some(contact), event, raw);
            };
            let body = raw.get("message").cloned().unwrap_or(Value::Null);
            let line_type = body
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let sender_name = match &event.source {
                Some(source) => state.members.of(state, scope.channel_id, source, now).await,
                None => None,
            };
            InboundEffect::Message {
                message: InboundMessage {
                    sender_name,
                    line_message_id,
                    kind: MessageKind::from_line_type(line_type),
                    quote_token: m.message.quote_token().map(str::to_owned),
                    mark_as_read_token: m.message.mark_as_read_token().map(str::to_owned),
                    sender_line_id: event
                        .source
                        .as_ref()
                        .and_then(Source::user_id)
                        .map(str::to_owned),
                    body,
                },
                contact,
                reply_token: event.reply_token.clone(),
            }
        }
        EventKind::Follow(_) | EventKind::Unfollow => {
            let status = if matches!(event.kind, EventKind::Unfollow) {
                FriendStatus::Blocked
            } else {
                FriendStatus::Friend
            };
            let unblocked = matches!(&event.kind, EventKind::Follow(f) if f.follow.is_unblocked);
            match contact_of(state, event, scope, chat, now).await {
                Some(contact) => InboundEffect::FriendStatus {
                    contact,
                    status,
                    unblocked,
                },
                None => timeline(None, event, raw),
            }
        }
        EventKind::Unsend(u) => InboundEffect::Unsend {
            line_message_id: u.unsend.message_id.clone(),
        },
        _ => {
            let contact = contact_of(state, event, scope, chat, now).await;
            timeline(contact, event, raw)
        }
    }
}

fn timeline(contact: Option<ContactRef>, event: &Event, raw: Value) -> InboundEffect {
    InboundEffect::Timeline {
        contact,
        kind: event.event_type().to_owned(),
        detail: raw,
        reply_token: event.reply_token.clone(),
    }
}

/// The chat an event belongs to, with a fresh profile for users when ours is missing or old.
async fn contact_of(
    state: &AppState,
    event: &Event,
    scope: ChannelScope,
    chat: &mut ChatMemo,
    now: Millis,
) -> Option<ContactRef> {
    let (kind, line_id) = match event.source.as_ref()? {
        Source::User(u) => (ContactKind::User, u.user_id.clone()?),
        Source::Group(g) => (ContactKind::Group, g.group_id.clone()),
        Source::Room(r) => (ContactKind::Room, r.room_id.clone()),
        Source::Unknown { .. } => return None,
    };
    // Looked at once per chat per batch: a burst from a new user fetches the profile once.
    let profile = match kind {
        ContactKind::User if !chat.profile_checked => {
            chat.profile_checked = true;
            match chat
                .profile_ms
                .is_none_or(|at| now - at > PROFILE_MAX_AGE_MS)
            {
                true => fetch_profile(state, scope, &line_id, now).await,
                false => None,
            }
        }
        _ => None,
    };
    Some(ContactRef {
        kind,
        line_id,
        profile,
    })
}

/// A LINE profile; `None` when LINE cannot give one now (the contact keeps its old one).
async fn fetch_profile(
    state: &AppState,
    scope: ChannelScope,
    user_id: &str,
    now: Millis,
) -> Option<Profile> {
    let token = match state
        .tokens
        .get(&state.store, &state.line, scope.channel_id, now)
        .await
    {
        Ok(token) => token,
        Err(e) => {
            tracing::warn!(error = %e, "no access token; contact stored without a profile");
            return None;
        }
    };
    match state.line.profile(&token, user_id).await {
        Ok(p) => Some(Profile {
            display_name: Some(p.display_name),
            picture_url: p.picture_url,
            status_message: p.status_message,
            language: p.language,
        }),
        Err(e) => {
            if e.is_unauthorized() {
                let _ = state
                    .tokens
                    .invalidate(&state.store, scope.channel_id)
                    .await;
            }
            tracing::warn!(error = %e, "profile fetch failed; contact stored without a profile");
            None
        }
    }
}
