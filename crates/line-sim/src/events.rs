//! Builds webhook event objects exactly as `webhook.yml` shapes them, with plain `serde_json`
//! (independent of any parser the desk uses), and applies each event's effect on the simulated
//! world: reply/quote/mark-as-read tokens, stored content, friendship and chat membership.

use serde_json::{Map, Value, json};

use crate::ids;
use crate::model::{EventKind, Source};
use crate::state::{Content, ReplyToken, State};

/// `webhook.yml` `Source` object.
pub(crate) fn source_json(source: &Source) -> Value {
    match source {
        Source::User(user_id) => json!({ "type": "user", "userId": user_id }),
        Source::Group { group_id, user_id } => {
            chat_source("group", "groupId", group_id, user_id.as_deref())
        }
        Source::Room { room_id, user_id } => {
            chat_source("room", "roomId", room_id, user_id.as_deref())
        }
    }
}

/// `GroupSource` / `RoomSource`: alike but for the type and the name of the chat ID field;
/// `userId` is omitted when the acting member is unknown.
fn chat_source(source_type: &str, id_field: &str, chat_id: &str, user_id: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(source_type));
    m.insert(id_field.into(), json!(chat_id));
    if let Some(u) = user_id {
        m.insert("userId".into(), json!(u));
    }
    Value::Object(m)
}

/// Event types that carry no `source` (account- or module-level events).
fn has_source(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::ModuleAttached { .. }
            | EventKind::ModuleDetached { .. }
            | EventKind::BotSuspended
            | EventKind::BotResumed
            | EventKind::Delivery { .. }
    )
}

struct Builder<'a> {
    state: &'a mut State,
    channel_id: &'a str,
    source: &'a Source,
    ts: i64,
}

