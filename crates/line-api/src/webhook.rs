//! Webhook request bodies: the JSON LINE POSTs to the bot server, typed after the `CallbackRequest`
//! schema of LINE's `webhook.yml`.
//!
//! [`parse_body`] is the entry point. It keeps every event's JSON exactly as received next to its
//! typed form, so the desk can store what LINE sent and still work with types. Types this crate
//! does not know yet (event, source, message, mentionee and module types, and string enum values)
//! parse to an `Unknown` variant that keeps the raw JSON, so a new LINE feature never makes a body
//! unparseable; a *known* type with a missing required field is malformed and is a [`ParseError`]
//! naming the path, e.g. ``events[2].message: missing field `id` ``.
//!
//! Signatures are checked separately, over the raw bytes, by [`crate::signature`].

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::open_enum::string_enum;

/// Parses a webhook request body.
///
/// An empty `events` array is valid: LINE sends one to check that the webhook URL answers.
pub fn parse_body(body: &[u8]) -> Result<WebhookBody, ParseError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        ParseError::new(&path, &err.into_inner())
    })?;
    deserializer
        .end()
        .map_err(|err| ParseError::new(".", &err))?;
    Ok(parsed)
}

/// Why a webhook body could not be parsed, and where.
///
/// `path` is a dotted path into the body (`events[2].message`), or `body` for the body itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not well-formed JSON.
    #[error("{path}: invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        /// Where in the body the parser was.
        path: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Well-formed JSON that does not match the webhook schema.
    #[error("{path}: {message}")]
    Invalid {
        /// The value that is wrong.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ParseError {
    fn new(path: &str, err: &serde_json::Error) -> Self {
        let message = message_of(err);
        if err.is_syntax() || err.is_eof() {
            return Self::Syntax {
                path: display_path(path),
                line: err.line(),
                column: err.column(),
                message,
            };
        }
        let (inner, message) = split_path(&message);
        Self::Invalid {
            path: display_path(&join_path(path, inner)),
            message: message.to_owned(),
        }
    }

    /// The path of the offending value (`body` for the body itself).
    pub fn path(&self) -> &str {
        match self {
            Self::Syntax { path, .. } | Self::Invalid { path, .. } => path,
        }
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> &str {
        match self {
            Self::Syntax { message, .. } | Self::Invalid { message, .. } => message,
        }
    }
}

/// A webhook request body (`CallbackRequest`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookBody {
    /// User ID of the bot that should receive the events (`U` + 32 hex digits).
    pub destination: String,
    /// The events, in the order LINE sent them; may be empty.
    pub events: Vec<ParsedEvent>,
}

/// One webhook event: its JSON exactly as received, and its typed form.
///
/// Serializes as `raw`, so a re-serialized [`WebhookBody`] carries the events byte for byte.
#[derive(Debug, Clone)]
pub struct ParsedEvent {
    /// The event object exactly as it appeared in the body.
    pub raw: Box<RawValue>,
    /// The typed event.
    pub event: Event,
}

impl ParsedEvent {
    /// A key that is the same for every delivery of one event and differs between events.
    ///
    /// The `webhookEventId` when present. Otherwise `sha256:` and the hex SHA-256 of the event's
    /// canonical JSON (object keys sorted, no whitespace) without `deliveryContext`, the one field
    /// that differs between a delivery and its redeliveries.
    pub fn dedupe_key(&self) -> String {
        if let Some(id) = &self.event.webhook_event_id {
            return id.clone();
        }
        let canonical = match serde_json::from_str::<Value>(self.raw.get()) {
            Ok(Value::Object(mut object)) => {
                object.remove("deliveryContext");
                canonical_json(&Value::Object(object))
            }
            // `raw` always holds a JSON object (it parsed as an `Event`); hash anything else as is.
            _ => self.raw.get().to_owned(),
        };
        format!("sha256:{}", hex(&Sha256::digest(canonical.as_bytes())))
    }
}

impl PartialEq for ParsedEvent {
    fn eq(&self, other: &Self) -> bool {
        self.raw.get() == other.raw.get() && self.event == other.event
    }
}

