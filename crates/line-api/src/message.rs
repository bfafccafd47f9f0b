//! Outgoing message objects (the request side of reply and push), shaped exactly as the
//! `Message` schemas of LINE's `messaging-api.yml`: a `"type"` tag and camelCase fields.
//!
//! Only the message types the desk sends are modelled: text, sticker, image, video, audio and
//! location. Every variant may carry a [`QuickReply`] with message and postback buttons.

use serde::{Deserialize, Serialize};

/// LINE's limit on a text message, counted in UTF-16 code units (see [`text_length_utf16`]).
pub const MAX_TEXT_UTF16: usize = 5000;

/// `messages` in a reply or push request holds 1 to 5 message objects.
pub const MAX_MESSAGES_PER_REQUEST: usize = 5;

/// `items` in a quick reply holds at most 13 buttons.
pub const MAX_QUICK_REPLY_ITEMS: usize = 13;

/// The length of `s` as LINE counts it for text limits: UTF-16 code units, so a character
/// outside the Basic Multilingual Plane (most emoji) counts as 2.
pub fn text_length_utf16(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// One message object to send. Serializes as `{"type": "text", "text": …}` and so on.
///
/// The constructors ([`Message::text`], [`Message::image`], …) leave every optional field empty;
/// [`Message::with_quote_token`] and [`Message::with_quick_reply`] fill them in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Message {
    /// `TextMessage`. `text` is limited to [`MAX_TEXT_UTF16`] UTF-16 code units; each `$` in it
    /// is replaced by the LINE emoji in `emojis` whose `index` points at it.
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        emojis: Vec<Emoji>,
        /// Quote token of the message to quote (from a webhook event or a [`SentMessage`]).
        ///
        /// [`SentMessage`]: crate::client::SentMessage
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quote_token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quick_reply: Option<QuickReply>,
    },
    /// `StickerMessage`.
    Sticker {
        package_id: String,
        sticker_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quote_token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quick_reply: Option<QuickReply>,
    },
    /// `ImageMessage`: both URLs must be `https`.
    Image {
        original_content_url: String,
        preview_image_url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quick_reply: Option<QuickReply>,
    },
    /// `VideoMessage`: both URLs must be `https`.
    Video {
        original_content_url: String,
        preview_image_url: String,
        /// Lets a video viewing-complete event identify this video.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tracking_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quick_reply: Option<QuickReply>,
    },
    /// `AudioMessage`: `duration` is in milliseconds.
    Audio {
        original_content_url: String,
        duration: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quick_reply: Option<QuickReply>,
    },
    /// `LocationMessage`.
    Location {
        title: String,
        address: String,
        latitude: f64,
        longitude: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quick_reply: Option<QuickReply>,
    },
}

impl Message {
    /// A plain text message.
    pub fn text(text: impl Into<String>) -> Self {
        Message::Text {
            text: text.into(),
            emojis: Vec::new(),
            quote_token: None,
            quick_reply: None,
        }
    }

    /// A sticker message.
    pub fn sticker(package_id: impl Into<String>, sticker_id: impl Into<String>) -> Self {
        Message::Sticker {
            package_id: package_id.into(),
            sticker_id: sticker_id.into(),
            quote_token: None,
            quick_reply: None,
        }
    }

    /// An image message.
    pub fn image(
        original_content_url: impl Into<String>,
        preview_image_url: impl Into<String>,
    ) -> Self {
        Message::Image {
            original_content_url: original_content_url.into(),
            preview_image_url: preview_image_url.into(),
            quick_reply: None,
        }
    }

    /// A video message without a tracking ID.
    pub fn video(
        original_content_url: impl Into<String>,
        preview_image_url: impl Into<String>,
    ) -> Self {
        Message::Video {
            original_content_url: original_content_url.into(),
            preview_image_url: preview_image_url.into(),
            tracking_id: None,
            quick_reply: None,
        }
    }

    /// An audio message; `duration_ms` is the length of the audio in milliseconds.
    pub fn audio(original_content_url: impl Into<String>, duration_ms: u64) -> Self {
        Message::Audio {
            original_content_url: original_content_url.into(),
            duration: duration_ms,
            quick_reply: None,
        }
    }