impl Builder<'_> {
    fn reply_token(&mut self) -> String {
        let token = ids::reply_token();
        self.state.reply_tokens.insert(
            token.clone(),
            ReplyToken {
                channel_id: self.channel_id.to_owned(),
                to: self.source.chat_id().to_owned(),
                issued_ms: self.ts,
                used: false,
            },
        );
        token
    }

    /// A message object: `type`, `id`, the given fields, plus `quoteToken` when `quotable` and
    /// `markAsReadToken` for one-to-one chats.
    fn message(&mut self, msg_type: &str, fields: Value, quotable: bool) -> (String, Value) {
        let id = self.state.message_id();
        let mut m = Map::new();
        m.insert("type".into(), json!(msg_type));
        m.insert("id".into(), json!(id));
        if let Value::Object(extra) = fields {
            m.extend(extra);
        }
        if quotable {
            let qt = self.state.quote_token(self.channel_id);
            m.insert("quoteToken".into(), json!(qt));
        }
        if matches!(self.source, Source::User(_)) {
            let token = ids::mark_as_read_token();
            self.state
                .read_tokens
                .insert(token.clone(), self.channel_id.to_owned());
            m.insert("markAsReadToken".into(), json!(token));
        }
        (id, Value::Object(m))
    }

    fn store(&mut self, message_id: String, content_type: String, bytes: Vec<u8>) {
        let unsent = self.state.unsent.remove(&message_id);
        self.state.contents.insert(
            message_id,
            Content {
                channel_id: Some(self.channel_id.to_owned()),
                content_type,
                bytes,
                preparing: 0,
                unsent,
            },
        );
    }

    fn line_provider() -> Value {
        json!({ "type": "line" })
    }

    /// Every message type makes the same event: the message object under `message`, and a
    /// reply token. `content` (content type, bytes) is stored for the content endpoint.
    fn message_event(
        &mut self,
        f: &mut Map<String, Value>,
        msg_type: &str,
        fields: Value,
        quotable: bool,
        content: Option<(String, Vec<u8>)>,
    ) -> (&'static str, bool) {
        let (id, m) = self.message(msg_type, fields, quotable);
        if let Some((content_type, bytes)) = content {
            self.store(id, content_type, bytes);
        }
        f.insert("message".into(), m);
        ("message", true)
    }

    /// (event type, whether a reply token is issued, type-specific fields).
    fn body(&mut self, kind: EventKind) -> (&'static str, bool, Map<String, Value>) {
        let mut f = Map::new();
        let (ty, replyable) = match kind {
            EventKind::Text(text) => {
                self.message_event(&mut f, "text", json!({ "text": text }), true, None)
            }
            EventKind::RichText {
                text,
                emojis,
                mention,
                quoted_message_id,
            } => {
                let mut fields = Map::new();
                fields.insert("text".into(), json!(text));
                if !emojis.is_empty() {
                    fields.insert("emojis".into(), Value::Array(emojis));
                }
                if let Some(m) = mention {
                    fields.insert("mention".into(), m);
                }
                if let Some(q) = quoted_message_id {
                    fields.insert("quotedMessageId".into(), json!(q));
                }
                self.message_event(&mut f, "text", Value::Object(fields), true, None)
            }
            EventKind::Sticker {
                package_id,
                sticker_id,
                resource_type,
            } => self.message_event(
                &mut f,
                "sticker",
                json!({
                    "packageId": package_id,
                    "stickerId": sticker_id,
                    "stickerResourceType": resource_type,
                }),
                true,
                None,
            ),
            EventKind::Image {
                content_type,
                bytes,
            } => self.message_event(
                &mut f,
                "image",
                json!({ "contentProvider": Self::line_provider() }),
                true,
                Some((content_type, bytes)),
            ),
            EventKind::Video {
                content_type,
                bytes,
                duration_ms,
            } => self.message_event(
                &mut f,
                "video",
                json!({ "duration": duration_ms, "contentProvider": Self::line_provider() }),
                true,
                Some((content_type, bytes)),
            ),
            EventKind::Audio {
                content_type,
                bytes,
                duration_ms,
            } => self.message_event(
                &mut f,
                "audio",
                json!({ "duration": duration_ms, "contentProvider": Self::line_provider() }),
                false,
                Some((content_type, bytes)),
            ),
            EventKind::File { name, bytes } => self.message_event(
                &mut f,
                "file",
                json!({ "fileName": name, "fileSize": bytes.len() }),
                false,
                Some(("application/octet-stream".into(), bytes)),
            ),
            EventKind::Location {
                title,
                address,
                latitude,
                longitude,
            } => {
                let mut fields = Map::new();
                if let Some(t) = title {
                    fields.insert("title".into(), json!(t));
                }
                if let Some(a) = address {
                    fields.insert("address".into(), json!(a));
                }
                fields.insert("latitude".into(), json!(latitude));
                fields.insert("longitude".into(), json!(longitude));
                self.message_event(&mut f, "location", Value::Object(fields), false, None)
            }
            EventKind::Follow { is_unblocked } => {
                f.insert("follow".into(), json!({ "isUnblocked": is_unblocked }));
                ("follow", true)
            }
            EventKind::Unfollow => ("unfollow", false),
            EventKind::Join => ("join", true),
            EventKind::Leave => ("leave", false),
            EventKind::MemberJoined(users) => {
                f.insert("joined".into(), json!({ "members": members(&users) }));
                ("memberJoined", true)
            }
            EventKind::MemberLeft(users) => {
                f.insert("left".into(), json!({ "members": members(&users) }));
                ("memberLeft", false)
            }
            EventKind::Postback { data, params } => {
                let mut p = Map::new();
                p.insert("data".into(), json!(data));
                if let Some(params) = params {
                    p.insert("params".into(), params);
                }
                f.insert("postback".into(), Value::Object(p));
                ("postback", true)
            }
            EventKind::Unsend { message_id } => {
                match self.state.contents.get_mut(&message_id) {
                    Some(c) => c.unsent = true,
                    None => {
                        self.state.unsent.insert(message_id.clone());
                    }
                }
                f.insert("unsend".into(), json!({ "messageId": message_id }));
                ("unsend", false)
            }
            EventKind::VideoPlayComplete { tracking_id } => {
                f.insert(
                    "videoPlayComplete".into(),
                    json!({ "trackingId": tracking_id }),
                );
                ("videoPlayComplete", true)
            }
            EventKind::Beacon { hwid, beacon_type } => {
                f.insert(
                    "beacon".into(),
                    json!({ "hwid": hwid, "type": beacon_type }),
                );
                ("beacon", true)
            }
            EventKind::AccountLink { nonce, result } => {
                let ok = result == "ok";
                f.insert("link".into(), json!({ "result": result, "nonce": nonce }));
                ("accountLink", ok)
            }
            EventKind::Membership {
                membership_type,
                membership_id,
            } => {
                f.insert(
                    "membership".into(),
                    json!({ "type": membership_type, "membershipId": membership_id }),
                );
                ("membership", true)
            }
            EventKind::ModuleAttached { bot_id, scopes } => {
                f.insert(
                    "module".into(),
                    json!({ "type": "attached", "botId": bot_id, "scopes": scopes }),
                );
                ("module", false)
            }
            EventKind::ModuleDetached { bot_id, reason } => {
                f.insert(
                    "module".into(),
                    json!({ "type": "detached", "botId": bot_id, "reason": reason }),
                );
                ("module", false)
            }
            EventKind::Activated => {
                f.insert(
                    "chatControl".into(),
                    json!({ "expireAt": self.ts + 3_600_000 }),
                );
                ("activated", false)
            }
            EventKind::Deactivated => ("deactivated", false),
            EventKind::BotSuspended => ("botSuspended", false),
            EventKind::BotResumed => ("botResumed", false),
            EventKind::Delivery { data } => {
                f.insert("delivery".into(), json!({ "data": data }));
                ("delivery", false)
            }
            EventKind::Things {
                device_id,
                things_type,
                result,
            } => {
                let mut t = Map::new();
                t.insert("deviceId".into(), json!(device_id));
                t.insert("type".into(), json!(things_type));
                if let Some(r) = result {
                    t.insert("result".into(), r);
                }
                f.insert("things".into(), Value::Object(t));
                ("things", true)
            }
            // Handled by the caller.
            EventKind::Raw(_) => ("", false),
        };
        (ty, replyable, f)
    }
}