impl Serialize for ParsedEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ParsedEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let event =
            decode(&mut serde_json::Deserializer::from_str(raw.get())).map_err(D::Error::custom)?;
        Ok(Self { raw, event })
    }
}

/// A webhook event: the fields every event has, and the type-specific [`EventKind`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The channel's state: `active`, or `standby` while a module channel has chat control.
    pub mode: Mode,
    /// When the event happened, in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Where the event came from; absent for events that concern no chat (e.g. module events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Unique ID of the event (a ULID); the same on redeliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_event_id: Option<String>,
    /// Whether this is a redelivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_context: Option<DeliveryContext>,
    /// Token to reply to the event, for the event types that can be replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_token: Option<String>,
    /// The `type` and the type-specific fields.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// The event's `type` as on the wire (`message`, `follow`, …), also for unknown types.
    pub fn event_type(&self) -> &str {
        self.kind.type_name()
    }

    /// The chat the event belongs to: the group ID, room ID or user ID of its source.
    ///
    /// `None` when the event has no source, or a source this crate cannot place.
    pub fn chat_key(&self) -> Option<String> {
        self.source.as_ref()?.chat_id().map(str::to_owned)
    }

    /// The LINE message ID, for message events.
    pub fn line_message_id(&self) -> Option<&str> {
        match &self.kind {
            EventKind::Message(event) => event.message.id(),
            _ => None,
        }
    }

    /// Whether LINE marked this delivery as a redelivery.
    pub fn is_redelivery(&self) -> bool {
        self.delivery_context
            .as_ref()
            .is_some_and(|context| context.is_redelivery)
    }
}

/// How the event was delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryContext {
    /// Whether the event is a redelivery of one that was not acknowledged in time.
    pub is_redelivery: bool,
}

tagged_enum! {
    /// The type-specific part of an [`Event`], selected by its `type`.
    ///
    /// For [`EventKind::Unknown`], `raw` holds every field that [`Event`] does not hold itself.
    #[derive(Debug, Clone, PartialEq)]
    pub enum EventKind / event_type {
        data {
            /// `message`: a user sent a message.
            "message" => Message(MessageEvent),
            /// `unsend`: a user unsent a message.
            "unsend" => Unsend(UnsendEvent),
            /// `follow`: the account was added as a friend or unblocked.
            "follow" => Follow(FollowEvent),
            /// `memberJoined`: users joined a group or room the account is in.
            "memberJoined" => MemberJoined(MemberJoinedEvent),
            /// `memberLeft`: users left a group or room the account is in.
            "memberLeft" => MemberLeft(MemberLeftEvent),
            /// `postback`: a user performed a postback action.
            "postback" => Postback(PostbackEvent),
            /// `videoPlayComplete`: a user finished watching a video sent with a `trackingId`.
            "videoPlayComplete" => VideoPlayComplete(VideoPlayCompleteEvent),
            /// `beacon`: a user came in range of a LINE Beacon.
            "beacon" => Beacon(BeaconEvent),
            /// `accountLink`: a user linked (or failed to link) their LINE account.
            "accountLink" => AccountLink(AccountLinkEvent),
            /// `membership`: a user joined, left or renewed a membership.
            "membership" => Membership(MembershipEvent),
            /// `module`: a module channel was attached or detached.
            "module" => Module(ModuleEvent),
            /// `activated`: the module channel became the active channel.
            "activated" => Activated(ActivatedEvent),
            /// `delivery`: a LINE notification message (PNP) was delivered.
            "delivery" => Delivery(PnpDeliveryCompletionEvent),
        }
        unit {
            /// `unfollow`: the account was blocked.
            "unfollow" => Unfollow,
            /// `join`: the account joined a group or room.
            "join" => Join,
            /// `leave`: the account left, or was removed from, a group or room.
            "leave" => Leave,
            /// `deactivated`: the module channel became the standby channel.
            "deactivated" => Deactivated,
            /// `botSuspended`: the account was suspended.
            "botSuspended" => BotSuspended,
            /// `botResumed`: the account is no longer suspended.
            "botResumed" => BotResumed,
        }
    }
}

