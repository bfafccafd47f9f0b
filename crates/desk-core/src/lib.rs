//! linedesk's pure domain: identifiers, conversation states, message kinds, outgoing-text
//! validation, send planning (reply token or push), channel settings, business hours, the
//! conversation lifecycle and routing. No IO, no async, no clock: callers pass `now` in, so
//! every rule is testable without sleeping.

pub mod access;
pub mod account;
pub mod bot;
pub mod channel_setup;
pub mod conversation;
pub mod hours;
pub mod ids;
pub mod lifecycle;
pub mod media;
pub mod message;
pub mod routing;
pub mod sealed;
pub mod secret;
pub mod send;
pub mod settings;
pub mod time;

pub use access::{Access, BrandFilter, Denied, Scope};
pub use account::{AccountError, DisplayName, Email, Locale, NewPassword, TimeZoneName};
pub use conversation::{CloseReason, ConversationState, FriendStatus};
pub use hours::{BusinessHours, BusinessHoursSpec, HoursError, OpenInterval, WeeklySchedule};
pub use ids::*;
pub use lifecycle::{
    Command, Conversation, ConversationRow, Effect, LifecycleError, NewConversation, Phase,
    RowError, TimelineEvent, TimerKind, TransferTarget, Transition, apply, idle_deadline,
};
pub use media::{MediaKind, MediaState};
pub use message::{Direction, MessageKind, MessageStatus, OutgoingText, TextError};
pub use routing::{OperatorStatus, Presence, Router, Routing, RoutingError, RoutingMode};
pub use sealed::Sealed;
pub use secret::Secret;
pub use send::{ReplyToken, RetryPolicy, SendRoute};
pub use settings::{
    ChannelSettings, ChannelSettingsInput, ClosingMessage, MissedWindow, SettingsError,
};
pub use time::Millis;

/// A value stored as text (a state, a kind) that does not name any known variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownVariant {
    /// What was being parsed, e.g. "conversation state".
    pub what: &'static str,
    /// The text that matched nothing.
    pub value: String,
}

/// Declares a fieldless enum stored as snake_case text, with `as_str` and `FromStr`.
macro_rules! text_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident ($what:literal) { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and wire) name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::UnknownVariant { what: $what, value: s.to_owned() }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::UnknownVariant;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum! {
    /// What an operator may do: `admin` everything, `supervisor` one brand, `operator` their departments.
    pub enum Role ("role") {
        /// All brands, all settings.
        Admin = "admin",
        /// One brand.
        Supervisor = "supervisor",
        /// The chats of their departments.
        Operator = "operator",
    }
}

text_enum! {
    /// What kind of LINE chat a contact is.
    pub enum ContactKind ("contact kind") {
        /// A 1:1 chat with a user.
        User = "user",
        /// A group chat the account was invited to.
        Group = "group",
        /// A multi-person chat (room).
        Room = "room",
    }
}

text_enum! {
    /// How an outbound message reached LINE.
    pub enum SentVia ("send route") {
        /// The reply API with a reply token (free).
        Reply = "reply",
        /// The push API (counts against the monthly quota).
        Push = "push",
    }
}
