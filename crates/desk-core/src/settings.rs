//! A channel's auto-close and chatbot timing settings (DESIGN §1 "Auto-close"), stored as
//! JSON per channel and validated whenever they are built or parsed, so the lifecycle never
//! sees a pickup time of zero or an idle window of a year.
//!
//! Durations are unix milliseconds ([`Millis`]) like every other time in linedesk; the JSON
//! field names carry the unit (`pickup_ms`).

use serde::{Deserialize, Serialize};

use crate::message::{OutgoingText, TextError};
use crate::text_enum;
use crate::time::{DAY, HOUR, MINUTE, Millis, SECOND, Span, WEEK};

text_enum! {
    /// How long a missed chat stays answerable before it closes with `missed_timeout`.
    /// Only these five windows are offered, so the console and the API agree on the choices.
    pub enum MissedWindow ("missed-chat close window") {
        /// 15 minutes.
        FifteenMinutes = "fifteen_minutes",
        /// 1 hour.
        OneHour = "one_hour",
        /// 1 day (24 hours).
        OneDay = "one_day",
        /// 1 week (7 × 24 hours).
        OneWeek = "one_week",
        /// 1 month, defined as 30 × 24 hours: a fixed length, so a deadline never depends on
        /// which month the chat was missed in or on the department's time zone.
        OneMonth = "one_month",
    }
}

impl MissedWindow {
    /// The window's length.
    pub fn as_millis(self) -> Millis {
        match self {
            MissedWindow::FifteenMinutes => 15 * MINUTE,
            MissedWindow::OneHour => HOUR,
            MissedWindow::OneDay => DAY,
            MissedWindow::OneWeek => WEEK,
            MissedWindow::OneMonth => 30 * DAY,
        }
    }
}

/// Default time an operator has to answer before a waiting chat counts as missed.
pub const DEFAULT_PICKUP: Millis = 2 * MINUTE;
/// Shortest pickup time accepted.
pub const MIN_PICKUP: Millis = 10 * SECOND;
/// Longest pickup time accepted.
pub const MAX_PICKUP: Millis = DAY;
/// Shortest idle window (operator or bot) accepted.
pub const MIN_IDLE: Millis = MINUTE;
/// Longest idle window (operator or bot) accepted.
pub const MAX_IDLE: Millis = 24 * HOUR;
/// Default bot idle window: the bot must let go of a silent chat at some point.
pub const DEFAULT_BOT_IDLE: Millis = 30 * MINUTE;

/// A message sent to the user when a chat closes for idleness: not blank, at most 5,000
/// UTF-16 units (LINE's text limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClosingMessage(OutgoingText);

impl ClosingMessage {
    /// Validates the text like any outgoing text.
    pub fn parse(text: impl Into<String>) -> Result<Self, TextError> {
        OutgoingText::parse(text).map(Self)
    }

    /// The text, ready for the outbox.
    pub fn text(&self) -> &OutgoingText {
        &self.0
    }

    /// The text as a string.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl TryFrom<String> for ClosingMessage {
    type Error = TextError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(text)
    }
}

impl From<ClosingMessage> for String {
    fn from(message: ClosingMessage) -> Self {
        message.0.as_str().to_owned()
    }
}

/// Why channel settings were refused. Each message names the setting, as the console labels it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `pickup_ms` out of range.
    #[error("pickup time must be between 10 seconds and 1 day; got {}", Span(*.got))]
    PickupTime {
        /// The value given, in ms.
        got: Millis,
    },
    /// `idle_close_ms` out of range.
    #[error("idle close must be between 1 minute and 24 hours, or off; got {}", Span(*.got))]
    IdleClose {
        /// The value given, in ms.
        got: Millis,
    },
    /// `bot_idle_close_ms` out of range.
    #[error("chatbot idle close must be between 1 minute and 24 hours; got {}", Span(*.got))]
    BotIdleClose {
        /// The value given, in ms.
        got: Millis,
    },
    /// `closing_message` is blank or too long.
    #[error("closing message: {0}")]
    ClosingMessage(TextError),
    /// `bot_closing_message` is blank or too long.
    #[error("chatbot closing message: {0}")]
    BotClosingMessage(TextError),
}

