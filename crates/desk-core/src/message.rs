//! Message kinds, directions, delivery status and the validated outgoing text.

use crate::text_enum;

text_enum! {
    /// Who wrote a message.
    pub enum Direction ("message direction") {
        /// From the LINE user (or group member) to the account.
        In = "in",
        /// From an operator or the bot to LINE.
        Out = "out",
    }
}

text_enum! {
    /// What a message holds; `unknown` keeps types LINE adds later (raw JSON in the body).
    pub enum MessageKind ("message kind") {
        /// Text, possibly with LINE emojis and mentions.
        Text = "text",
        /// A picture.
        Image = "image",
        /// A video clip.
        Video = "video",
        /// A voice message or audio clip.
        Audio = "audio",
        /// A file (users can send them; bots cannot).
        File = "file",
        /// A map location.
        Location = "location",
        /// A LINE sticker.
        Sticker = "sticker",
        /// A message type this version does not know; its raw JSON is kept.
        Unknown = "unknown",
    }
}

impl MessageKind {
    /// Maps LINE's message `type` to a kind, keeping unknown types as [`MessageKind::Unknown`].
    pub fn from_line_type(line_type: &str) -> Self {
        line_type.parse().unwrap_or(MessageKind::Unknown)
    }
}

text_enum! {
    /// Delivery status of a message.
    pub enum MessageStatus ("message status") {
        /// Inbound: stored.
        Received = "received",
        /// Outbound: waiting in the outbox.
        Pending = "pending",
        /// Outbound: LINE accepted it.
        Sent = "sent",
        /// Outbound: gave up; the reason is shown to the operator.
        Failed = "failed",
    }
}

/// LINE's limit for one text message, counted in UTF-16 code units.
pub const MAX_TEXT_UTF16: usize = 5_000;

/// Text an operator may send: not blank, at most [`MAX_TEXT_UTF16`] UTF-16 code units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingText(String);

/// Why a text cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but white space.
    #[error("text is empty")]
    Empty,
    /// Longer than LINE accepts.
    #[error(
        "text is {length} characters long (UTF-16 units); LINE accepts at most {MAX_TEXT_UTF16}"
    )]
    TooLong {
        /// The length in UTF-16 code units.
        length: usize,
    },
}

impl OutgoingText {
    /// Validates operator text. Kept as typed (not trimmed): leading spaces can be deliberate.
    pub fn parse(text: impl Into<String>) -> Result<Self, TextError> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(TextError::Empty);
        }
        let length = text.encode_utf16().count();
        if length > MAX_TEXT_UTF16 {
            return Err(TextError::TooLong { length });
        }
        Ok(Self(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for OutgoingText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits_count_utf16_units() {
        assert_eq!(OutgoingText::parse("  \n"), Err(TextError::Empty));
        let max = "あ".repeat(MAX_TEXT_UTF16);
        assert!(OutgoingText::parse(max).is_ok());
        // An emoji outside the BMP is two UTF-16 units.
        let over = format!("{}😀", "a".repeat(MAX_TEXT_UTF16 - 1));
        assert_eq!(
            OutgoingText::parse(over),
            Err(TextError::TooLong {
                length: MAX_TEXT_UTF16 + 1
            })
        );
    }

    #[test]
    fn unknown_line_types_are_kept_as_unknown() {
        assert_eq!(MessageKind::from_line_type("sticker"), MessageKind::Sticker);
        assert_eq!(
            MessageKind::from_line_type("hologram"),
            MessageKind::Unknown
        );
    }
}
