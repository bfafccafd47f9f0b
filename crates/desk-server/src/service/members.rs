//! Names of group and room members, for showing who wrote each message in a group chat.
//! Fetched from LINE's member-profile API once a day per member, not once per message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use desk_core::{ChannelId, Millis};
use line_api::webhook::Source;

use crate::state::AppState;

/// How long a member's name is reused.
const TTL_MS: Millis = 24 * 3_600_000;

type Key = (ChannelId, String, String);
type Entries = HashMap<Key, (Option<String>, Millis)>;

/// Member names by (channel, group or room, user).
#[derive(Clone, Default)]
pub struct MemberNames {
    entries: Arc<Mutex<Entries>>,
}

impl MemberNames {
    /// The writer's name for a group or room message; `None` for 1:1 chats (the contact's
    /// own profile names them) and when LINE cannot say (the member left, or LINE is down).
    pub async fn of(
        &self,
        state: &AppState,
        channel: ChannelId,
        source: &Source,
        now: Millis,
    ) -> Option<String> {
        let (chat, user, group) = match source {
            Source::Group(g) => (g.group_id.clone(), g.user_id.clone()?, true),
            Source::Room(r) => (r.room_id.clone(), r.user_id.clone()?, false),
            _ => return None,
        };
        let key = (channel, chat, user);
        if let Some((name, at)) = self.lock().get(&key)
            && now - at < TTL_MS
        {
            return name.clone();
        }
        let token = state
            .tokens
            .get(&state.store, &state.line, channel, now)
            .await
            .ok()?;
        let (_, chat, user) = &key;
        let profile = if group {
            state.line.group_member_profile(&token, chat, user).await
        } else {
            state.line.room_member_profile(&token, chat, user).await
        };
        let name = match profile {
            Ok(p) => Some(p.display_name),
            Err(e) => {
                tracing::warn!(error = %e, "member profile unavailable; message stored without its writer's name");
                None
            }
        };
        self.lock().insert(key, (name.clone(), now));
        name
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