/// Channel settings as typed by an admin or stored as JSON, before validation. Missing JSON
/// fields take the defaults, so settings stored by an older version still load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelSettingsInput {
    /// How long a missed chat stays answerable.
    pub missed_window: MissedWindow,
    /// Time an operator has to answer a waiting chat before it counts as missed.
    pub pickup_ms: Millis,
    /// Idle window of an answered chat; `None` turns idle close off.
    pub idle_close_ms: Option<Millis>,
    /// Sent to the user when a chat closes for idleness.
    pub closing_message: Option<String>,
    /// Move an idle deadline that falls outside the department's business hours (see
    /// [`crate::lifecycle`] for the exact rule).
    pub postpone_outside_business_hours: bool,
    /// Whether new chats start with the chatbot.
    pub bot_enabled: bool,
    /// Idle window while the chatbot holds a chat.
    pub bot_idle_close_ms: Millis,
    /// Sent to the user when the chatbot's idle close fires.
    pub bot_closing_message: Option<String>,
}

impl Default for ChannelSettingsInput {
    fn default() -> Self {
        Self {
            missed_window: MissedWindow::OneDay,
            pickup_ms: DEFAULT_PICKUP,
            idle_close_ms: None,
            closing_message: None,
            postpone_outside_business_hours: false,
            bot_enabled: false,
            bot_idle_close_ms: DEFAULT_BOT_IDLE,
            bot_closing_message: None,
        }
    }
}

/// Validated channel settings. Build with [`ChannelSettings::new`] or deserialize (the JSON
/// is [`ChannelSettingsInput`] and is validated on the way in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ChannelSettingsInput", into = "ChannelSettingsInput")]
pub struct ChannelSettings {
    missed_window: MissedWindow,
    pickup_ms: Millis,
    idle_close_ms: Option<Millis>,
    closing_message: Option<ClosingMessage>,
    postpone_outside_business_hours: bool,
    bot_enabled: bool,
    bot_idle_close_ms: Millis,
    bot_closing_message: Option<ClosingMessage>,
}

impl Default for ChannelSettings {
    /// [`ChannelSettingsInput::default`], validated: missed window 1 day, pickup 2 minutes,
    /// idle close off, chatbot off (bot idle 30 minutes), no closing messages, no postponing.
    fn default() -> Self {
        match Self::new(ChannelSettingsInput::default()) {
            Ok(settings) => settings,
            Err(e) => unreachable!("the default settings are valid: {e}"),
        }
    }
}

impl ChannelSettings {
    /// Validates every field; the first problem found is returned.
    pub fn new(input: ChannelSettingsInput) -> Result<Self, SettingsError> {
        if !(MIN_PICKUP..=MAX_PICKUP).contains(&input.pickup_ms) {
            return Err(SettingsError::PickupTime {
                got: input.pickup_ms,
            });
        }
        if let Some(got) = input.idle_close_ms
            && !(MIN_IDLE..=MAX_IDLE).contains(&got)
        {
            return Err(SettingsError::IdleClose { got });
        }
        if !(MIN_IDLE..=MAX_IDLE).contains(&input.bot_idle_close_ms) {
            return Err(SettingsError::BotIdleClose {
                got: input.bot_idle_close_ms,
            });
        }
        let closing_message = input
            .closing_message
            .map(ClosingMessage::parse)
            .transpose()
            .map_err(SettingsError::ClosingMessage)?;
        let bot_closing_message = input
            .bot_closing_message
            .map(ClosingMessage::parse)
            .transpose()
            .map_err(SettingsError::BotClosingMessage)?;
        Ok(Self {
            missed_window: input.missed_window,
            pickup_ms: input.pickup_ms,
            idle_close_ms: input.idle_close_ms,
            closing_message,
            postpone_outside_business_hours: input.postpone_outside_business_hours,
            bot_enabled: input.bot_enabled,
            bot_idle_close_ms: input.bot_idle_close_ms,
            bot_closing_message,
        })
    }

