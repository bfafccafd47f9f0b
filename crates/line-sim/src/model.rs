//! Public value types of the simulator: channels, users, event sources and kinds,
//! the records the sim keeps of what the desk sent, and fault-injection settings.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids;

/// The chat setting of a LINE Official Account (`chatMode` in `GET /v2/bot/info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatMode {
    /// Chat is "On" in the LINE Official Account Manager; `markAsReadMode` is `manual`.
    #[default]
    Chat,
    /// Chat is "Off"; `markAsReadMode` is `auto`.
    Bot,
}

impl ChatMode {
    /// The wire value of `chatMode`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatMode::Chat => "chat",
            ChatMode::Bot => "bot",
        }
    }

    /// The `markAsReadMode` LINE reports for this chat mode.
    pub fn mark_as_read_mode(self) -> &'static str {
        match self {
            ChatMode::Chat => "manual",
            ChatMode::Bot => "auto",
        }
    }
}

/// A simulated Messaging API channel (one LINE Official Account).
///
/// In JSON (for `POST /sim/channels`) only `channel_id` and `secret` are required; empty or
/// missing fields get the same defaults as [`ChannelSpec::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelSpec {
    /// Channel ID: the `client_id` for `POST /v2/oauth/accessToken`.
    pub channel_id: String,
    /// Channel secret: the `client_secret`, and the HMAC key of `x-line-signature`.
    pub secret: String,
    /// The bot's user ID (`destination` of webhooks, `userId` of bot info), `U` + 32 hex digits.
    #[serde(default)]
    pub bot_user_id: String,
    /// Basic ID such as `@123abcde`.
    #[serde(default)]
    pub basic_id: String,
    /// The account's display name.
    #[serde(default)]
    pub display_name: String,
    /// Profile image URL, if any.
    #[serde(default)]
    pub picture_url: Option<String>,
    /// Chat setting.
    #[serde(default)]
    pub chat_mode: ChatMode,
}

impl ChannelSpec {
    /// A channel with a random bot user ID, a basic ID and display name derived from the channel ID,
    /// no picture and chat mode [`ChatMode::Chat`].
    pub fn new(channel_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            channel_id: channel_id.into(),
            secret: secret.into(),
            bot_user_id: String::new(),
            basic_id: String::new(),
            display_name: String::new(),
            picture_url: None,
            chat_mode: ChatMode::Chat,
        }
        .with_defaults()
    }

    /// Fills empty generated fields with defaults.
    pub(crate) fn with_defaults(mut self) -> Self {
        if self.bot_user_id.is_empty() {
            self.bot_user_id = ids::user_id();
        }
        if self.basic_id.is_empty() {
            let short: String = self
                .channel_id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect::<String>()
                .to_ascii_lowercase();
            self.basic_id = format!("@sim{short}");
        }
        if self.display_name.is_empty() {
            self.display_name = format!("Sim OA {}", self.channel_id);
        }
        self
    }
}

/// A simulated LINE user, as returned by the profile endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimUser {
    /// User ID (`U` + 32 hex digits on real LINE; any string is accepted here).
    pub user_id: String,
    /// Display name.
    pub display_name: String,
    /// Profile image URL; omitted from profiles when `None`.
    #[serde(default)]
    pub picture_url: Option<String>,
    /// Status message; omitted from profiles when `None`.
    #[serde(default)]
    pub status_message: Option<String>,
    /// BCP 47 language tag; omitted from profiles when `None`.
    #[serde(default)]
    pub language: Option<String>,
}

impl SimUser {
    /// A user with only an ID and a display name.
    pub fn new(user_id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            display_name: display_name.into(),
            picture_url: None,
            status_message: None,
            language: None,
        }
    }
}

/// Where an event comes from (webhook `source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A one-to-one chat with this user.
    User(String),
    /// A group chat; `user_id` is the member who caused the event, if known.
    Group {
        /// Group ID (`C…`).
        group_id: String,
        /// The acting member.
        user_id: Option<String>,
    },
    /// A multi-person chat; `user_id` is the member who caused the event, if known.
    Room {
        /// Room ID (`R…`).
        room_id: String,
        /// The acting member.
        user_id: Option<String>,
    },
}

