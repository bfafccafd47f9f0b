//! Rows as the store returns them, decoded into domain types, and the inputs that create them.

use desk_core::{
    BrandId, ChannelId, CloseReason, ContactId, ContactKind, ConversationId, ConversationState,
    DepartmentId, Direction, FriendStatus, MessageId, MessageKind, MessageStatus, Millis,
    OperatorId, OutboxId, Role, Sealed, SentVia,
};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// A brand.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Brand {
    #[sqlx(try_from = "Uuid")]
    pub id: BrandId,
    pub name: String,
    pub created_ms: Millis,
}

/// A department of a brand.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Department {
    #[sqlx(try_from = "Uuid")]
    pub id: DepartmentId,
    #[sqlx(try_from = "Uuid")]
    pub brand_id: BrandId,
    pub name: String,
    pub created_ms: Millis,
}

/// A console user.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Operator {
    #[sqlx(try_from = "Uuid")]
    pub id: OperatorId,
    pub brand_id: Option<Uuid>,
    pub email: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub capacity: i32,
    pub created_ms: Millis,
}

/// A new console user.
#[derive(Debug, Clone)]
pub struct NewOperator {
    pub brand_id: Option<BrandId>,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: Option<String>,
}

/// A connected LINE channel. Its secret and access token are sealed: the store never sees
/// them in clear, and only the server (which holds the key) opens them.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub id: ChannelId,
    pub brand_id: BrandId,
    pub department_id: DepartmentId,
    pub line_channel_id: String,
    pub channel_key: String,
    pub secret: Sealed,
    /// The secret before the last rotation, valid for signatures until `previous_secret_until_ms`.
    pub previous_secret: Option<Sealed>,
    pub previous_secret_until_ms: Option<Millis>,
    pub secret_rotated_ms: Option<Millis>,
    pub access_token: Option<Sealed>,
    pub token_expires_ms: Option<Millis>,
    pub bot_user_id: Option<String>,
    pub basic_id: Option<String>,
    pub display_name: String,
    pub picture_url: Option<String>,
    pub signature_failures: i64,
    pub reply_count: i64,
    pub push_count: i64,
    pub created_ms: Millis,
}

impl Channel {
    /// The sealed secrets a webhook signature may be made with at `now`: the current one, and
    /// the previous one during its grace period after a rotation.
    pub fn verifying_secrets(&self, now: Millis) -> impl Iterator<Item = &Sealed> {
        let previous = match (&self.previous_secret, self.previous_secret_until_ms) {
            (Some(s), Some(until)) if now < until => Some(s),
            _ => None,
        };
        std::iter::once(&self.secret).chain(previous)
    }
}

/// A `line_channels` row as read; [`Channel`] wraps its sealed columns.
#[derive(sqlx::FromRow)]
pub(crate) struct ChannelRow {
    id: Uuid,
    brand_id: Uuid,
    department_id: Uuid,
    line_channel_id: String,
    channel_key: String,
    secret_sealed: Option<Vec<u8>>,
    previous_secret_sealed: Option<Vec<u8>>,
    previous_secret_until_ms: Option<Millis>,
    secret_rotated_ms: Option<Millis>,
    access_token_sealed: Option<Vec<u8>>,
    token_expires_ms: Option<Millis>,
    bot_user_id: Option<String>,
    basic_id: Option<String>,
    display_name: String,
    picture_url: Option<String>,
    signature_failures: i64,
    reply_count: i64,
    push_count: i64,
    created_ms: Millis,
}

impl From<ChannelRow> for Channel {
    fn from(r: ChannelRow) -> Self {
        Channel {
            id: ChannelId(r.id),
            brand_id: BrandId(r.brand_id),
            department_id: DepartmentId(r.department_id),
            line_channel_id: r.line_channel_id,
            channel_key: r.channel_key,
            // A row not yet sealed (only before the server's start-up sealing) opens as an error.
            secret: Sealed::from_bytes(r.secret_sealed.unwrap_or_default()),
            previous_secret: r.previous_secret_sealed.map(Sealed::from_bytes),
            previous_secret_until_ms: r.previous_secret_until_ms,
            secret_rotated_ms: r.secret_rotated_ms,
            access_token: r.access_token_sealed.map(Sealed::from_bytes),
            token_expires_ms: r.token_expires_ms,
            bot_user_id: r.bot_user_id,
            basic_id: r.basic_id,
            display_name: r.display_name,
            picture_url: r.picture_url,
            signature_failures: r.signature_failures,
            reply_count: r.reply_count,
            push_count: r.push_count,
            created_ms: r.created_ms,
        }
    }
}

/// A new LINE channel.
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub brand_id: BrandId,
    pub department_id: DepartmentId,
    pub line_channel_id: String,
    pub channel_key: String,
    pub secret: Sealed,
    pub bot_user_id: Option<String>,
    pub basic_id: Option<String>,
    pub display_name: String,
    pub picture_url: Option<String>,
}

/// A LINE user, group or room on a channel.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Contact {
    #[sqlx(try_from = "Uuid")]
    pub id: ContactId,
    #[sqlx(try_from = "Uuid")]
    pub channel_id: ChannelId,
    #[sqlx(try_from = "String")]
    pub kind: ContactKind,
    pub line_id: String,
    pub display_name: Option<String>,
    pub picture_url: Option<String>,
    pub status_message: Option<String>,
    pub language: Option<String>,
    #[sqlx(try_from = "String")]
    pub friend_status: FriendStatus,
    pub profile_ms: Option<Millis>,
    pub created_ms: Millis,
    pub updated_ms: Millis,
}

