//! Conversation states and close reasons (DESIGN §3).

use crate::text_enum;

text_enum! {
    /// Where a chat is in its life: `bot` → `waiting` → (`missed`) → `open` → `closed`.
    pub enum ConversationState ("conversation state") {
        /// The chatbot holds the chat.
        Bot = "bot",
        /// Routed to a department, no operator has answered yet.
        Waiting = "waiting",
        /// Nobody answered within the pick-up time; still answerable until the missed window ends.
        Missed = "missed",
        /// An operator has answered.
        Open = "open",
        /// Completed: read-only, final.
        Closed = "closed",
    }
}

impl ConversationState {
    /// Whether an operator may still send into a chat in this state.
    pub fn accepts_replies(self) -> bool {
        self != ConversationState::Closed
    }
}

text_enum! {
    /// Why a chat was closed.
    pub enum CloseReason ("close reason") {
        /// An operator closed it.
        Operator = "operator",
        /// No message from either side within the idle window.
        Idle = "idle",
        /// A missed chat nobody picked up before the missed window ended.
        MissedTimeout = "missed_timeout",
        /// The bot's own idle timeout while it held the chat.
        BotIdle = "bot_idle",
        /// The user blocked the account (unfollow).
        Blocked = "blocked",
    }
}

text_enum! {
    /// Whether the LINE user is a friend of the account.
    pub enum FriendStatus ("friend status") {
        /// Added the account (or unblocked it).
        Friend = "friend",
        /// Blocked the account: nothing can be sent.
        Blocked = "blocked",
        /// Never seen a follow or unfollow (e.g. groups, or users from before linedesk).
        Unknown = "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_text() {
        for state in ConversationState::ALL {
            assert_eq!(state.as_str().parse::<ConversationState>(), Ok(*state));
        }
        for reason in CloseReason::ALL {
            assert_eq!(reason.as_str().parse::<CloseReason>(), Ok(*reason));
        }
        let err = "gone"
            .parse::<ConversationState>()
            .expect_err("not a state");
        assert_eq!(err.to_string(), "unknown conversation state `gone`");
    }

    #[test]
    fn only_closed_refuses_replies() {
        for state in ConversationState::ALL {
            assert_eq!(state.accepts_replies(), *state != ConversationState::Closed);
        }
    }
}
