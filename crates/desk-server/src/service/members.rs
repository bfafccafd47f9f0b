//! Names of group and room members, for showing who wrote each message in a group chat.
//! Fetched from LINE's member-profile API once a day per member, not once per message, and
//! off the message path, as users' own profiles are: a message whose writer's name is not
//! known yet is stored and shown at once, and the member worker fills the name in a moment
//! later (`message.updated`), so a slow or failing LINE API never holds up a chat.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use desk_core::{BrandId, ChannelId, ContactKind, Millis};
use desk_store::{InboundEffect, InboundItem, MemberName};
use line_api::webhook::Source;

use crate::state::AppState;

/// How long a member's name (or LINE's having none) is reused.
const TTL_MS: Millis = 24 * 3_600_000;

/// A member: (channel, group or room id, user id).
pub type Key = (ChannelId, String, String);
/// What the worker needs to fetch a member's name and tell the right consoles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub brand: BrandId,
    /// A group (else a room): LINE has an endpoint for each.
    pub group: bool,
}

#[derive(Default)]
struct Inner {
    /// Names looked up, with when (`None`: LINE had none, e.g. the member left).
    names: HashMap<Key, (Option<String>, Millis)>,
    /// Members whose messages lack a name, for the worker.
    wanted: BTreeMap<Key, Wanted>,
    /// When stale names were last forgotten.
    pruned_ms: Millis,
}

/// Member names by (channel, group or room, user), and the members to look up.
#[derive(Clone, Default)]
pub struct MemberNames {
    inner: Arc<Mutex<Inner>>,
    wake: Arc<tokio::sync::Notify>,
}

impl MemberNames {
    /// The writer's name for a group or room message, if looked up lately; `None` for 1:1
    /// chats (the contact's own profile names them), and until the worker has looked.
    pub fn known(&self, channel: ChannelId, source: &Source, now: Millis) -> Option<String> {
        let (chat, user) = match source {
            Source::Group(g) => (&g.group_id, g.user_id.as_ref()?),
            Source::Room(r) => (&r.room_id, r.user_id.as_ref()?),
            _ => return None,
        };
        self.cached(&(channel, chat.clone(), user.clone()), now)
            .flatten()
    }

    /// What was looked up lately of `key`: `Some(None)` when LINE had no name.
    pub fn cached(&self, key: &Key, now: Millis) -> Option<Option<String>> {
        match self.lock().names.get(key) {
            Some((name, at)) if now - at < TTL_MS => Some(name.clone()),
            _ => None,
        }
    }

    /// Asks for the writers of applied group and room messages stored without a name (the
    /// inbox processor calls this after the batch committed, so the rows are there to fill).
    /// A member LINE lately had no name for is not asked for again. One whose name was found
    /// meanwhile is (the message was prepared before it was): the worker then only fills it.
    pub fn request<'a>(&self, items: impl IntoIterator<Item = &'a InboundItem>, now: Millis) {
        let mut inner = self.lock();
        let mut asked = false;
        for item in items {
            let InboundEffect::Message {
                contact, message, ..
            } = &item.effect
            else {
                continue;
            };
            let group = match contact.kind {
                ContactKind::Group => true,
                ContactKind::Room => false,
                ContactKind::User => continue,
            };
            let (None, Some(user)) = (&message.sender_name, &message.sender_line_id) else {
                continue;
            };
            let key = (item.scope.channel_id, contact.line_id.clone(), user.clone());
            if matches!(inner.names.get(&key), Some((None, at)) if now - at < TTL_MS) {
                continue;
            }
            let wanted = Wanted {
                brand: item.scope.brand_id,
                group,
            };
            asked |= inner.wanted.insert(key, wanted).is_none();
        }
        if asked {
            self.wake.notify_one();
        }
    }

    /// Up to `n` members to look up, taken off the list.
    pub fn take(&self, n: usize) -> Vec<(Key, Wanted)> {
        let mut inner = self.lock();
        let keys: Vec<Key> = inner.wanted.keys().take(n).cloned().collect();
        keys.into_iter()
            .filter_map(|key| inner.wanted.remove_entry(&key))
            .collect()
    }

    /// Resolves when a member is asked for (a request made before the wait counts).
    pub async fn requested(&self) {
        self.wake.notified().await;
    }

    /// Remembers what LINE said of `key` at `now`.
    pub fn remember(&self, key: Key, name: Option<String>, now: Millis) {
        let mut inner = self.lock();
        // Forget stale names now and then (not on every call: a desk with many members would
        // scan them all each time), so departed members do not pile up.
        if now - inner.pruned_ms > TTL_MS {
            inner.names.retain(|_, (_, at)| now - *at < TTL_MS);
            inner.pruned_ms = now;
        }
        inner.names.insert(key, (name, now));
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Asks LINE for one member's name; `None` when it has none (the member left) or cannot say.
pub async fn fetch(state: &AppState, key: &Key, group: bool, now: Millis) -> Option<String> {
    let (channel, chat, user) = key;
    let token = match state
        .tokens
        .get(&state.store, &state.line, *channel, now)
        .await
    {
        Ok(token) => token,
        Err(e) => {
            tracing::warn!(error = %e, "no access token; the writer's name is left unknown");
            return None;
        }
    };
    let profile = if group {
        state.line.group_member_profile(&token, chat, user).await
    } else {
        state.line.room_member_profile(&token, chat, user).await
    };
    match profile {
        Ok(p) => Some(p.display_name),
        Err(e) => {
            tracing::warn!(error = %e, "member profile unavailable; the writer's name is left unknown");
            None
        }
    }
}

/// The stored form of a name found for `key`.
pub fn stored(key: &Key, wanted: Wanted, name: String) -> MemberName {
    let (channel, chat, user) = key;
    MemberName {
        brand_id: wanted.brand,
        channel_id: *channel,
        chat_line_id: chat.clone(),
        user_line_id: user.clone(),
        name,
    }
}
