//! Typed identifiers: a `ConversationId` can never be passed where a `ContactId` is expected.

use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    )+};
}

id_type!(
    /// A business's brand: its own departments, operators, channels and console.
    BrandId,
    /// A team inside a brand that receives chats.
    DepartmentId,
    /// A person who logs into the console (or an admin).
    OperatorId,
    /// A connected LINE Official Account (Messaging API channel).
    ChannelId,
    /// A LINE user, group or room talking to a channel.
    ContactId,
    /// One chat, from its first message to its close.
    ConversationId,
    /// One message in a conversation, either direction.
    MessageId,
    /// One pending send; its id doubles as LINE's `X-Line-Retry-Key`.
    OutboxId,
    /// One stored attachment (image, audio, video or file), either direction.
    MediaId,
    /// A "connect a LINE channel" wizard in progress.
    WizardId,
);
