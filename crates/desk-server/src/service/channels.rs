//! A short-lived cache of channels, by webhook key and by id: every webhook request needs its
//! channel's secret, and every inbox event its channel's brand and department; a database read
//! for each would cost more than the work itself.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use desk_core::{ChannelId, Millis};
use desk_store::{Channel, Store, StoreError};

/// How long a cached channel is trusted. A rotated secret is picked up within this time; the
/// previous secret stays valid for far longer (its grace period), so no event is refused.
const TTL_MS: Millis = 5_000;

/// A cached channel and when it was read.
type Entry = (Arc<Channel>, Millis);

#[derive(Default)]
struct Entries {
    by_key: HashMap<String, Entry>,
    by_id: HashMap<ChannelId, Entry>,
}

/// Live channels by webhook key and by id.
#[derive(Clone, Default)]
pub struct ChannelCache {
    entries: Arc<Mutex<Entries>>,
}

impl ChannelCache {
    /// The live channel with this webhook key.
    pub async fn by_key(
        &self,
        store: &Store,
        key: &str,
        now: Millis,
    ) -> Result<Option<Arc<Channel>>, StoreError> {
        self.cached(
            |e| &mut e.by_key,
            key.to_owned(),
            now,
            store.channel_by_key(key),
        )
        .await
    }

    /// The live channel with this id (`NotFound` once it is removed).
    pub async fn by_id(
        &self,
        store: &Store,
        id: ChannelId,
        now: Millis,
    ) -> Result<Arc<Channel>, StoreError> {
        let load = async { store.channel(id).await.map(Some) };
        self.cached(|e| &mut e.by_id, id, now, load)
            .await?
            .ok_or(StoreError::NotFound("channel"))
    }

    /// Drops a channel changed here (secret rotated, removed), so this instance sees the
    /// change at once; other instances see it within [`TTL_MS`].
    pub fn forget(&self, channel: &Channel) {
        let mut entries = self.lock();
        entries.by_key.remove(&channel.channel_key);
        entries.by_id.remove(&channel.id);
    }

    /// A fresh cached entry from `map`, or what `load` reads (remembered for [`TTL_MS`]).
    async fn cached<K: Hash + Eq>(
        &self,
        map: fn(&mut Entries) -> &mut HashMap<K, Entry>,
        key: K,
        now: Millis,
        load: impl Future<Output = Result<Option<Channel>, StoreError>>,
    ) -> Result<Option<Arc<Channel>>, StoreError> {
        if let Some((channel, at)) = map(&mut self.lock()).get(&key)
            && now - at < TTL_MS
        {
            return Ok(Some(channel.clone()));
        }
        let Some(channel) = load.await? else {
            map(&mut self.lock()).remove(&key);
            return Ok(None);
        };
        let channel = Arc::new(channel);
        map(&mut self.lock()).insert(key, (channel.clone(), now));
        Ok(Some(channel))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding this lock cannot leave the maps half-updated; keep using them.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
