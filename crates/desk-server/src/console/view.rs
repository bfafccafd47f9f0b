//! View models: chats, messages and timeline entries turned into what the templates show.
//! Everything here is plain data; the templates escape it.

use std::collections::HashMap;

use desk_core::{ConversationState, Direction, FriendStatus, MessageKind, MessageStatus};
use desk_store::{ChatListItem, Event, Message};
use serde_json::Value;
use uuid::Uuid;

use super::i18n::Tr;
use super::layout::Viewer;
use crate::http::media::{MediaView, MessageWithMedia};

/// A LINE sticker's image.
pub fn sticker_url(sticker_id: &str) -> String {
    format!(
        "https://stickershop.line-scdn.net/stickershop/v1/sticker/{sticker_id}/android/sticker.png"
    )
}

/// A LINE emoji's image.
pub fn emoji_url(product_id: &str, emoji_id: &str) -> String {
    format!(
        "https://stickershop.line-scdn.net/sticonshop/v1/sticon/{product_id}/iphone/{emoji_id}.png"
    )
}

/// A map link for a location (OpenStreetMap: no API key, no tracking script).
pub fn map_url(latitude: f64, longitude: f64) -> String {
    format!(
        "https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=17/{latitude}/{longitude}"
    )
}

/// Who and what: names of operators and departments, for timeline entries.
#[derive(Debug, Default)]
pub struct Names {
    pub operators: HashMap<Uuid, String>,
    pub departments: HashMap<Uuid, String>,
}

impl Names {
    fn operator(&self, t: Tr, id: Option<&Value>) -> String {
        id.and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
            .and_then(|id| self.operators.get(&id).cloned())
            .unwrap_or_else(|| t.get("timeline.someone").to_owned())
    }

    fn department(&self, t: Tr, id: Option<&Value>) -> String {
        id.and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
            .and_then(|id| self.departments.get(&id).cloned())
            .unwrap_or_else(|| t.get("timeline.a_department").to_owned())
    }
}

/// A part of a text message: words, or a LINE emoji drawn as an image.
#[derive(Debug, Clone, PartialEq)]
pub enum TextPart {
    Text(String),
    Emoji { url: String, alt: String },
}

/// What a message shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Text(Vec<TextPart>),
    Sticker {
        url: String,
        alt: String,
    },
    /// Media: `src` is the stored copy when there is one; an image shows its smaller
    /// `preview` and links to the full size.
    Image {
        src: Option<String>,
        preview: Option<String>,
    },
    Video {
        src: Option<String>,
    },
    Audio {
        src: Option<String>,
    },
    File {
        name: String,
        size: String,
        src: Option<String>,
    },
    Location {
        title: String,
        address: String,
        href: String,
    },
    /// A type this version does not show; `kind` says which.
    Unknown {
        kind: String,
    },
}

/// One message in the thread.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageView {
    pub id: String,
    pub inbound: bool,
    pub body: Body,
    pub time: String,
    pub status: &'static str,
    pub failure_reason: Option<String>,
    /// Who wrote it: group members' names, or the operator.
    pub sender: Option<String>,
    /// LINE's token to quote this message, for the quote button.
    pub quote_token: Option<String>,
    /// A short text of the message for the quote preview.
    pub summary: String,
    pub unsent: bool,
    /// The quick-reply buttons the message offered the user (labels only: the console
    /// shows what the user saw, it cannot press them).
    pub quick_replies: Vec<String>,
}

/// A line in the thread between messages: assigned, transferred, follow, postback, …
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    pub text: String,
    pub note: Option<String>,
    pub time: String,
}

/// The thread: messages and timeline entries in time order.
#[derive(Debug, Clone, PartialEq)]
pub enum ThreadItem {
    Message(MessageView),
    Event(EventView),
}

/// Where a message's media can be seen: the stored copy (downloaded from LINE by the media
/// worker, or the operator's upload), else a URL the message carries (media LINE hosts
/// elsewhere), else nowhere yet.
pub fn media_src(body: &Value, media: Option<&MediaView>) -> Option<String> {
    if let Some(url) = media.and_then(|m| m.url.clone()) {
        return Some(url);
    }
    let url = body.get("originalContentUrl").or_else(|| {
        body.get("contentProvider")
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("external"))
            .and_then(|p| p.get("originalContentUrl"))
    })?;
    url.as_str()
        .filter(|u| u.starts_with('/') || u.starts_with("https://"))
        .map(str::to_owned)
}

