//! The two LINE calls the console makes on the operator's behalf: the loading animation while
//! they type, and marking the user's messages read when they open a chat. Both are courtesy:
//! a failure is logged, never shown, and never holds up the page.

use desk_core::{ContactKind, ConversationId};
use desk_store::Conversation;

use crate::state::AppState;

/// At most one loading animation per chat this often (LINE allows 100 calls/s per channel;
/// one per typing burst is plenty).
pub const LOADING_EVERY_MS: i64 = 20_000;
/// How long the animation shows unless a message arrives first (LINE: 5–60 s, steps of 5).
pub const LOADING_SECONDS: u32 = 20;

/// Starts LINE's loading animation in a 1:1 chat, unless it was started within
/// [`LOADING_EVERY_MS`] (by any instance). Returns whether it was started.
pub async fn start_loading(state: &AppState, conversation: &Conversation) -> bool {
    if conversation.contact_kind != ContactKind::User || !conversation.state.accepts_replies() {
        return false;
    }
    let now = state.clock.now_ms();
    match state
        .store
        .claim_loading(conversation.id, now, LOADING_EVERY_MS)
        .await
    {
        Ok(true) => {}
        Ok(false) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "loading throttle failed");
            return false;
        }
    }
    let token = match state
        .tokens
        .get(&state.store, &state.line, conversation.channel_id, now)
        .await
    {
        Ok(token) => token,
        Err(e) => {
            tracing::warn!(error = %e, "no token for the loading animation");
            return false;
        }
    };
    match state
        .line
        .start_loading(&token, &conversation.contact_line_id, LOADING_SECONDS)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "LINE refused the loading animation");
            false
        }
    }
}

/// Marks the user's messages in the chat read on LINE with the newest unused
/// `markAsReadToken`, in the background.
pub fn mark_as_read(state: &AppState, conversation: ConversationId, channel: desk_core::ChannelId) {
    let state = state.clone();
    tokio::spawn(async move {
        let token = match state.store.claim_mark_as_read(conversation).await {
            Ok(Some(token)) => token,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "mark-as-read claim failed");
                return;
            }
        };
        let now = state.clock.now_ms();
        let result = match state
            .tokens
            .get(&state.store, &state.line, channel, now)
            .await
        {
            Ok(access) => state
                .line
                .mark_as_read(&access, &token)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = result {
            tracing::warn!(%conversation, error = %e, "marking messages read on LINE failed");
        }
    });
}
