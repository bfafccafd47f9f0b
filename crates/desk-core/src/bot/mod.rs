//! The chatbot (DESIGN §1 "Chatbot"): what a channel's bot is ([`BotMode`]), what it sends
//! ([`Answer`]) and what happens to the chat after it answered ([`After`]).
//!
//! Two bots share these types: the [`rules`] bot, configured in the console and decided here
//! as a pure function, and the [`external`] bot, a JSON webhook whose answers are validated
//! here with the same limits. Both produce a [`BotReply`]; the server stores it (bot messages
//! are ordinary messages with a bot sender) and sends it with the reply token.
//!
//! Limits are LINE's (`messaging-api.yml`): at most 5 messages per reply, 13 quick-reply
//! buttons, 20-character button labels, 300-character postback data, 5,000 UTF-16 units of
//! text, `https` media URLs of at most 2,000 characters.

pub mod external;
pub mod rules;

use serde::{Deserialize, Serialize};

use crate::ids::DepartmentId;
use crate::message::OutgoingText;
use crate::text_enum;

/// Messages LINE accepts in one reply (or push) call.
pub const MAX_MESSAGES: usize = 5;
/// Quick-reply buttons LINE shows under a message.
pub const MAX_QUICK_REPLIES: usize = 13;
/// Longest quick-reply button label, in characters.
pub const MAX_LABEL_CHARS: usize = 20;
/// Longest postback `data`, in characters.
pub const MAX_POSTBACK_CHARS: usize = 300;
/// Longest media URL LINE accepts.
pub const MAX_URL_CHARS: usize = 2_000;

text_enum! {
    /// Whether and how a channel's chatbot answers new chats.
    pub enum BotMode ("bot mode") {
        /// No chatbot: chats go straight to the department.
        Off = "off",
        /// The rules bot configured in the console.
        Rules = "rules",
        /// An external bot reached over HTTPS.
        External = "external",
    }
}

text_enum! {
    /// The languages bot content is written in.
    pub enum Language ("language") {
        /// Japanese.
        Ja = "ja",
        /// English.
        En = "en",
    }
}

impl Language {
    /// The language of a LINE profile's BCP 47 tag (`ja`, `en-US`, …), if it is one the bot
    /// has content for.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "ja" => Some(Language::Ja),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    /// The contact's language when their profile names one the bot has, else `default`.
    pub fn for_contact(tag: Option<&str>, default: Language) -> Self {
        tag.and_then(Language::from_tag).unwrap_or(default)
    }
}

/// A text written in Japanese, English or both. At least one must be given; the other
/// language falls back to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    /// Japanese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja: Option<String>,
    /// English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl Localized {
    /// Both languages the same (e.g. a sticker label, or content typed once).
    pub fn both(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            ja: Some(text.clone()),
            en: Some(text),
        }
    }

    /// The text in `language`, or in the other one when that is missing.
    pub fn pick(&self, language: Language) -> &str {
        let (first, second) = match language {
            Language::Ja => (&self.ja, &self.en),
            Language::En => (&self.en, &self.ja),
        };
        first
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .or(second.as_deref())
            .unwrap_or_default()
    }

    /// Checks each given language with `check`, and that at least one is given.
    fn validate(
        &self,
        field: &str,
        check: impl Fn(&str, &str) -> Result<(), ConfigError>,
    ) -> Result<(), ConfigError> {
        let mut any = false;
        for (lang, text) in [("ja", &self.ja), ("en", &self.en)] {
            if let Some(text) = text {
                check(&format!("{field}.{lang}"), text)?;
                any = true;
            }
        }
        if any {
            Ok(())
        } else {
            Err(ConfigError::new(
                field,
                "give the text in `ja`, `en` or both",
            ))
        }
    }
}

/// A bot setting or an external bot's answer that was refused: `field` is the path to the
/// value (`rules[2].trigger.pattern`), `message` says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    /// Where, as a JSON path.
    pub field: String,
    /// Why.
    pub message: String,
}

impl ConfigError {
    /// An error at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One message the bot sends, in the contact's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutMessage {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// A LINE sticker.
    Sticker {
        /// `packageId`.
        package_id: String,
        /// `stickerId`.
        sticker_id: String,
    },
    /// A picture LINE fetches from `url` (`https`).
    Image {
        /// The full-size picture.
        url: String,
        /// The thumbnail (the picture itself when none was given).
        preview_url: String,
    },
}

/// What a quick-reply button does when tapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ButtonAction {
    /// The user "says" `text` (it arrives as their message).
    Message {
        /// The text sent.
        text: String,
    },
    /// A postback event carrying `data`; `display_text` is shown as if typed.
    Postback {
        /// The postback data.
        data: String,
        /// Shown in the chat, if any.
        display_text: Option<String>,
    },
}

/// One quick-reply button, in the contact's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickReplyButton {
    /// The button's label (at most 20 characters).
    pub label: String,
    /// What it does.
    pub action: ButtonAction,
}

/// What the bot sends in one turn: up to 5 messages, the quick-reply buttons under the last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The messages, in order.
    pub messages: Vec<OutMessage>,
    /// Buttons shown under the last message.
    pub quick_replies: Vec<QuickReplyButton>,
}