    /// The editable form, e.g. to change one field and validate again.
    pub fn to_input(&self) -> ChannelSettingsInput {
        ChannelSettingsInput {
            missed_window: self.missed_window,
            pickup_ms: self.pickup_ms,
            idle_close_ms: self.idle_close_ms,
            closing_message: self.closing_message.clone().map(String::from),
            postpone_outside_business_hours: self.postpone_outside_business_hours,
            bot_enabled: self.bot_enabled,
            bot_idle_close_ms: self.bot_idle_close_ms,
            bot_closing_message: self.bot_closing_message.clone().map(String::from),
        }
    }

    /// How long a missed chat stays answerable.
    pub fn missed_window(&self) -> MissedWindow {
        self.missed_window
    }

    /// Time an operator has to answer a waiting chat.
    pub fn pickup_ms(&self) -> Millis {
        self.pickup_ms
    }

    /// Idle window of an answered chat, or `None` when idle close is off.
    pub fn idle_close_ms(&self) -> Option<Millis> {
        self.idle_close_ms
    }

    /// Sent when an answered chat closes for idleness.
    pub fn closing_message(&self) -> Option<&ClosingMessage> {
        self.closing_message.as_ref()
    }

    /// Whether idle deadlines outside business hours are postponed.
    pub fn postpone_outside_business_hours(&self) -> bool {
        self.postpone_outside_business_hours
    }

    /// Whether new chats start with the chatbot.
    pub fn bot_enabled(&self) -> bool {
        self.bot_enabled
    }

    /// Idle window while the chatbot holds a chat.
    pub fn bot_idle_close_ms(&self) -> Millis {
        self.bot_idle_close_ms
    }

    /// Sent when the chatbot's idle close fires.
    pub fn bot_closing_message(&self) -> Option<&ClosingMessage> {
        self.bot_closing_message.as_ref()
    }
}

impl TryFrom<ChannelSettingsInput> for ChannelSettings {
    type Error = SettingsError;
    fn try_from(input: ChannelSettingsInput) -> Result<Self, Self::Error> {
        Self::new(input)
    }
}

