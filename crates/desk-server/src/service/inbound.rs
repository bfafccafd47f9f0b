//! Applying one inbox event to the desk: parse it, see who sent it, and turn it into a store
//! effect. (Their LINE profile is fetched apart: see [`super::profiles`].)

use desk_core::{ContactKind, FriendStatus, MessageKind, Millis};
use desk_store::{
    ChannelScope, ContactRef, InboundEffect, InboundItem, InboundMessage, InboxRow, StoreError,
};
use line_api::webhook::{Event, EventKind, Mode, ParsedEvent, Source};
use serde_json::Value;

use crate::state::AppState;

/// Why an event could not be applied (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Turns one claimed inbox row into a store item.
#[tracing::instrument(skip_all, fields(inbox_id = row.id, event_type = %row.event_type))]
pub async fn prepare(
    state: &AppState,
    row: &InboxRow,
    now: Millis,
) -> Result<InboundItem, InboundError> {
    let channel = state
        .channels
        .by_id(&state.store, row.channel_id, now)
        .await?;
    let scope = ChannelScope::from(&*channel);
    let effect = match serde_json::from_str::<ParsedEvent>(&row.raw) {
        Ok(parsed) => effect_of(state, &parsed, scope, now).await,
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

async fn effect_of(
    state: &AppState,
    parsed: &ParsedEvent,
    scope: ChannelScope,
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
            let Some(contact) = contact_of(event) else {
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
            // Unknown yet: the member worker looks it up once the message is stored.
            let sender_name = event
                .source
                .as_ref()
                .and_then(|source| state.members.known(scope.channel_id, source, now));
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
            match contact_of(event) {
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
            let contact = contact_of(event);
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

/// The chat an event belongs to.
fn contact_of(event: &Event) -> Option<ContactRef> {
    let (kind, line_id) = match event.source.as_ref()? {
        Source::User(u) => (ContactKind::User, u.user_id.clone()?),
        Source::Group(g) => (ContactKind::Group, g.group_id.clone()),
        Source::Room(r) => (ContactKind::Room, r.room_id.clone()),
        Source::Unknown { .. } => return None,
    };
    Some(ContactRef { kind, line_id })
}