string_enum! {
    /// Channel state (`EventMode`).
    pub enum Mode {
        /// The channel may reply.
        Active = "active",
        /// A module channel has chat control; this channel only observes.
        Standby = "standby",
    }
}

tagged_enum! {
    /// The source of an event.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Source / source_type {
        data {
            /// A one-to-one chat with a user.
            "user" => User(UserSource),
            /// A group chat.
            "group" => Group(GroupSource),
            /// A multi-person chat.
            "room" => Room(RoomSource),
        }
        unit {}
    }
}

impl Source {
    /// The user who caused the event, when LINE says.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::User(source) => source.user_id.as_deref(),
            Self::Group(source) => source.user_id.as_deref(),
            Self::Room(source) => source.user_id.as_deref(),
            Self::Unknown { .. } => None,
        }
    }

    /// The chat: group ID, room ID or user ID; `None` for unknown source types.
    pub fn chat_id(&self) -> Option<&str> {
        match self {
            Self::User(source) => source.user_id.as_deref(),
            Self::Group(source) => Some(&source.group_id),
            Self::Room(source) => Some(&source.room_id),
            Self::Unknown { .. } => None,
        }
    }
}

/// A one-to-one chat (`UserSource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSource {
    /// The user's ID. Optional in the spec, though LINE always sends it in practice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A group chat (`GroupSource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSource {
    /// The group's ID.
    pub group_id: String,
    /// The user who caused the event; only in message events, from LINE for iOS and Android.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A multi-person chat (`RoomSource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomSource {
    /// The room's ID.
    pub room_id: String,
    /// The user who caused the event; only in message events, from LINE for iOS and Android.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// The fields of a `message` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEvent {
    /// The message.
    pub message: MessageContent,
}

tagged_enum! {
    /// The content of a received message.
    #[derive(Debug, Clone, PartialEq)]
    pub enum MessageContent / message_type {
        data {
            /// Text, possibly with LINE emoji and mentions.
            "text" => Text(TextMessageContent),
            /// An image.
            "image" => Image(ImageMessageContent),
            /// A video.
            "video" => Video(VideoMessageContent),
            /// An audio clip.
            "audio" => Audio(AudioMessageContent),
            /// A file.
            "file" => File(FileMessageContent),
            /// A location.
            "location" => Location(LocationMessageContent),
            /// A sticker.
            "sticker" => Sticker(StickerMessageContent),
        }
        unit {}
    }
}

impl MessageContent {
    /// The message ID (required for every message type, so also read from unknown ones).
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Text(message) => Some(&message.id),
            Self::Image(message) => Some(&message.id),
            Self::Video(message) => Some(&message.id),
            Self::Audio(message) => Some(&message.id),
            Self::File(message) => Some(&message.id),
            Self::Location(message) => Some(&message.id),
            Self::Sticker(message) => Some(&message.id),
            Self::Unknown { raw, .. } => raw.get("id").and_then(Value::as_str),
        }
    }

    /// The token to quote this message in a reply, for the types that have one.
    pub fn quote_token(&self) -> Option<&str> {
        match self {
            Self::Text(message) => Some(&message.quote_token),
            Self::Image(message) => Some(&message.quote_token),
            Self::Video(message) => Some(&message.quote_token),
            Self::Sticker(message) => Some(&message.quote_token),
            Self::Audio(_) | Self::File(_) | Self::Location(_) | Self::Unknown { .. } => None,
        }
    }

    /// The token to mark this message (and the ones before it) as read, when LINE sent one.
    pub fn mark_as_read_token(&self) -> Option<&str> {
        match self {
            Self::Text(message) => message.mark_as_read_token.as_deref(),
            Self::Image(message) => message.mark_as_read_token.as_deref(),
            Self::Video(message) => message.mark_as_read_token.as_deref(),
            Self::Audio(message) => message.mark_as_read_token.as_deref(),
            Self::File(message) => message.mark_as_read_token.as_deref(),
            Self::Location(message) => message.mark_as_read_token.as_deref(),
            Self::Sticker(message) => message.mark_as_read_token.as_deref(),
            Self::Unknown { .. } => None,
        }
    }
}

