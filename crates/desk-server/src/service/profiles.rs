//! LINE profiles of the users who write: their name, picture and language, fetched off the
//! message path. A message is stored and shown at once; the profile follows a moment later
//! (`contact.updated`), so a slow or failing LINE API never holds up a chat.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use desk_core::{BrandId, ChannelId, Millis};
use desk_store::{ChannelScope, Contact, Profile, ProfileUpdate, StoreError};
use tokio::sync::futures::Notified;

use crate::state::AppState;

/// Profiles older than this are fetched again when the user writes.
pub const MAX_AGE_MS: Millis = 24 * 3_600_000;
/// A profile looked at (found fresh, fetched, or not given by LINE) is not looked at again
/// sooner: a user who writes a burst costs one look-up, and one whom LINE has no profile for
/// one call.
const RETRY_AFTER_MS: Millis = 5 * 60_000;
/// Longest the chatbot waits for a profile the worker is fetching (LINE answers in well under
/// a second; the language of a greeting is not worth more).
const BOT_WAIT: Duration = Duration::from_secs(3);
/// Longest the worker holds its next round back while messages wait to be applied.
pub const MAX_GIVE_WAY: Duration = Duration::from_secs(1);

type Key = (ChannelId, String);

/// The users whose profile may be wanted, for the profile worker (which fetches those the desk
/// lacks or holds for too long): a set, so asking twice looks once.
#[derive(Debug, Default)]
pub struct ProfileRequests {
    pending: Mutex<Pending>,
    wake: tokio::sync::Notify,
    /// Told after each round the worker stored.
    stored: tokio::sync::Notify,
    /// Whether the inbox processor has events to apply, as it last said.
    inbox_busy: tokio::sync::watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct Pending {
    queued: BTreeMap<Key, BrandId>,
    /// When each profile was last taken to be looked at.
    taken: HashMap<Key, Millis>,
    /// Taken by the worker and not stored yet.
    in_flight: HashSet<Key>,
    pruned_ms: Millis,
}

impl Pending {
    fn taken_lately(&self, key: &Key, now: Millis) -> bool {
        self.taken
            .get(key)
            .is_some_and(|at| now - at < RETRY_AFTER_MS)
    }
}

/// What a caller that needs a profile now should do (see [`ProfileRequests::claim`]).
enum Claim<'a> {
    /// Fetch it: nobody else is.
    Fetch,
    /// The worker is fetching it: wait for its round to be stored.
    Wait(Notified<'a>),
    /// It was fetched or tried lately: use what is stored.
    Stored,
}

impl ProfileRequests {
    /// Asks the worker to look at these users' profiles (by their chat's channel), unless it
    /// did lately.
    pub fn request(&self, users: impl IntoIterator<Item = (ChannelScope, String)>, now: Millis) {
        let mut pending = self.lock();
        let mut any = false;
        for (scope, line_id) in users {
            let key = (scope.channel_id, line_id);
            if !pending.taken_lately(&key, now) {
                any |= pending.queued.insert(key, scope.brand_id).is_none();
            }
        }
        drop(pending);
        if any {
            self.wake.notify_one();
        }
    }

    /// Claims one profile to fetch now, asked for or not.
    fn claim(&self, key: &Key, now: Millis) -> Claim<'_> {
        let mut pending = self.lock();
        if pending.in_flight.contains(key) {
            // Made under the lock, so the worker's `done` cannot slip in before it.
            return Claim::Wait(self.stored.notified());
        }
        if pending.taken_lately(key, now) {
            return Claim::Stored;
        }
        pending.queued.remove(key);
        pending.taken.insert(key.clone(), now);
        Claim::Fetch
    }

    /// Up to `max` of the profiles asked for, for the worker (which calls [`Self::done`]
    /// once it looked them up and stored what it fetched).
    pub(crate) fn take(&self, max: usize, now: Millis) -> Vec<(BrandId, Key)> {
        let mut pending = self.lock();
        if now - pending.pruned_ms > RETRY_AFTER_MS {
            pending.taken.retain(|_, at| now - *at < RETRY_AFTER_MS);
            pending.pruned_ms = now;
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some((key, brand)) = pending.queued.pop_first() else {
                break;
            };
            pending.taken.insert(key.clone(), now);
            pending.in_flight.insert(key.clone());
            out.push((brand, key));
        }
        out
    }

