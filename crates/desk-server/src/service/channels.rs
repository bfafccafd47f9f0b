//! A short-lived cache of channels by webhook key: every webhook request needs its channel's
//! secret, and a database read per request would cost more than verifying the signature.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use desk_core::{ChannelId, Millis};
use desk_store::{Channel, Store, StoreError};

/// How long a cached channel is trusted. A rotated secret is picked up within this time; the
/// previous secret stays valid for far longer (its grace period), so no event is refused.
const TTL_MS: Millis = 5_000;

/// Cached channels by webhook key, with when each was read.
type Entries = HashMap<String, (Arc<Channel>, Millis)>;

/// Channels by webhook key.
#[derive(Clone, Default)]
pub struct ChannelCache {
    by_key: Arc<Mutex<Entries>>,
}

impl ChannelCache {
    /// The live channel with this webhook key.
    pub async fn by_key(
        &self,
        store: &Store,
        key: &str,
        now: Millis,
    ) -> Result<Option<Arc<Channel>>, StoreError> {
        if let Some((channel, at)) = self.lock().get(key)
            && now - at < TTL_MS
        {
            return Ok(Some(channel.clone()));
        }
        let Some(channel) = store.channel_by_key(key).await? else {
            self.lock().remove(key);
            return Ok(None);
        };
        let channel = Arc::new(channel);
        self.lock().insert(key.to_owned(), (channel.clone(), now));
        Ok(Some(channel))
    }

    /// Forgets a channel (after a change to it).
    pub fn invalidate(&self, id: ChannelId) {
        self.lock().retain(|_, (c, _)| c.id != id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding this lock cannot leave the map half-updated; keep using it.
        self.by_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