/// A text message (`TextMessageContent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextMessageContent {
    /// Message ID.
    pub id: String,
    /// The text.
    pub text: String,
    /// LINE emoji in the text, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emojis: Option<Vec<Emoji>>,
    /// Mentions in the text, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<Mention>,
    /// Token to quote this message.
    pub quote_token: String,
    /// ID of the message this one quotes, if it quotes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_message_id: Option<String>,
    /// Token to mark the message as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_as_read_token: Option<String>,
}

/// A LINE emoji inside a text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Emoji {
    /// Position of the emoji's first character in the text, from 0.
    pub index: i64,
    /// Length of the emoji's text, e.g. 7 for `(hello)`.
    pub length: i64,
    /// Product ID of the emoji set.
    pub product_id: String,
    /// ID of the emoji within the set.
    pub emoji_id: String,
}

/// The mentions in a text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mention {
    /// One or more mentions (at most 20).
    pub mentionees: Vec<Mentionee>,
}

tagged_enum! {
    /// One mention in a text message.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Mentionee / mentionee_type {
        data {
            /// A user is mentioned.
            "user" => User(UserMentionee),
            /// The whole chat is mentioned (`@All`).
            "all" => All(AllMentionee),
        }
        unit {}
    }
}

/// A mentioned user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserMentionee {
    /// Position of the mention in the text, from 0.
    pub index: i32,
    /// Length of the mention's text, e.g. 8 for `@example`.
    pub length: i32,
    /// The user's ID, if they consented to sharing their profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Whether the mentioned user is this bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_self: Option<bool>,
}

/// A mention of the whole chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllMentionee {
    /// Position of the mention in the text, from 0.
    pub index: i32,
    /// Length of the mention's text.
    pub length: i32,
}

/// An image message (`ImageMessageContent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageMessageContent {
    /// Message ID; also the key to download the content.
    pub id: String,
    /// Where the image is hosted.
    pub content_provider: ContentProvider,
    /// The set this image belongs to, when several were sent at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_set: Option<ImageSet>,
    /// Token to quote this message.
    pub quote_token: String,
    /// Token to mark the message as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_as_read_token: Option<String>,
}

/// Several images sent at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSet {
    /// ID of the set.
    pub id: String,
    /// This image's number in the set, from 1 (missing from old Android clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<i64>,
    /// How many images the set has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

/// A video message (`VideoMessageContent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoMessageContent {
    /// Message ID; also the key to download the content.
    pub id: String,
    /// Length in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    /// Where the video is hosted.
    pub content_provider: ContentProvider,
    /// Token to quote this message.
    pub quote_token: String,
    /// Token to mark the message as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_as_read_token: Option<String>,
}

/// An audio message (`AudioMessageContent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioMessageContent {
    /// Message ID; also the key to download the content.
    pub id: String,
    /// Where the audio is hosted.
    pub content_provider: ContentProvider,
    /// Length in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    /// Token to mark the message as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_as_read_token: Option<String>,
}

/// A file message (`FileMessageContent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileMessageContent {
    /// Message ID; also the key to download the content.
    pub id: String,
    /// File name.
    pub file_name: String,
    /// File size in bytes.
    pub file_size: i64,
    /// Token to mark the message as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_as_read_token: Option<String>,
}

/// A location message (`LocationMessageContent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationMessageContent {
    /// Message ID.
    pub id: String,
    /// Title of the place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Address of the place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Latitude.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
    /// Token to mark the message as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_as_read_token: Option<String>,
}

/// A sticker message (`StickerMessageContent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StickerMessageContent {
    /// Message ID.
    pub id: String,
    /// Sticker package ID.
    pub package_id: String,
    /// Sticker ID.
    pub sticker_id: String,
    /// What kind of sticker it is.
    pub sticker_resource_type: StickerResourceType,
    /// Up to 15 keywords describing the sticker (experimental; random when there are more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    /// Text the user entered; only for message stickers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Token to quote this message.
    pub quote_token: String,
    /// ID of the message this one quotes, if it quotes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_message_id: Option<String>,
    /// Token to mark the message as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_as_read_token: Option<String>,
}