impl From<ChannelSettings> for ChannelSettingsInput {
    fn from(settings: ChannelSettings) -> Self {
        settings.to_input()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MAX_TEXT_UTF16;

    fn with(
        edit: impl FnOnce(&mut ChannelSettingsInput),
    ) -> Result<ChannelSettings, SettingsError> {
        let mut input = ChannelSettingsInput::default();
        edit(&mut input);
        ChannelSettings::new(input)
    }

    #[test]
    fn missed_windows_have_fixed_lengths() {
        let lengths: Vec<Millis> = MissedWindow::ALL.iter().map(|w| w.as_millis()).collect();
        assert_eq!(
            lengths,
            vec![900_000, 3_600_000, 86_400_000, 604_800_000, 2_592_000_000]
        );
        assert_eq!(
            "one_month".parse::<MissedWindow>(),
            Ok(MissedWindow::OneMonth)
        );
        assert_eq!(
            "2 weeks".parse::<MissedWindow>().map_err(|e| e.to_string()),
            Err("unknown missed-chat close window `2 weeks`".to_owned())
        );
    }

    #[test]
    fn defaults_are_valid() {
        let defaults = ChannelSettings::default();
        assert_eq!(
            ChannelSettings::new(ChannelSettingsInput::default()),
            Ok(defaults.clone())
        );
        assert_eq!(defaults.pickup_ms(), 2 * MINUTE);
        assert_eq!(defaults.idle_close_ms(), None);
    }

    #[test]
    fn ranges_are_inclusive_and_errors_name_the_field() {
        assert!(with(|s| s.pickup_ms = 10 * SECOND).is_ok());
        assert!(with(|s| s.pickup_ms = DAY).is_ok());
        let err = |r: Result<ChannelSettings, SettingsError>| r.expect_err("invalid").to_string();
        assert_eq!(
            err(with(|s| s.pickup_ms = 9 * SECOND)),
            "pickup time must be between 10 seconds and 1 day; got 9 seconds"
        );
        assert_eq!(
            err(with(|s| s.pickup_ms = DAY + 1)),
            "pickup time must be between 10 seconds and 1 day; got 86400001 milliseconds"
        );

        assert!(with(|s| s.idle_close_ms = Some(MINUTE)).is_ok());
        assert!(with(|s| s.idle_close_ms = Some(24 * HOUR)).is_ok());
        assert_eq!(
            err(with(|s| s.idle_close_ms = Some(0))),
            "idle close must be between 1 minute and 24 hours, or off; got 0 milliseconds"
        );
        assert_eq!(
            err(with(|s| s.idle_close_ms = Some(25 * HOUR))),
            "idle close must be between 1 minute and 24 hours, or off; got 25 hours"
        );
        assert_eq!(
            err(with(|s| s.bot_idle_close_ms = 30 * SECOND)),
            "chatbot idle close must be between 1 minute and 24 hours; got 30 seconds"
        );
    }

    #[test]
    fn closing_messages_are_checked_like_outgoing_text() {
        let err = |r: Result<ChannelSettings, SettingsError>| r.expect_err("invalid").to_string();
        assert_eq!(
            err(with(|s| s.closing_message = Some("  ".into()))),
            "closing message: text is empty"
        );
        assert_eq!(
            err(with(|s| s.bot_closing_message = Some("😀".repeat(2_501)))),
            "chatbot closing message: text is 5002 characters long (UTF-16 units); LINE accepts at most 5000"
        );
        let max =
            with(|s| s.closing_message = Some("あ".repeat(MAX_TEXT_UTF16))).expect("at the limit");
        assert_eq!(
            max.closing_message().map(|m| m.as_str().chars().count()),
            Some(5_000)
        );
    }

    #[test]
    fn json_parse_validates_and_round_trips() {
        let json = r#"{"missed_window":"one_week","pickup_ms":30000,"idle_close_ms":600000,
            "closing_message":"Thanks for chatting!","postpone_outside_business_hours":true}"#;
        let s: ChannelSettings = serde_json::from_str(json).expect("valid");
        assert_eq!(s.missed_window(), MissedWindow::OneWeek);
        assert_eq!(s.idle_close_ms(), Some(10 * MINUTE));
        assert_eq!(
            s.closing_message().map(ClosingMessage::as_str),
            Some("Thanks for chatting!")
        );
        assert!(s.postpone_outside_business_hours());
        // Unset fields took their defaults.
        assert_eq!(s.bot_idle_close_ms(), DEFAULT_BOT_IDLE);

        let back: ChannelSettings =
            serde_json::from_str(&serde_json::to_string(&s).expect("serializes")).expect("parses");
        assert_eq!(back, s);

        let empty: ChannelSettings = serde_json::from_str("{}").expect("all defaults");
        assert_eq!(empty, ChannelSettings::default());

        let bad =
            serde_json::from_str::<ChannelSettings>(r#"{"pickup_ms":5}"#).expect_err("too short");
        assert!(
            bad.to_string()
                .starts_with("pickup time must be between 10 seconds and 1 day")
        );
        let bad = serde_json::from_str::<ChannelSettings>(r#"{"missed_window":"forever"}"#)
            .expect_err("not a window");
        assert!(bad.to_string().contains("forever"));
    }
}