impl Answer {
    /// Nothing to send.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// `self` followed by `next`, cut to what one reply holds. The buttons of the later part
    /// win (LINE shows only the last message's), unless it has none.
    pub fn then(mut self, next: Answer) -> Answer {
        self.messages.extend(next.messages);
        self.messages.truncate(MAX_MESSAGES);
        if !next.quick_replies.is_empty() {
            self.quick_replies = next.quick_replies;
        }
        self
    }
}

/// What happens to the chat after the bot's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum After {
    /// The bot keeps the chat.
    Stay,
    /// The chat goes to operators: the channel's department, or the one given.
    Handoff {
        /// Another department of the brand, if the bot chose one.
        department: Option<DepartmentId>,
    },
    /// The bot ends the chat.
    Close,
}

/// A bot's turn: what it says, then what happens to the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotReply {
    /// Sent first (may be empty).
    pub answer: Answer,
    /// Then this.
    pub then: After,
}

impl BotReply {
    /// Hand the chat to the channel's department, saying nothing.
    pub fn handoff_silently() -> Self {
        Self {
            answer: Answer::default(),
            then: After::Handoff { department: None },
        }
    }
}

// Checks shared by the rules bot's settings and the external bot's answers.

fn check_text(field: &str, text: &str) -> Result<(), ConfigError> {
    OutgoingText::parse(text)
        .map(drop)
        .map_err(|e| ConfigError::new(field, e.to_string()))
}

fn check_label(field: &str, label: &str) -> Result<(), ConfigError> {
    let chars = label.chars().count();
    if label.trim().is_empty() {
        return Err(ConfigError::new(field, "the label is empty"));
    }
    if chars > MAX_LABEL_CHARS {
        return Err(ConfigError::new(
            field,
            format!("the label is {chars} characters long; LINE shows at most {MAX_LABEL_CHARS}"),
        ));
    }
    Ok(())
}

fn check_postback(field: &str, data: &str) -> Result<(), ConfigError> {
    let chars = data.chars().count();
    if data.is_empty() {
        return Err(ConfigError::new(field, "postback data is empty"));
    }
    if chars > MAX_POSTBACK_CHARS {
        return Err(ConfigError::new(
            field,
            format!(
                "postback data is {chars} characters long; LINE accepts at most {MAX_POSTBACK_CHARS}"
            ),
        ));
    }
    Ok(())
}

fn check_media_url(field: &str, url: &str) -> Result<(), ConfigError> {
    if !url.starts_with("https://") || url.len() <= "https://".len() {
        return Err(ConfigError::new(
            field,
            "LINE fetches images over HTTPS only: give an https:// URL",
        ));
    }
    if url.chars().count() > MAX_URL_CHARS {
        return Err(ConfigError::new(
            field,
            format!("the URL is longer than {MAX_URL_CHARS} characters"),
        ));
    }
    Ok(())
}

fn check_sticker(field: &str, package_id: &str, sticker_id: &str) -> Result<(), ConfigError> {
    for (name, id) in [("package_id", package_id), ("sticker_id", sticker_id)] {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::new(
                format!("{field}.{name}"),
                format!("`{id}` is not a LINE sticker id (digits)"),
            ));
        }
    }
    Ok(())
}

fn check_count(field: &str, n: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    if n < min || n > max {
        return Err(ConfigError::new(
            field,
            format!("give between {min} and {max}; got {n}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_come_from_profile_tags() {
        assert_eq!(Language::from_tag("ja"), Some(Language::Ja));
        assert_eq!(Language::from_tag("en-US"), Some(Language::En));
        assert_eq!(Language::from_tag("zh-Hant"), None);
        assert_eq!(
            Language::for_contact(Some("th"), Language::Ja),
            Language::Ja
        );
        assert_eq!(Language::for_contact(None, Language::En), Language::En);
    }

    #[test]
    fn localized_text_falls_back_to_the_other_language() {
        let only_ja = Localized {
            ja: Some("こんにちは".into()),
            en: None,
        };
        assert_eq!(only_ja.pick(Language::En), "こんにちは");
        let both = Localized {
            ja: Some("はい".into()),
            en: Some("Yes".into()),
        };
        assert_eq!(both.pick(Language::En), "Yes");
        assert_eq!(both.pick(Language::Ja), "はい");
    }

    #[test]
    fn answers_join_within_one_reply() {
        let text = |t: &str| OutMessage::Text { text: t.into() };
        let button = QuickReplyButton {
            label: "Menu".into(),
            action: ButtonAction::Message {
                text: "menu".into(),
            },
        };
        let first = Answer {
            messages: vec![text("1"), text("2"), text("3")],
            quick_replies: vec![button.clone()],
        };
        let second = Answer {
            messages: vec![text("4"), text("5"), text("6")],
            quick_replies: vec![],
        };
        let joined = first.then(second);
        assert_eq!(joined.messages.len(), MAX_MESSAGES);
        assert_eq!(joined.quick_replies, vec![button]);
    }

    #[test]
    fn shared_checks_name_the_field() {
        assert_eq!(
            check_label("x.label", "a label that is far too long").map_err(|e| e.to_string()),
            Err("x.label: the label is 28 characters long; LINE shows at most 20".into())
        );
        assert!(check_label("x", "担当者と話す").is_ok());
        assert!(check_media_url("u", "http://example.com/a.png").is_err());
        assert!(check_sticker("s", "446", "1988").is_ok());
        assert_eq!(
            check_sticker("s", "446", "x").map_err(|e| e.field),
            Err("s.sticker_id".into())
        );
    }
}