string_enum! {
    /// The kind of a sticker.
    pub enum StickerResourceType {
        /// Still image.
        Static = "STATIC",
        /// Animated.
        Animation = "ANIMATION",
        /// With sound.
        Sound = "SOUND",
        /// Animated, with sound.
        AnimationSound = "ANIMATION_SOUND",
        /// Pop-up.
        Popup = "POPUP",
        /// Pop-up, with sound.
        PopupSound = "POPUP_SOUND",
        /// Custom sticker (text set by the user).
        Custom = "CUSTOM",
        /// Message sticker (text entered by the user).
        Message = "MESSAGE",
        /// Name sticker.
        NameText = "NAME_TEXT",
        /// Sticker with per-sticker text.
        PerStickerText = "PER_STICKER_TEXT",
    }
}

/// Where a media message's content is hosted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentProvider {
    /// `line` (download it from LINE) or `external`.
    #[serde(rename = "type")]
    pub provider_type: ContentProviderType,
    /// URL of the content; only for `external`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_content_url: Option<String>,
    /// URL of the preview image; only for `external`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_image_url: Option<String>,
}

string_enum! {
    /// Who hosts a media message's content.
    pub enum ContentProviderType {
        /// LINE: fetch it with the get-content API.
        Line = "line",
        /// Someone else: see the URLs in [`ContentProvider`].
        External = "external",
    }
}

/// The fields of an `unsend` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnsendEvent {
    /// Which message was unsent.
    pub unsend: UnsendDetail,
}

/// The unsent message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnsendDetail {
    /// ID of the unsent message.
    pub message_id: String,
}

/// The fields of a `follow` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowEvent {
    /// Details of the follow.
    pub follow: FollowDetail,
}

/// Details of a follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowDetail {
    /// `true` if the user unblocked the account, `false` if they added it as a friend.
    pub is_unblocked: bool,
}

/// The fields of a `memberJoined` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberJoinedEvent {
    /// Who joined.
    pub joined: JoinedMembers,
}

/// Users who joined a group or room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinedMembers {
    /// The users, as user sources.
    pub members: Vec<Source>,
}

/// The fields of a `memberLeft` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberLeftEvent {
    /// Who left.
    pub left: LeftMembers,
}

/// Users who left a group or room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftMembers {
    /// The users, as user sources.
    pub members: Vec<Source>,
}

/// The fields of a `postback` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostbackEvent {
    /// The postback.
    pub postback: PostbackContent,
}

/// A postback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostbackContent {
    /// The action's `data`.
    pub data: String,
    /// Extra values from datetime pickers and rich menu switches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<PostbackParams>,
}

/// A postback's `params`: a string-to-string map in the spec, with the keys LINE documents typed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostbackParams {
    /// Date picked with a `date` datetime picker (`2017-06-18`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Time picked with a `time` datetime picker (`06:15`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Date and time picked with a `datetime` picker (`2017-06-18T06:15`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datetime: Option<String>,
    /// Rich menu alias switched to by a rich menu switch action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_rich_menu_alias_id: Option<String>,
    /// Result of the rich menu switch (`SUCCESS`, `RICHMENU_ALIAS_ID_NOTFOUND`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Any other keys.
    #[serde(flatten)]
    pub other: BTreeMap<String, String>,
}

/// The fields of a `videoPlayComplete` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoPlayCompleteEvent {
    /// Which video.
    pub video_play_complete: VideoPlayComplete,
}

/// The video that was watched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoPlayComplete {
    /// The `trackingId` the video message was sent with.
    pub tracking_id: String,
}

/// The fields of a `beacon` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconEvent {
    /// The beacon.
    pub beacon: BeaconContent,
}

/// A detected beacon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconContent {
    /// Hardware ID of the beacon.
    pub hwid: String,
    /// What happened.
    #[serde(rename = "type")]
    pub beacon_type: BeaconType,
    /// Device message of the beacon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm: Option<String>,
}