impl Source {
    /// The chat the event belongs to: the user, group or room ID (a reply goes there).
    pub fn chat_id(&self) -> &str {
        match self {
            Source::User(u) => u,
            Source::Group { group_id, .. } => group_id,
            Source::Room { room_id, .. } => room_id,
        }
    }

    /// The acting user, if any.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Source::User(u) => Some(u),
            Source::Group { user_id, .. } | Source::Room { user_id, .. } => user_id.as_deref(),
        }
    }
}

/// What happened: one webhook event type (and, for `message`, one message type) from `webhook.yml`.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// `message` / `text`.
    Text(String),
    /// `message` / `text` with the optional parts: LINE emojis, mentions, a quoted message.
    RichText {
        /// Message text.
        text: String,
        /// `emojis[]` objects (`index`, `length`, `productId`, `emojiId`), as is.
        emojis: Vec<Value>,
        /// `mention` object (`{"mentionees": [...]}`), as is.
        mention: Option<Value>,
        /// `quotedMessageId`.
        quoted_message_id: Option<String>,
    },
    /// `message` / `sticker`.
    Sticker {
        /// `packageId`.
        package_id: String,
        /// `stickerId`.
        sticker_id: String,
        /// `stickerResourceType`, e.g. `STATIC`, `ANIMATION`.
        resource_type: String,
    },
    /// `message` / `image`; the bytes are served by the content endpoint.
    Image {
        /// MIME type served with the content.
        content_type: String,
        /// The image.
        bytes: Vec<u8>,
    },
    /// `message` / `video`; the bytes are served by the content endpoint.
    Video {
        /// MIME type served with the content.
        content_type: String,
        /// The video.
        bytes: Vec<u8>,
        /// `duration` in milliseconds.
        duration_ms: u64,
    },
    /// `message` / `audio`; the bytes are served by the content endpoint.
    Audio {
        /// MIME type served with the content.
        content_type: String,
        /// The audio.
        bytes: Vec<u8>,
        /// `duration` in milliseconds.
        duration_ms: u64,
    },
    /// `message` / `file`; served as `application/octet-stream`.
    File {
        /// `fileName`.
        name: String,
        /// The file; `fileSize` is its length.
        bytes: Vec<u8>,
    },
    /// `message` / `location`.
    Location {
        /// `title`, omitted when `None`.
        title: Option<String>,
        /// `address`, omitted when `None`.
        address: Option<String>,
        /// `latitude`.
        latitude: f64,
        /// `longitude`.
        longitude: f64,
    },
    /// `follow` (the user becomes a friend again: profiles and pushes work).
    Follow {
        /// `follow.isUnblocked`.
        is_unblocked: bool,
    },
    /// `unfollow` (the user blocks the account: profile 404, pushes not delivered).
    Unfollow,
    /// `join` (the bot joins the group/room of the source).
    Join,
    /// `leave` (the bot leaves the group/room of the source).
    Leave,
    /// `memberJoined` with these user IDs.
    MemberJoined(Vec<String>),
    /// `memberLeft` with these user IDs.
    MemberLeft(Vec<String>),
    /// `postback`.
    Postback {
        /// `postback.data`.
        data: String,
        /// `postback.params` (e.g. `{"date": "2017-09-03"}`), omitted when `None`.
        params: Option<Value>,
    },
    /// `unsend` of a message; its content then answers 410.
    Unsend {
        /// `unsend.messageId`.
        message_id: String,
    },
    /// `videoPlayComplete`.
    VideoPlayComplete {
        /// `videoPlayComplete.trackingId`.
        tracking_id: String,
    },
    /// `beacon`.
    Beacon {
        /// `beacon.hwid`.
        hwid: String,
        /// `beacon.type`: `enter`, `banner` or `stay`.
        beacon_type: String,
    },
    /// `accountLink`; a reply token is included only when `result` is `ok`.
    AccountLink {
        /// `link.nonce`.
        nonce: String,
        /// `link.result`: `ok` or `failed`.
        result: String,
    },
    /// `membership`.
    Membership {
        /// `membership.type`: `joined`, `left` or `renewed`.
        membership_type: String,
        /// `membership.membershipId`.
        membership_id: i64,
    },
    /// `module` / `attached` (module channels).
    ModuleAttached {
        /// `module.botId`.
        bot_id: String,
        /// `module.scopes`.
        scopes: Vec<String>,
    },
    /// `module` / `detached` (module channels).
    ModuleDetached {
        /// `module.botId`.
        bot_id: String,
        /// `module.reason`, e.g. `bot_deleted`.
        reason: String,
    },
    /// `activated` (module channel became active); `chatControl.expireAt` is one hour after the event.
    Activated,
    /// `deactivated`.
    Deactivated,
    /// `botSuspended` (no source).
    BotSuspended,
    /// `botResumed` (no source).
    BotResumed,
    /// `delivery`: LINE notification message delivery completion (no source).
    Delivery {
        /// `delivery.data`: hashed phone number or `X-Line-Delivery-Tag`.
        data: String,
    },
    /// `things` (LINE Things device event; not in the bundled `webhook.yml`, shaped per LINE's docs).
    Things {
        /// `things.deviceId`.
        device_id: String,
        /// `things.type`: `link`, `unlink` or `scenarioResult`.
        things_type: String,
        /// `things.result` for `scenarioResult`.
        result: Option<Value>,
    },
    /// An arbitrary event object, sent exactly as given (the sim adds nothing).
    Raw(Value),
}