/// A LINE profile as fetched from the API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub display_name: Option<String>,
    pub picture_url: Option<String>,
    pub status_message: Option<String>,
    pub language: Option<String>,
}

/// Who an inbound event is about: created on first sight (its profile is stored apart, see
/// [`crate::Store::set_contact_profiles`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRef {
    pub kind: ContactKind,
    pub line_id: String,
}

/// A conversation with its contact's name and picture, as listed in the console.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Conversation {
    #[sqlx(try_from = "Uuid")]
    pub id: ConversationId,
    #[sqlx(try_from = "Uuid")]
    pub brand_id: BrandId,
    #[sqlx(try_from = "Uuid")]
    pub channel_id: ChannelId,
    #[sqlx(try_from = "Uuid")]
    pub contact_id: ContactId,
    #[sqlx(try_from = "Uuid")]
    pub department_id: DepartmentId,
    pub assignee_id: Option<Uuid>,
    pub previous_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub state: ConversationState,
    pub close_reason: Option<String>,
    pub opened_ms: Millis,
    pub closed_ms: Option<Millis>,
    pub last_message_ms: Millis,
    pub contact_line_id: String,
    #[sqlx(try_from = "String")]
    pub contact_kind: ContactKind,
    pub contact_name: Option<String>,
    pub contact_picture_url: Option<String>,
    #[sqlx(try_from = "String")]
    pub friend_status: FriendStatus,
}

impl Conversation {
    /// The close reason, decoded.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.close_reason.as_deref().and_then(|r| r.parse().ok())
    }
}

/// Filter for listing conversations.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub brand_id: Option<BrandId>,
    pub state: Option<ConversationState>,
    /// Only chats of departments this operator is a member of (an operator's view).
    pub member_of: Option<OperatorId>,
    pub limit: i64,
}

/// A message, either direction.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Message {
    #[sqlx(try_from = "Uuid")]
    pub id: MessageId,
    #[sqlx(try_from = "Uuid")]
    pub conversation_id: ConversationId,
    #[sqlx(try_from = "String")]
    pub direction: Direction,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub body: Json<Value>,
    pub line_message_id: Option<String>,
    pub quote_token: Option<String>,
    #[serde(skip)]
    pub mark_as_read_token: Option<String>,
    pub sender_line_id: Option<String>,
    /// In group and room chats, the writer's LINE name.
    pub sender_name: Option<String>,
    pub sender_operator_id: Option<Uuid>,
    /// Written by the chatbot.
    pub sender_bot: bool,
    #[sqlx(try_from = "String")]
    pub status: MessageStatus,
    pub failure_reason: Option<String>,
    pub sent_via: Option<String>,
    pub unsent: bool,
    pub event_ms: Millis,
    pub created_ms: Millis,
}

/// An inbound LINE message to store.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub line_message_id: String,
    pub kind: MessageKind,
    /// LINE's message object, kept whole.
    pub body: Value,
    pub quote_token: Option<String>,
    pub mark_as_read_token: Option<String>,
    /// The user who wrote it (differs from the contact in groups and rooms).
    pub sender_line_id: Option<String>,
    /// In groups and rooms, the writer's LINE name (from the member profile).
    pub sender_name: Option<String>,
}

/// A webhook event to append to the inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInboxEvent {
    pub channel_id: ChannelId,
    pub dedupe_key: String,
    pub chat_key: Option<String>,
    pub event_type: String,
    pub event_ms: Millis,
    /// The event's JSON exactly as LINE sent it.
    pub raw: String,
}

/// A claimed inbox row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InboxRow {
    pub id: i64,
    #[sqlx(try_from = "Uuid")]
    pub channel_id: ChannelId,
    pub dedupe_key: String,
    pub chat_key: Option<String>,
    pub event_type: String,
    pub event_ms: Millis,
    pub raw: String,
    pub received_ms: Millis,
    pub attempts: i32,
}

/// A claimed outbox row: one send to LINE.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OutboxJob {
    #[sqlx(try_from = "Uuid")]
    pub id: OutboxId,
    #[sqlx(try_from = "Uuid")]
    pub message_id: MessageId,
    #[sqlx(try_from = "Uuid")]
    pub conversation_id: ConversationId,
    #[sqlx(try_from = "Uuid")]
    pub channel_id: ChannelId,
    pub to_line_id: String,
    /// LINE message objects to send.
    pub payload: Json<Value>,
    pub attempts: i32,
}

/// How a send ended, as recorded on the message.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// LINE accepted it.
    Sent {
        via: SentVia,
        line_message_id: Option<String>,
        quote_token: Option<String>,
    },
    /// Transient failure: try again at `next_attempt_ms`.
    Retry {
        next_attempt_ms: Millis,
        error: String,
    },
    /// Gave up: the reason is shown to the operator.
    Failed { reason: String },
}

/// One entry of a brand's realtime log.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    #[sqlx(try_from = "Uuid")]
    pub brand_id: BrandId,
    pub conversation_id: Option<Uuid>,
    pub kind: String,
    pub payload: Json<Value>,
    pub created_ms: Millis,
    /// The department the chat is in when the row is read (not when it was written).
    pub department_id: Option<Uuid>,
}