string_enum! {
    /// What a beacon event reports.
    pub enum BeaconType {
        /// The user entered the beacon's range.
        Enter = "enter",
        /// The user tapped the beacon banner.
        Banner = "banner",
        /// The user is staying in the beacon's range.
        Stay = "stay",
    }
}

/// The fields of an `accountLink` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountLinkEvent {
    /// The outcome.
    pub link: LinkContent,
}

/// The outcome of account linking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkContent {
    /// Whether linking worked.
    pub result: LinkResult,
    /// The nonce given when verifying the user ID.
    pub nonce: String,
}

string_enum! {
    /// Whether account linking worked.
    pub enum LinkResult {
        /// It worked.
        Ok = "ok",
        /// It failed.
        Failed = "failed",
    }
}

/// The fields of a `membership` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipEvent {
    /// What happened to the membership.
    pub membership: MembershipContent,
}

/// A membership change. All three spec variants carry just a `membershipId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipContent {
    /// Joined, left or renewed.
    #[serde(rename = "type")]
    pub membership_type: MembershipType,
    /// ID of the membership plan.
    pub membership_id: i64,
}

string_enum! {
    /// What happened to a membership.
    pub enum MembershipType {
        /// The user subscribed.
        Joined = "joined",
        /// The user unsubscribed.
        Left = "left",
        /// The user renewed.
        Renewed = "renewed",
    }
}

/// The fields of a `module` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleEvent {
    /// What happened to the module.
    pub module: ModuleContent,
}

tagged_enum! {
    /// A module channel being attached or detached.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ModuleContent / module_type {
        data {
            /// The module was attached to an account.
            "attached" => Attached(AttachedModuleContent),
            /// The module was detached from an account.
            "detached" => Detached(DetachedModuleContent),
        }
        unit {}
    }
}

/// A module attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachedModuleContent {
    /// User ID of the account's bot.
    pub bot_id: String,
    /// Scopes the account's admin granted.
    pub scopes: Vec<String>,
}

/// A module detachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetachedModuleContent {
    /// User ID of the account's bot.
    pub bot_id: String,
    /// Why it was detached.
    pub reason: DetachedReason,
}

string_enum! {
    /// Why a module was detached.
    pub enum DetachedReason {
        /// The account was deleted.
        BotDeleted = "bot_deleted",
    }
}

/// The fields of an `activated` event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivatedEvent {
    /// The chat control the module acquired.
    pub chat_control: ChatControl,
}

/// Chat control held by a module channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatControl {
    /// When control expires, in milliseconds since the Unix epoch.
    pub expire_at: i64,
}

/// The fields of a `delivery` (PNP delivery completion) event besides the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PnpDeliveryCompletionEvent {
    /// Which delivery completed.
    pub delivery: PnpDelivery,
}

/// A completed LINE notification message delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PnpDelivery {
    /// The hashed phone number, or the `X-Line-Delivery-Tag` the message was sent with.
    pub data: String,
}

// ---------------------------------------------------------------------------------------------
// Serde plumbing.
//
// Tagged enums are buffered into a `Value`, dispatched on `type`, and decoded again; that second
// decode would lose the error path, so `decode` reports errors as `at <path>: <message>` and every
// level above joins its own path in front. `ParseError::new` finally splits the full path off.