/// Which send API a record or fault is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendApi {
    /// `POST /v2/bot/message/reply`.
    Reply,
    /// `POST /v2/bot/message/push`.
    Push,
}

/// One reply or push request the sim answered (accepted or rejected), once its access token
/// was valid (401s are only in [`crate::LineSim::requests`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentRecord {
    /// Which API.
    pub api: SendApi,
    /// The channel whose access token was used.
    pub channel_id: String,
    /// Push: the `to` field. Reply: the chat the reply token came from (empty if the token was unknown).
    pub to: String,
    /// The `messages` array as sent (empty if the body was not readable).
    pub messages: Vec<Value>,
    /// `X-Line-Retry-Key`, if sent.
    pub retry_key: Option<String>,
    /// The HTTP status the sim answered.
    pub status: u16,
    /// Whether the messages reached the chat (false when rejected, on a retry-key conflict, or
    /// when the user has blocked the account; true for `FailWhen::AfterAccept`).
    pub delivered: bool,
    /// When the request was handled, Unix milliseconds.
    pub at_ms: i64,
}

/// One call to a LINE endpoint (not the `/sim` control API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Request path (no query).
    pub path: String,
    /// Response status.
    pub status: u16,
    /// `X-Line-Retry-Key` header, if present.
    pub retry_key: Option<String>,
}

/// Random faults on the send APIs (reply, push) and the content endpoint.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Faults {
    /// Probability (0..=1) of answering 429 (rate limit) instead of handling the request.
    pub rate_429: f64,
    /// Probability (0..=1) of answering 500.
    pub rate_500: f64,
    /// Added delay before each affected request is handled.
    pub latency: Duration,
    /// Pushes answer 429 `You have reached your monthly limit.` (replies are free and unaffected).
    pub monthly_limit: bool,
}

/// When a [`crate::LineSim::fail_next`] failure strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailWhen {
    /// Reject the request: nothing is delivered, the reply token / retry key stays unused.
    BeforeAccept,
    /// Deliver the messages (consume the token, accept the retry key), then answer the failure
    /// status as if the response was lost on the way back.
    AfterAccept,
}

/// Options for [`crate::LineSim::deliver`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliverOpts {
    /// Set `deliveryContext.isRedelivery` to `true` on every event.
    pub redelivery: bool,
    /// Send this `x-line-signature` instead of the correct one.
    pub signature: Option<String>,
    /// Send this body instead of the JSON built from the events (still signed unless
    /// `signature` is given).
    pub raw_body: Option<Vec<u8>>,
}

/// The webhook receiver's answer to a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// HTTP status of the webhook response.
    pub status: u16,
    /// Response body as text.
    pub body: String,
}
