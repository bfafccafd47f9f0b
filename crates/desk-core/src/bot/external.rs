//! The external bot: where it lives ([`ExternalUrl`]) and what it may answer
//! ([`ExternalAnswer`], checked with the same limits as the rules bot's content).
//!
//! The wire contract (the request the desk sends, the signature) is documented on the server
//! side, where the request is made; this module owns the answer's shape:
//!
//! ```json
//! {
//!   "messages": [
//!     {"type": "text", "text": "Opening hours are 9–18."},
//!     {"type": "sticker", "package_id": "446", "sticker_id": "1988"},
//!     {"type": "image", "url": "https://example.com/map.png", "preview_url": "https://example.com/map-s.png"}
//!   ],
//!   "quick_replies": [
//!     {"label": "Menu", "action": {"type": "message", "text": "menu"}},
//!     {"label": "Talk to a person", "action": {"type": "postback", "data": "human", "display_text": "Talk to a person"}}
//!   ],
//!   "handoff": {"department_id": null},
//!   "close": false
//! }
//! ```
//! Every field is optional; `{}` means "nothing to say". `handoff` hands the chat to the
//! channel's department (or `department_id`), `close` ends it; not both.

use serde::{Deserialize, Serialize};

use super::{
    After, Answer, BotReply, ButtonAction, ConfigError, MAX_MESSAGES, MAX_QUICK_REPLIES,
    OutMessage, QuickReplyButton, check_count, check_label, check_media_url, check_postback,
    check_sticker, check_text,
};
use crate::ids::DepartmentId;

/// The external bot's address: `https://…`, or `http://` to a loopback host (a bot on the
/// same machine, and tests). At most 2,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExternalUrl(String);

impl ExternalUrl {
    /// Checks the scheme and host as described on the type.
    pub fn parse(url: impl Into<String>) -> Result<Self, ConfigError> {
        let url = url.into();
        let field = "external_url";
        if url.chars().count() > super::MAX_URL_CHARS {
            return Err(ConfigError::new(
                field,
                "the URL is longer than 2000 characters",
            ));
        }
        let https = url
            .strip_prefix("https://")
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        let loopback = url.strip_prefix("http://").is_some_and(|rest| {
            let host_port = rest.split('/').next().unwrap_or_default();
            let host = match host_port.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default(),
                None => host_port.split(':').next().unwrap_or_default(),
            };
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        if https || loopback {
            Ok(Self(url))
        } else {
            Err(ConfigError::new(
                field,
                "use an https:// URL (plain http:// is accepted only for localhost or 127.0.0.1)",
            ))
        }
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ExternalUrl {
    type Error = ConfigError;
    fn try_from(url: String) -> Result<Self, Self::Error> {
        Self::parse(url)
    }
}

impl From<ExternalUrl> for String {
    fn from(url: ExternalUrl) -> Self {
        url.0
    }
}

/// One message in an external bot's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExternalMessage {
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
    /// A picture by `https` URL.
    Image {
        /// The picture.
        url: String,
        /// Its thumbnail; the picture itself when absent.
        #[serde(default)]
        preview_url: Option<String>,
    },
}

/// One button in an external bot's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalButton {
    /// At most 20 characters.
    pub label: String,
    /// What it does.
    pub action: ButtonAction,
}

/// `handoff` in an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalHandoff {
    /// A department of the channel's brand; the channel's own when absent.
    #[serde(default)]
    pub department_id: Option<DepartmentId>,
}

/// An external bot's answer as received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalAnswer {
    /// Up to 5 messages.
    #[serde(default)]
    pub messages: Vec<ExternalMessage>,
    /// Up to 13 buttons under the last message.
    #[serde(default)]
    pub quick_replies: Vec<ExternalButton>,
    /// Hand the chat to operators.
    #[serde(default)]
    pub handoff: Option<ExternalHandoff>,
    /// End the chat.
    #[serde(default)]
    pub close: bool,
}