    /// The worker is through with these profiles.
    pub(crate) fn done<'k>(&self, keys: impl IntoIterator<Item = &'k Key>) {
        let mut pending = self.lock();
        for key in keys {
            pending.in_flight.remove(key);
        }
        drop(pending);
        self.stored.notify_waiters();
    }

    /// Resolves when something was asked for (a request made before the wait counts).
    pub(crate) async fn requested(&self) {
        self.wake.notified().await;
    }

    /// The inbox processor says whether it has events to apply: it claimed some, or a claim
    /// came back empty.
    pub fn set_inbox_busy(&self, busy: bool) {
        // Only a change wakes a waiting worker.
        self.inbox_busy.send_if_modified(|was| {
            let changed = *was != busy;
            *was = busy;
            changed
        });
    }

    /// Waits until the inbox processor has no events to apply, at most [`MAX_GIVE_WAY`]: the
    /// messages reach the consoles first and the names a moment later, instead of both
    /// competing for the same two cores and the same writer. The worker then goes at the
    /// processor's first pause: at once on a quiet desk, between batches on a busy one, and
    /// after the longest wait only through a burst that leaves it none (so names still come,
    /// a round a second at least).
    ///
    /// Waiting only while claimed events had waited over 15 ms did not help bench-sse's first
    /// second of 1,000 new chats: no claim waited that long, yet each batch waited 4-5 ms for
    /// the writer and the CPU behind the profile rounds (1,000 LINE calls, 100 token issues).
    /// Waiting for a pause took those chats' p99 from 34-41 ms to 18-24 ms in three pairs of
    /// runs (every message's p99: from 21-26 ms to 13-17 ms), and the 1,000 names were still
    /// all stored within about a second.
    pub(crate) async fn give_way_to_messages(&self) {
        let mut busy = self.inbox_busy.subscribe();
        let _ = tokio::time::timeout(MAX_GIVE_WAY, busy.wait_for(|busy| !busy)).await;
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding it cannot leave the maps half-changed.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a contact whose profile was fetched at `fetched_ms` (`None`: never) needs it again.
pub fn is_stale(fetched_ms: Option<Millis>, now: Millis) -> bool {
    fetched_ms.is_none_or(|at| now - at > MAX_AGE_MS)
}

/// The contact of a user who wrote, with their profile: fetched now (or waited for, when the
/// worker is at it) while the desk has none yet. The chatbot answers in the user's language,
/// so its first turn cannot go ahead without it.
pub async fn contact_with_profile(
    state: &AppState,
    scope: ChannelScope,
    line_id: &str,
) -> Result<Option<Contact>, StoreError> {
    let key = (scope.channel_id, line_id.to_owned());
    // Once: the worker may store the profile between our read and our claim, or while we wait.
    let mut looked_again = false;
    loop {
        let contact = state
            .store
            .contact_by_line_id(scope.channel_id, line_id)
            .await?;
        let lacking = contact
            .as_ref()
            .is_some_and(|c| c.profile_ms.is_none() && c.kind == desk_core::ContactKind::User);
        if !lacking {
            return Ok(contact);
        }
        match state.wake.profiles.claim(&key, state.clock.now_ms()) {
            Claim::Stored | Claim::Wait(_) if looked_again => return Ok(contact),
            Claim::Stored => looked_again = true,
            Claim::Wait(stored) => {
                looked_again = true;
                // A round that stored nothing for this user still ends the wait.
                let _ = tokio::time::timeout(BOT_WAIT, stored).await;
            }
            Claim::Fetch => {
                let Some(profile) = fetch(state, scope.channel_id, line_id).await else {
                    return Ok(contact);
                };
                let update = ProfileUpdate {
                    brand_id: scope.brand_id,
                    channel_id: scope.channel_id,
                    line_id: key.1,
                    profile,
                };
                store(state, std::slice::from_ref(&update)).await?;
                return state
                    .store
                    .contact_by_line_id(scope.channel_id, line_id)
                    .await;
            }
        }
    }
}

/// Stores fetched profiles; the consoles hear of the changed ones.
pub(crate) async fn store(state: &AppState, updates: &[ProfileUpdate]) -> Result<(), StoreError> {
    let changed = state
        .store
        .set_contact_profiles(updates, state.clock.now_ms())
        .await?;
    if !changed.is_empty() {
        state.hub.nudge();
    }
    Ok(())
}

/// A LINE profile; `None` when LINE cannot give one now (the contact keeps its old one).
pub(crate) async fn fetch(state: &AppState, channel: ChannelId, user_id: &str) -> Option<Profile> {
    let now = state.clock.now_ms();
    let token = match state
        .tokens
        .get(&state.store, &state.line, channel, now)
        .await
    {
        Ok(token) => token,
        Err(e) => {
            tracing::warn!(error = %e, "no access token; profile not fetched");
            return None;
        }
    };
    match state.line.profile(&token, user_id).await {
        Ok(p) => Some(Profile {
            display_name: Some(p.display_name),
            picture_url: p.picture_url,
            status_message: p.status_message,
            language: p.language,
        }),
        Err(e) => {
            if e.is_unauthorized() {
                let _ = state.tokens.invalidate(&state.store, channel).await;
            }
            tracing::warn!(error = %e, "profile fetch failed; the contact keeps what it had");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use desk_core::DepartmentId;

    fn scope(channel: ChannelId) -> ChannelScope {
        ChannelScope {
            channel_id: channel,
            brand_id: BrandId::new(),
            department_id: DepartmentId::new(),
        }
    }

    #[tokio::test]
    async fn profile_rounds_wait_for_the_inbox_processors_pause() {
        let requests = std::sync::Arc::new(ProfileRequests::default());
        let started = tokio::time::Instant::now();
        requests.give_way_to_messages().await;
        assert!(
            started.elapsed() < Duration::from_millis(20),
            "nothing to apply: no wait"
        );

        // Busy through several batches, then a pause: the round goes at the pause.
        requests.set_inbox_busy(true);
        let pausing = requests.clone();
        tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                pausing.set_inbox_busy(true);
            }
            pausing.set_inbox_busy(false);
        });
        let started = tokio::time::Instant::now();
        requests.give_way_to_messages().await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(100) && waited < MAX_GIVE_WAY,
            "{waited:?}"
        );

        // Busy for good: the names still come, after the longest wait.
        requests.set_inbox_busy(true);
        let started = tokio::time::Instant::now();
        requests.give_way_to_messages().await;
        assert!(started.elapsed() >= MAX_GIVE_WAY);
    }

    #[test]
    fn a_profile_asked_for_twice_is_fetched_once_until_it_may_be_retried() {
        let requests = ProfileRequests::default();
        let channel = ChannelId::new();
        requests.request(
            [(scope(channel), "U1".into()), (scope(channel), "U1".into())],
            0,
        );
        requests.request([(scope(channel), "U2".into())], 0);
        let taken: Vec<_> = requests.take(10, 0).into_iter().map(|(_, k)| k.1).collect();
        assert_eq!(taken, ["U1", "U2"]);

        // Asked again soon after: the fetch just made (or failed) stands.
        requests.request([(scope(channel), "U1".into())], RETRY_AFTER_MS - 1);
        assert!(requests.take(10, RETRY_AFTER_MS - 1).is_empty());
        requests.request([(scope(channel), "U1".into())], RETRY_AFTER_MS);
        assert_eq!(requests.take(10, RETRY_AFTER_MS).len(), 1);
    }

    #[test]
    fn a_profile_fetched_for_the_chatbot_is_not_fetched_again_by_the_worker() {
        let requests = ProfileRequests::default();
        let key = (ChannelId::new(), "U1".to_owned());
        requests.request([(scope(key.0), key.1.clone())], 0);
        assert!(matches!(requests.claim(&key, 0), Claim::Fetch));
        assert!(requests.take(10, 0).is_empty());
        assert!(matches!(requests.claim(&key, 1), Claim::Stored));
    }

    #[tokio::test]
    async fn the_chatbot_waits_for_a_profile_the_worker_is_fetching() {
        let requests = ProfileRequests::default();
        let key = (ChannelId::new(), "U1".to_owned());
        requests.request([(scope(key.0), key.1.clone())], 0);
        assert_eq!(requests.take(10, 0).len(), 1);
        let Claim::Wait(stored) = requests.claim(&key, 1) else {
            panic!("the worker has it in hand");
        };
        requests.done([&key]);
        tokio::time::timeout(Duration::from_secs(1), stored)
            .await
            .expect("the round's end wakes the wait");
        assert!(matches!(requests.claim(&key, 2), Claim::Stored));
    }

    #[test]
    fn take_hands_out_at_most_what_is_asked() {
        let requests = ProfileRequests::default();
        let channel = ChannelId::new();
        requests.request((0..5).map(|u| (scope(channel), format!("U{u}"))), 0);
        assert_eq!(requests.take(3, 0).len(), 3);
        assert_eq!(requests.take(3, 0).len(), 2);
        assert!(requests.take(3, 0).is_empty());
    }

    #[test]
    fn staleness_counts_from_the_last_fetch() {
        assert!(is_stale(None, 0));
        assert!(!is_stale(Some(0), MAX_AGE_MS));
        assert!(is_stale(Some(0), MAX_AGE_MS + 1));
    }
}