    /// A location message.
    pub fn location(
        title: impl Into<String>,
        address: impl Into<String>,
        latitude: f64,
        longitude: f64,
    ) -> Self {
        Message::Location {
            title: title.into(),
            address: address.into(),
            latitude,
            longitude,
            quick_reply: None,
        }
    }

    /// The wire `type` of this message (`"text"`, `"sticker"`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Text { .. } => "text",
            Message::Sticker { .. } => "sticker",
            Message::Image { .. } => "image",
            Message::Video { .. } => "video",
            Message::Audio { .. } => "audio",
            Message::Location { .. } => "location",
        }
    }

    /// Quotes another message. Only text and sticker messages can quote; for the other
    /// types this returns the message unchanged (check [`Message::can_quote`] first if that matters).
    pub fn with_quote_token(mut self, quote_token: impl Into<String>) -> Self {
        match &mut self {
            Message::Text { quote_token: q, .. } | Message::Sticker { quote_token: q, .. } => {
                *q = Some(quote_token.into());
            }
            Message::Image { .. }
            | Message::Video { .. }
            | Message::Audio { .. }
            | Message::Location { .. } => {}
        }
        self
    }

    /// Whether this message type accepts a `quoteToken` (text and sticker).
    pub fn can_quote(&self) -> bool {
        matches!(self, Message::Text { .. } | Message::Sticker { .. })
    }

    /// Attaches quick reply buttons. LINE shows them only when this is the last message
    /// of the request.
    pub fn with_quick_reply(mut self, quick_reply: QuickReply) -> Self {
        *self.quick_reply_mut() = Some(quick_reply);
        self
    }

    /// The quick reply attached to this message, if any.
    pub fn quick_reply(&self) -> Option<&QuickReply> {
        quick_reply_field!(self).as_ref()
    }

    fn quick_reply_mut(&mut self) -> &mut Option<QuickReply> {
        quick_reply_field!(self)
    }
}

/// The `quick_reply` field every variant has, borrowed as `$message` is (`&` or `&mut`): one
/// list of variants for both accessors, so a new variant cannot be missed in one of them.
macro_rules! quick_reply_field {
    ($message:expr) => {
        match $message {
            Message::Text { quick_reply, .. }
            | Message::Sticker { quick_reply, .. }
            | Message::Image { quick_reply, .. }
            | Message::Video { quick_reply, .. }
            | Message::Audio { quick_reply, .. }
            | Message::Location { quick_reply, .. } => quick_reply,
        }
    };
}
use quick_reply_field;

/// A LINE emoji inside a text message: replaces the `$` at `index` (a UTF-16 offset) in `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Emoji {
    pub index: u32,
    pub product_id: String,
    pub emoji_id: String,
}

/// `QuickReply`: up to [`MAX_QUICK_REPLY_ITEMS`] buttons shown under the last message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuickReply {
    pub items: Vec<QuickReplyItem>,
}

impl QuickReply {
    /// A quick reply with these buttons.
    pub fn new(items: impl IntoIterator<Item = QuickReplyItem>) -> Self {
        QuickReply {
            items: items.into_iter().collect(),
        }
    }
}

/// `QuickReplyItem`: one button. Serializes with `"type": "action"`, the only item type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "action", rename_all = "camelCase")]
pub struct QuickReplyItem {
    /// `https` URL of a PNG icon shown at the start of the button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    pub action: Action,
}

impl QuickReplyItem {
    /// A button that sends `text` as a message from the user; `label` is shown on the button.
    pub fn message(label: impl Into<String>, text: impl Into<String>) -> Self {
        QuickReplyItem {
            image_url: None,
            action: Action::Message {
                label: label.into(),
                text: text.into(),
            },
        }
    }

    /// A button that sends a postback event carrying `data`; `display_text` (if any) is shown
    /// in the chat as if the user had typed it.
    pub fn postback(
        label: impl Into<String>,
        data: impl Into<String>,
        display_text: Option<String>,
    ) -> Self {
        QuickReplyItem {
            image_url: None,
            action: Action::Postback {
                label: label.into(),
                data: data.into(),
                display_text,
                input_option: None,
                fill_in_text: None,
            },
        }
    }