fn members(users: &[String]) -> Vec<Value> {
    users
        .iter()
        .map(|u| json!({ "type": "user", "userId": u }))
        .collect()
}

/// Updates friendship and membership for an event about to be sent.
fn apply_world_effects(state: &mut State, channel_id: &str, source: &Source, kind: &EventKind) {
    let Some(channel) = state.channels.get_mut(channel_id) else {
        return;
    };
    if let Some(user) = source.user_id() {
        channel.touch_user(user);
    }
    let chat = match source {
        Source::User(_) => None,
        Source::Group { group_id, .. } => Some(group_id.clone()),
        Source::Room { room_id, .. } => Some(room_id.clone()),
    };
    match kind {
        EventKind::Leave => {
            if let Some(chat) = &chat {
                channel.chats.remove(chat);
            }
            return;
        }
        EventKind::Unfollow => {
            if let Source::User(u) = source
                && let Some(user) = channel.users.get_mut(u)
            {
                user.blocked = true;
            }
        }
        EventKind::Follow { .. } => {
            if let Source::User(u) = source
                && let Some(user) = channel.users.get_mut(u)
            {
                user.blocked = false;
            }
        }
        _ => {}
    }
    if let Some(chat) = chat {
        let members = channel.chats.entry(chat).or_default();
        if let Some(user) = source.user_id() {
            members.insert(user.to_owned());
        }
        match kind {
            EventKind::MemberJoined(users) => {
                for u in users {
                    members.insert(u.clone());
                }
                for u in users {
                    channel.touch_user(u);
                }
            }
            EventKind::MemberLeft(users) => {
                for u in users {
                    members.remove(u);
                }
            }
            _ => {}
        }
    }
}

/// Builds one webhook event object timestamped `ts` (Unix ms), registering its tokens and
/// content with the simulator.
pub(crate) fn build(
    state: &mut State,
    channel_id: &str,
    source: &Source,
    kind: EventKind,
    ts: i64,
) -> Value {
    if let EventKind::Raw(v) = kind {
        return v;
    }
    apply_world_effects(state, channel_id, source, &kind);
    let with_source = has_source(&kind);
    let mut b = Builder {
        state,
        channel_id,
        source,
        ts,
    };
    let (ty, replyable, fields) = b.body(kind);
    let mut ev = Map::new();
    ev.insert("type".into(), json!(ty));
    if replyable {
        let token = b.reply_token();
        ev.insert("replyToken".into(), json!(token));
    }
    if with_source {
        ev.insert("source".into(), source_json(source));
    }
    ev.insert("timestamp".into(), json!(ts));
    ev.insert("mode".into(), json!("active"));
    ev.insert("webhookEventId".into(), json!(ids::ulid(ts)));
    ev.insert("deliveryContext".into(), json!({ "isRedelivery": false }));
    ev.extend(fields);
    Value::Object(ev)
}