fn str_of<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A text message with LINE emojis: each `$` at an emoji's `index` (UTF-16 units, like
/// LINE counts) becomes the emoji's image.
pub fn text_parts(body: &Value) -> Vec<TextPart> {
    let text = str_of(body, "text");
    let mut emojis: Vec<(usize, usize, String, String)> = body
        .get("emojis")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|e| {
                    Some((
                        usize::try_from(e.get("index")?.as_u64()?).ok()?,
                        usize::try_from(e.get("length")?.as_u64()?).ok()?,
                        e.get("productId")?.as_str()?.to_owned(),
                        e.get("emojiId")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    emojis.sort_by_key(|e| e.0);
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut parts = Vec::new();
    let mut at = 0;
    for (index, length, product, emoji) in emojis {
        let end = index.saturating_add(length);
        if index < at || end > units.len() || length == 0 {
            continue;
        }
        if index > at {
            parts.push(TextPart::Text(String::from_utf16_lossy(&units[at..index])));
        }
        parts.push(TextPart::Emoji {
            url: emoji_url(&product, &emoji),
            alt: String::from_utf16_lossy(&units[index..end]),
        });
        at = end;
    }
    if at < units.len() {
        parts.push(TextPart::Text(String::from_utf16_lossy(&units[at..])));
    }
    parts
}

/// The labels of a sent message's quick-reply buttons (`quickReply.items[].action.label`).
/// Camera, camera-roll and location actions may have no label; those are skipped.
pub fn quick_reply_labels(body: &Value) -> Vec<String> {
    body.pointer("/quickReply/items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.pointer("/action/label")?.as_str())
                .filter(|label| !label.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A byte count as people read it.
pub fn file_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// What a message shows.
pub fn body_of(kind: MessageKind, body: &Value, media: Option<&MediaView>, t: Tr) -> Body {
    match kind {
        MessageKind::Text => Body::Text(text_parts(body)),
        MessageKind::Sticker => Body::Sticker {
            url: sticker_url(str_of(body, "stickerId")),
            alt: t.get("chats.preview.sticker").to_owned(),
        },
        MessageKind::Image => {
            let src = media_src(body, media);
            Body::Image {
                preview: media
                    .and_then(|m| m.preview_url.clone().or_else(|| m.thumb_url.clone()))
                    .or_else(|| src.clone()),
                src,
            }
        }
        MessageKind::Video => Body::Video {
            src: media_src(body, media),
        },
        MessageKind::Audio => Body::Audio {
            src: media_src(body, media),
        },
        MessageKind::File => Body::File {
            name: str_of(body, "fileName").to_owned(),
            size: body
                .get("fileSize")
                .and_then(Value::as_u64)
                .map(file_size)
                .unwrap_or_default(),
            src: media_src(body, media),
        },
        MessageKind::Location => {
            let lat = body
                .get("latitude")
                .and_then(Value::as_f64)
                .unwrap_or_default();
            let lng = body
                .get("longitude")
                .and_then(Value::as_f64)
                .unwrap_or_default();
            Body::Location {
                title: str_of(body, "title").to_owned(),
                address: str_of(body, "address").to_owned(),
                href: map_url(lat, lng),
            }
        }
        MessageKind::Unknown => Body::Unknown {
            kind: str_of(body, "type").to_owned(),
        },
    }
}

/// A one-line summary of a message, for list previews and quotes.
pub fn summary(kind: MessageKind, body: &Value, t: Tr) -> String {
    let key = match kind {
        MessageKind::Text => {
            let text = str_of(body, "text");
            let mut line: String = text.chars().take(80).collect();
            if line.len() < text.len() {
                line.push('…');
            }
            return line.replace(['\n', '\r'], " ");
        }
        MessageKind::Sticker => "chats.preview.sticker",
        MessageKind::Image => "chats.preview.image",
        MessageKind::Video => "chats.preview.video",
        MessageKind::Audio => "chats.preview.audio",
        MessageKind::File => "chats.preview.file",
        MessageKind::Location => "chats.preview.location",
        MessageKind::Unknown => "chats.preview.unknown",
    };
    t.get(key).to_owned()
}

/// One message for the thread, with its stored media if any.
pub fn message_view(
    m: &Message,
    media: Option<&MediaView>,
    viewer: &Viewer,
    names: &Names,
    now: i64,
) -> MessageView {
    let t = viewer.tr();
    let inbound = m.direction == Direction::In;
    let sender = if inbound {
        m.sender_name.clone()
    } else {
        Some(match m.sender_operator_id {
            Some(id) => names
                .operators
                .get(&id)
                .cloned()
                .unwrap_or_else(|| t.get("timeline.someone").to_owned()),
            None if m.sender_bot => t.get("bot.chat.sender").to_owned(),
            None => t.get("chats.sender.system").to_owned(),
        })
    };
    MessageView {
        id: m.id.to_string(),
        inbound,
        body: body_of(m.kind, &m.body.0, media, t),
        time: viewer.time(m.event_ms, now),
        status: m.status.as_str(),
        failure_reason: (m.status == MessageStatus::Failed)
            .then(|| m.failure_reason.clone().unwrap_or_default()),
        sender,
        quote_token: if inbound && !m.unsent {
            m.quote_token.clone()
        } else {
            None
        },
        summary: summary(m.kind, &m.body.0, t),
        unsent: m.unsent,
        quick_replies: if inbound {
            Vec::new()
        } else {
            quick_reply_labels(&m.body.0)
        },
    }
}

/// A timeline entry's sentence, or `None` for entries the thread does not show.
pub fn event_view(e: &Event, viewer: &Viewer, names: &Names, now: i64) -> Option<EventView> {
    let t = viewer.tr();
    let payload = &e.payload.0;
    let kind = str_of(payload, "kind");
    let mut note = None;
    let text = match kind {
        "lifecycle" => {
            let event = payload.get("event")?;
            let who = || names.operator(t, event.get("operator"));
            match str_of(event, "type") {
                "started" => t.get("timeline.started").to_owned(),
                "handed_off" => t.get("timeline.handed_off").to_owned(),
                "taken_over" => t.fmt1("timeline.taken_over", "name", who()),
                "handed_back" => t.get("timeline.handed_back").to_owned(),
                "accepted" => t.fmt1("timeline.accepted", "name", who()),
                "assigned" => t.fmt1("timeline.assigned", "name", who()),
                "missed" => t.get("timeline.missed").to_owned(),
                "transferred" => {
                    note = event
                        .get("note")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned);
                    let to = event.get("to")?;
                    let target = if let Some(op) = to.get("operator") {
                        names.operator(t, Some(op))
                    } else {
                        names.department(t, to.get("department"))
                    };
                    t.fmt1("timeline.transferred", "to", target)
                }
                "closed" => {
                    let reason = str_of(event, "reason");
                    let why = t.code(
                        "timeline.close_reason.",
                        reason,
                        "timeline.close_reason.other",
                    );
                    match event.get("by").filter(|b| !b.is_null()) {
                        Some(by) => t.fmt2(
                            "timeline.closed_by",
                            "name",
                            names.operator(t, Some(by)),
                            "reason",
                            why,
                        ),
                        None => t.fmt1("timeline.closed", "reason", why),
                    }
                }
                _ => return None,
            }
        }
        "follow" => {
            let unblocked = payload
                .pointer("/detail/unblocked")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            t.get(if unblocked {
                "timeline.unblocked"
            } else {
                "timeline.follow"
            })
            .to_owned()
        }
        "unfollow" => t.get("timeline.blocked").to_owned(),
        "postback" => {
            let data = payload
                .pointer("/detail/postback/data")
                .and_then(Value::as_str)
                .unwrap_or_default();
            t.fmt1("timeline.postback", "data", data)
        }
        other => t.fmt1("timeline.other", "kind", other),
    };
    Some(EventView {
        text,
        note,
        time: viewer.time(e.created_ms, now),
    })
}

/// Messages and timeline entries merged in time order; `replyable`: the chat takes answers
/// (else no quote buttons). Timeline entries go first within the same millisecond: an
/// operator's first answer records "accepted" in the same transaction. The chat-start entry
/// goes before every message: it is written when the first message is received, later than
/// the LINE timestamp that message sorts by.
pub fn thread(
    messages: &[MessageWithMedia],
    events: &[Event],
    viewer: &Viewer,
    names: &Names,
    now: i64,
    replyable: bool,
) -> Vec<ThreadItem> {
    let mut items: Vec<(i64, u8, ThreadItem)> = messages
        .iter()
        .map(|MessageWithMedia { message: m, media }| {
            let at = if m.direction == Direction::In {
                m.event_ms
            } else {
                m.created_ms
            };
            let mut view = message_view(m, media.as_ref(), viewer, names, now);
            if !replyable {
                // Nothing can be sent, so nothing can be quoted.
                view.quote_token = None;
            }
            (at, 1, ThreadItem::Message(view))
        })
        .collect();
    let first_message_at = items.iter().map(|(at, _, _)| *at).min();
    items.extend(events.iter().filter_map(|e| {
        let at = match first_message_at {
            Some(first) if is_chat_start(e) => e.created_ms.min(first),
            _ => e.created_ms,
        };
        event_view(e, viewer, names, now).map(|v| (at, 0, ThreadItem::Event(v)))
    }));
    items.sort_by_key(|(at, order, _)| (*at, *order));
    items.into_iter().map(|(_, _, item)| item).collect()
}

/// The lifecycle entry that opens a chat.
fn is_chat_start(e: &Event) -> bool {
    let payload = &e.payload.0;
    str_of(payload, "kind") == "lifecycle"
        && payload.pointer("/event/type").and_then(Value::as_str) == Some("started")
}

/// A row of a chat list.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRow {
    pub id: String,
    pub href: String,
    pub name: String,
    pub initial: String,
    pub picture_url: Option<String>,
    pub preview: String,
    pub state: &'static str,
    pub unread: i64,
    /// How long the user has waited, for waiting and missed chats.
    pub waiting: Option<String>,
    pub time: String,
    pub active: bool,
    pub blocked: bool,
}

/// A contact's name, or a placeholder when LINE gave none.
pub fn contact_name(name: Option<&str>, t: Tr) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => name.to_owned(),
        None => t.get("chats.unnamed").to_owned(),
    }
}

/// A picture URL the CSP allows (LINE's hosts or our own), else none.
pub fn picture(url: Option<&str>) -> Option<String> {
    url.filter(|u| {
        u.starts_with("https://profile.line-scdn.net/")
            || u.starts_with("https://obs.line-scdn.net/")
            || u.starts_with('/')
    })
    .map(str::to_owned)
}

/// How long since `since_ms`, in words.
pub fn duration(t: Tr, since_ms: i64, now_ms: i64) -> String {
    let minutes = (now_ms - since_ms).max(0) / 60_000;
    match minutes {
        0 => t.get("common.duration.now").to_owned(),
        m if m < 60 => t.fmt1("common.duration.minutes", "n", m),
        m if m < 60 * 24 => t.fmt1("common.duration.hours", "n", m / 60),
        m => t.fmt1("common.duration.days", "n", m / (60 * 24)),
    }
}

/// One chat list row.
pub fn chat_row(
    item: &ChatListItem,
    viewer: &Viewer,
    href: String,
    active: bool,
    now: i64,
) -> ChatRow {
    let t = viewer.tr();
    let c = &item.conversation;
    let name = contact_name(c.contact_name.as_deref(), t);
    let preview = match (&item.last_kind, &item.last_body) {
        (Some(kind), Some(body)) => {
            let text = summary(MessageKind::from_line_type(kind), &body.0, t);
            match (item.last_direction.as_deref(), item.last_sender_bot) {
                (Some("out"), Some(true)) => t.fmt1("chats.preview.bot", "text", text),
                (Some("out"), _) => t.fmt1("chats.preview.you", "text", text),
                _ => text,
            }
        }
        _ => String::new(),
    };
    let waiting = matches!(
        c.state,
        ConversationState::Waiting | ConversationState::Missed
    )
    .then(|| duration(t, c.opened_ms, now));
    ChatRow {
        id: c.id.to_string(),
        href,
        initial: name.chars().next().map(String::from).unwrap_or_default(),
        name,
        picture_url: picture(c.contact_picture_url.as_deref()),
        preview,
        state: c.state.as_str(),
        unread: item.unread,
        waiting,
        time: viewer.time(c.closed_ms.unwrap_or(c.last_message_ms), now),
        active,
        blocked: c.friend_status == FriendStatus::Blocked,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn emojis_replace_their_dollar_signs_by_utf16_index() {
        // "😀" is two UTF-16 units, so the emoji's `$` is at unit 4, not char 3.
        let body = json!({"type": "text", "text": "😀 a$b", "emojis": [
            {"index": 4, "length": 1, "productId": "5ac1bfd5040ab15980c9b435", "emojiId": "001"}
        ]});
        let parts = text_parts(&body);
        assert_eq!(
            parts,
            vec![
                TextPart::Text("😀 a".into()),
                TextPart::Emoji {
                    url: emoji_url("5ac1bfd5040ab15980c9b435", "001"),
                    alt: "$".into()
                },
                TextPart::Text("b".into()),
            ]
        );
    }

    #[test]
    fn bad_emoji_ranges_leave_the_text_alone() {
        let body = json!({"text": "ab", "emojis": [{"index": 5, "length": 1, "productId": "p", "emojiId": "1"}]});
        assert_eq!(text_parts(&body), vec![TextPart::Text("ab".into())]);
    }

    #[test]
    fn quick_reply_labels_skip_unlabelled_actions() {
        let body = json!({"type": "text", "text": "Hours?", "quickReply": {"items": [
            {"type": "action", "action": {"type": "postback", "label": "Shops", "data": "shops"}},
            {"type": "action", "action": {"type": "camera"}},
            {"type": "action", "action": {"type": "message", "label": "Menu", "text": "menu"}}
        ]}});
        assert_eq!(quick_reply_labels(&body), vec!["Shops", "Menu"]);
        assert!(quick_reply_labels(&json!({"type": "text", "text": "hi"})).is_empty());
    }

    #[test]
    fn only_https_or_local_media_is_shown() {
        assert_eq!(
            media_src(&json!({"originalContentUrl": "javascript:alert(1)"}), None),
            None
        );
        assert_eq!(
            media_src(
                &json!({"originalContentUrl": "https://x.example/a.jpg"}),
                None
            )
            .as_deref(),
            Some("https://x.example/a.jpg")
        );
        assert_eq!(picture(Some("http://evil.example/x.png")), None);
    }
}