    /// Sets the button's icon.
    pub fn with_image_url(mut self, image_url: impl Into<String>) -> Self {
        self.image_url = Some(image_url.into());
        self
    }
}

/// The action objects usable in quick reply buttons that the desk needs (`MessageAction`,
/// `PostbackAction`). For quick reply buttons LINE requires a `label` of at most 20 characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Action {
    /// Sends `text` as a message from the user when tapped.
    Message { label: String, text: String },
    /// Sends a postback webhook event with `data` (max 300 characters) when tapped.
    Postback {
        label: String,
        data: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display_text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input_option: Option<InputOption>,
        /// Text pre-filled in the input field when `input_option` is `openKeyboard`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill_in_text: Option<String>,
    },
}

/// `PostbackAction.inputOption`: what the user's input area does after the tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InputOption {
    CloseRichMenu,
    OpenRichMenu,
    OpenKeyboard,
    OpenVoice,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn to_json(m: &Message) -> serde_json::Value {
        match serde_json::to_value(m) {
            Ok(v) => v,
            Err(e) => panic!("serialize {m:?}: {e}"),
        }
    }

    fn round_trips(m: &Message) {
        let back: Message = serde_json::from_value(to_json(m)).expect("deserialize");
        assert_eq!(&back, m);
    }

    #[test]
    fn text_minimal() {
        let m = Message::text("Hello, world");
        assert_eq!(to_json(&m), json!({"type": "text", "text": "Hello, world"}));
        round_trips(&m);
    }

    #[test]
    fn text_with_emojis_and_quote() {
        let m = Message::Text {
            text: "$ LINE emoji $".into(),
            emojis: vec![
                Emoji {
                    index: 0,
                    product_id: "5ac1bfd5040ab15980c9b435".into(),
                    emoji_id: "001".into(),
                },
                Emoji {
                    index: 13,
                    product_id: "5ac1bfd5040ab15980c9b435".into(),
                    emoji_id: "002".into(),
                },
            ],
            quote_token: None,
            quick_reply: None,
        }
        .with_quote_token("q3Plxr4AgKd...");
        assert_eq!(
            to_json(&m),
            json!({
                "type": "text",
                "text": "$ LINE emoji $",
                "emojis": [
                    {"index": 0, "productId": "5ac1bfd5040ab15980c9b435", "emojiId": "001"},
                    {"index": 13, "productId": "5ac1bfd5040ab15980c9b435", "emojiId": "002"}
                ],
                "quoteToken": "q3Plxr4AgKd..."
            })
        );
        round_trips(&m);
    }

    #[test]
    fn sticker() {
        let m = Message::sticker("446", "1988");
        assert_eq!(
            to_json(&m),
            json!({"type": "sticker", "packageId": "446", "stickerId": "1988"})
        );
        let quoted = m.with_quote_token("qt");
        assert_eq!(
            to_json(&quoted),
            json!({"type": "sticker", "packageId": "446", "stickerId": "1988", "quoteToken": "qt"})
        );
        round_trips(&quoted);
    }

    #[test]
    fn image() {
        let m = Message::image(
            "https://example.com/original.jpg",
            "https://example.com/preview.jpg",
        );
        assert_eq!(
            to_json(&m),
            json!({
                "type": "image",
                "originalContentUrl": "https://example.com/original.jpg",
                "previewImageUrl": "https://example.com/preview.jpg"
            })
        );
        round_trips(&m);
    }

    #[test]
    fn quote_token_is_ignored_where_the_spec_has_none() {
        let m = Message::image("https://a/o.jpg", "https://a/p.jpg");
        assert!(!m.can_quote());
        assert_eq!(m.clone().with_quote_token("qt"), m);
    }

    #[test]
    fn video() {
        let m = Message::video(
            "https://example.com/original.mp4",
            "https://example.com/preview.jpg",
        );
        assert_eq!(
            to_json(&m),
            json!({
                "type": "video",
                "originalContentUrl": "https://example.com/original.mp4",
                "previewImageUrl": "https://example.com/preview.jpg"
            })
        );
        let tracked = Message::Video {
            original_content_url: "https://example.com/original.mp4".into(),
            preview_image_url: "https://example.com/preview.jpg".into(),
            tracking_id: Some("track-id".into()),
            quick_reply: None,
        };
        assert_eq!(
            to_json(&tracked),
            json!({
                "type": "video",
                "originalContentUrl": "https://example.com/original.mp4",
                "previewImageUrl": "https://example.com/preview.jpg",
                "trackingId": "track-id"
            })
        );
        round_trips(&tracked);
    }

    #[test]
    fn audio() {
        let m = Message::audio("https://example.com/original.m4a", 60000);
        assert_eq!(
            to_json(&m),
            json!({"type": "audio", "originalContentUrl": "https://example.com/original.m4a", "duration": 60000})
        );
        round_trips(&m);
    }

    #[test]
    fn location() {
        let m = Message::location(
            "my location",
            "1-3 Kioicho, Chiyoda-ku, Tokyo, 102-8282, Japan",
            35.67966,
            139.73669,
        );
        assert_eq!(
            to_json(&m),
            json!({
                "type": "location",
                "title": "my location",
                "address": "1-3 Kioicho, Chiyoda-ku, Tokyo, 102-8282, Japan",
                "latitude": 35.67966,
                "longitude": 139.73669
            })
        );
        round_trips(&m);
    }

    #[test]
    fn quick_reply() {
        let m = Message::text("Select your favorite food category").with_quick_reply(
            QuickReply::new([
                QuickReplyItem::message("Sushi", "Sushi")
                    .with_image_url("https://example.com/sushi.png"),
                QuickReplyItem::postback("Buy", "action=buy&itemid=111", Some("Buy it".into())),
            ]),
        );
        assert_eq!(
            to_json(&m),
            json!({
                "type": "text",
                "text": "Select your favorite food category",
                "quickReply": {
                    "items": [
                        {
                            "type": "action",
                            "imageUrl": "https://example.com/sushi.png",
                            "action": {"type": "message", "label": "Sushi", "text": "Sushi"}
                        },
                        {
                            "type": "action",
                            "action": {
                                "type": "postback",
                                "label": "Buy",
                                "data": "action=buy&itemid=111",
                                "displayText": "Buy it"
                            }
                        }
                    ]
                }
            })
        );
        assert_eq!(m.quick_reply().map(|q| q.items.len()), Some(2));
        round_trips(&m);
    }

    #[test]
    fn postback_input_option() {
        let action = Action::Postback {
            label: "Reply".into(),
            data: "reply".into(),
            display_text: None,
            input_option: Some(InputOption::OpenKeyboard),
            fill_in_text: Some("---\nName: ".into()),
        };
        assert_eq!(
            serde_json::to_value(&action).expect("serialize"),
            json!({
                "type": "postback",
                "label": "Reply",
                "data": "reply",
                "inputOption": "openKeyboard",
                "fillInText": "---\nName: "
            })
        );
    }

    #[test]
    fn kinds() {
        assert_eq!(Message::text("x").kind(), "text");
        assert_eq!(Message::sticker("1", "2").kind(), "sticker");
        assert_eq!(Message::audio("https://a", 1).kind(), "audio");
    }

    #[test]
    fn utf16_length() {
        assert_eq!(text_length_utf16(""), 0);
        assert_eq!(text_length_utf16("hello"), 5);
        // BMP characters, even multi-byte in UTF-8, are one code unit each.
        assert_eq!(text_length_utf16("こんにちは"), 5);
        assert_eq!("こんにちは".len(), 15);
        // Astral-plane emoji are surrogate pairs.
        assert_eq!(text_length_utf16("😀"), 2);
        assert_eq!(text_length_utf16("a😀b"), 4);
        // A ZWJ family: 3 emoji (2 units each) + 2 joiners (1 unit each).
        assert_eq!(text_length_utf16("👨\u{200d}👩\u{200d}👧"), 8);
        // Flags are two regional indicators, each astral.
        assert_eq!(text_length_utf16("🇯🇵"), 4);
        assert_eq!(text_length_utf16(&"😀".repeat(2500)), MAX_TEXT_UTF16);
    }
}