/// Declares an enum tagged by a `type` field, with newtype variants for objects that have more
/// fields, unit variants for those that do not, and `Unknown { <tag field>, raw }` for the rest.
/// The caller supplies the derives (Serialize and Deserialize are implemented here).
macro_rules! tagged_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident / $tag_field:ident {
            data { $( $(#[$dmeta:meta])* $dwire:literal => $dvariant:ident($payload:ty), )* }
            unit { $( $(#[$umeta:meta])* $uwire:literal => $uvariant:ident, )* }
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $( $(#[$dmeta])* $dvariant($payload), )*
            $( $(#[$umeta])* $uvariant, )*
            /// A `type` this crate does not know yet.
            Unknown {
                /// The `type` as received.
                $tag_field: String,
                /// The object as received, `type` included.
                raw: Value,
            },
        }

        impl $name {
            /// The `type` as on the wire.
            pub fn type_name(&self) -> &str {
                match self {
                    $( Self::$dvariant(_) => $dwire, )*
                    $( Self::$uvariant => $uwire, )*
                    Self::Unknown { $tag_field, .. } => $tag_field,
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Self::$dvariant(inner) => Tagged { tag: $dwire, inner }.serialize(serializer), )*
                    $( Self::$uvariant => Tagged { tag: $uwire, inner: &NoFields {} }.serialize(serializer), )*
                    Self::Unknown { raw, .. } => raw.serialize(serializer),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let (tag, object) = split_tag(deserializer)?;
                match tag.as_str() {
                    $( $dwire => decode(object).map(Self::$dvariant).map_err(D::Error::custom), )*
                    $( $uwire => Ok(Self::$uvariant), )*
                    _ => Ok(Self::Unknown { $tag_field: tag, raw: object }),
                }
            }
        }
    };
}
use tagged_enum;

/// Serializes `inner`'s fields after a `type` field.
#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "type")]
    tag: &'a str,
    #[serde(flatten)]
    inner: &'a T,
}

/// The payload of a unit variant.
#[derive(Serialize)]
struct NoFields {}

/// Reads an object and its `type`.
fn split_tag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(String, Value), D::Error> {
    let object = Map::<String, Value>::deserialize(deserializer)?;
    let tag = match object.get("type") {
        None => return Err(D::Error::missing_field("type")),
        Some(tag) => {
            decode::<String, _>(tag).map_err(|message| D::Error::custom(nest("type", &message)))?
        }
    };
    Ok((tag, Value::Object(object)))
}

/// Decodes a `T`, describing any error as `at <path>: <message>` (just `<message>` at the root).
fn decode<'de, T, D>(deserializer: D) -> Result<T, String>
where
    T: Deserialize<'de>,
    D: Deserializer<'de, Error = serde_json::Error>,
{
    serde_path_to_error::deserialize(deserializer)
        .map_err(|err| nest(&err.path().to_string(), &message_of(err.inner())))
}

/// Marks a nested error message that starts with the path of the failing value.
const AT: &str = "at ";

/// Puts `path` in front of the path already in `message`.
fn nest(path: &str, message: &str) -> String {
    let (inner, message) = split_path(message);
    match join_path(path, inner).as_str() {
        "." => message.to_owned(),
        path => format!("{AT}{path}: {message}"),
    }
}

/// Splits `at <path>: <message>` into path and message; the path of other messages is `.`.
fn split_path(message: &str) -> (&str, &str) {
    message
        .strip_prefix(AT)
        .and_then(|rest| rest.split_once(": "))
        .unwrap_or((".", message))
}

/// Joins two `serde_path_to_error` paths, where `.` is the root.
fn join_path(outer: &str, inner: &str) -> String {
    match (outer, inner) {
        (".", path) | (path, ".") => path.to_owned(),
        (outer, inner) if inner.starts_with('[') => format!("{outer}{inner}"),
        (outer, inner) => format!("{outer}.{inner}"),
    }
}

/// How a path is shown in a [`ParseError`].
fn display_path(path: &str) -> String {
    match path {
        "." => "body".to_owned(),
        path => path.to_owned(),
    }
}

/// The message of a `serde_json` error without its ` at line L column C` suffix.
fn message_of(err: &serde_json::Error) -> String {
    let text = err.to_string();
    if err.line() == 0 {
        return text;
    }
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_owned(),
        None => text,
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|byte| [byte >> 4, byte & 0xf])
        .map(|nibble| char::from(DIGITS[usize::from(nibble)]))
        .collect()
}

/// Serializes with object keys sorted at every level and no whitespace.
///
/// serde_json's `Map` is already sorted unless its `preserve_order` feature is on (it is off in
/// this workspace); sorting here keeps dedupe keys stable even if some dependency turns it on.
fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(object) => {
                let mut entries: Vec<_> = object.iter().collect();
                entries.sort_unstable_by_key(|&(key, _)| key);
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, value)| (key.clone(), sorted(value)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}