impl ExternalAnswer {
    /// Checks the answer against LINE's limits; errors name the field (`messages[1].text`).
    pub fn into_reply(self) -> Result<BotReply, ConfigError> {
        check_count("messages", self.messages.len(), 0, MAX_MESSAGES)?;
        check_count(
            "quick_replies",
            self.quick_replies.len(),
            0,
            MAX_QUICK_REPLIES,
        )?;
        if !self.quick_replies.is_empty() && self.messages.is_empty() {
            return Err(ConfigError::new(
                "quick_replies",
                "buttons need a message to be shown under",
            ));
        }
        let mut messages = Vec::with_capacity(self.messages.len());
        for (i, message) in self.messages.into_iter().enumerate() {
            let field = format!("messages[{i}]");
            messages.push(match message {
                ExternalMessage::Text { text } => {
                    check_text(&format!("{field}.text"), &text)?;
                    OutMessage::Text { text }
                }
                ExternalMessage::Sticker {
                    package_id,
                    sticker_id,
                } => {
                    check_sticker(&field, &package_id, &sticker_id)?;
                    OutMessage::Sticker {
                        package_id,
                        sticker_id,
                    }
                }
                ExternalMessage::Image { url, preview_url } => {
                    check_media_url(&format!("{field}.url"), &url)?;
                    if let Some(p) = &preview_url {
                        check_media_url(&format!("{field}.preview_url"), p)?;
                    }
                    OutMessage::Image {
                        preview_url: preview_url.unwrap_or_else(|| url.clone()),
                        url,
                    }
                }
            });
        }
        let mut quick_replies = Vec::with_capacity(self.quick_replies.len());
        for (i, button) in self.quick_replies.into_iter().enumerate() {
            let field = format!("quick_replies[{i}]");
            check_label(&format!("{field}.label"), &button.label)?;
            match &button.action {
                ButtonAction::Message { text } => {
                    check_text(&format!("{field}.action.text"), text)?
                }
                ButtonAction::Postback { data, display_text } => {
                    check_postback(&format!("{field}.action.data"), data)?;
                    if let Some(shown) = display_text {
                        check_text(&format!("{field}.action.display_text"), shown)?;
                    }
                }
            }
            quick_replies.push(QuickReplyButton {
                label: button.label,
                action: button.action,
            });
        }
        let then = match (self.handoff, self.close) {
            (Some(_), true) => {
                return Err(ConfigError::new(
                    "close",
                    "an answer can hand off or close, not both",
                ));
            }
            (Some(h), false) => After::Handoff {
                department: h.department_id,
            },
            (None, true) => After::Close,
            (None, false) => After::Stay,
        };
        Ok(BotReply {
            answer: Answer {
                messages,
                quick_replies,
            },
            then,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(v: serde_json::Value) -> Result<BotReply, String> {
        let answer: ExternalAnswer = serde_json::from_value(v).map_err(|e| e.to_string())?;
        answer.into_reply().map_err(|e| e.to_string())
    }

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        assert!(ExternalUrl::parse("https://bot.example.com/hook").is_ok());
        assert!(ExternalUrl::parse("http://127.0.0.1:8080/hook").is_ok());
        assert!(ExternalUrl::parse("http://localhost/hook").is_ok());
        assert!(ExternalUrl::parse("http://[::1]:9/x").is_ok());
        for bad in [
            "http://bot.example.com/hook",
            "http://127.0.0.1.example.com/",
            "ftp://x",
            "https://",
            "",
        ] {
            let e = ExternalUrl::parse(bad).expect_err(bad);
            assert_eq!(e.field, "external_url", "{bad}");
        }
    }

    #[test]
    fn a_full_answer_becomes_a_reply() {
        let r = reply(json!({
            "messages": [{"type": "text", "text": "hi"}, {"type": "image", "url": "https://x.test/a.png"}],
            "quick_replies": [{"label": "Menu", "action": {"type": "postback", "data": "menu", "display_text": null}}],
            "handoff": {}
        }))
        .expect("valid");
        assert_eq!(r.then, After::Handoff { department: None });
        assert_eq!(
            r.answer.messages[1],
            OutMessage::Image {
                url: "https://x.test/a.png".into(),
                preview_url: "https://x.test/a.png".into()
            }
        );
        assert_eq!(
            reply(json!({})),
            Ok(BotReply {
                answer: Answer::default(),
                then: After::Stay
            })
        );
        assert_eq!(
            reply(json!({"close": true})).map(|r| r.then),
            Ok(After::Close)
        );
    }

    #[test]
    fn bad_answers_name_the_field() {
        let too_many: Vec<_> = (0..6)
            .map(|i| json!({"type": "text", "text": i.to_string()}))
            .collect();
        assert_eq!(
            reply(json!({"messages": too_many})),
            Err("messages: give between 0 and 5; got 6".into())
        );
        assert_eq!(
            reply(json!({"messages": [{"type": "text", "text": " "}]})),
            Err("messages[0].text: text is empty".into())
        );
        assert_eq!(
            reply(json!({"handoff": {}, "close": true})),
            Err("close: an answer can hand off or close, not both".into())
        );
        assert!(reply(json!({"messages": [{"type": "video"}]})).is_err());
    }
}
