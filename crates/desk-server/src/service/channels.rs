//! A short-lived cache of channels, by webhook key and by id: every webhook request needs its
//! channel's secret, and every inbox event its channel's brand and department; a database read
//! for each would cost more than the work itself.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use desk_core::{ChannelId, Millis};
use desk_store::{Channel, Store, StoreError};
use tokio::sync::OnceCell;

/// How long a cached channel is trusted. A rotated secret is picked up within this time; the
/// previous secret stays valid for far longer (its grace period), so no event is refused.
const TTL_MS: Millis = 5_000;

/// Live channels by webhook key and by id.
#[derive(Clone, Default)]
pub struct ChannelCache {
    by_key: Arc<Memo<String, Channel>>,
    by_id: Arc<Memo<ChannelId, Channel>>,
}

impl ChannelCache {
    /// The live channel with this webhook key.
    pub async fn by_key(
        &self,
        store: &Store,
        key: &str,
        now: Millis,
    ) -> Result<Option<Arc<Channel>>, StoreError> {
        self.by_key
            .get(key.to_owned(), now, store.channel_by_key(key))
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
        self.by_id
            .get(id, now, load)
            .await?
            .ok_or(StoreError::NotFound("channel"))
    }

    /// Drops a channel changed here (secret rotated, removed), so this instance sees the
    /// change at once; other instances see it within [`TTL_MS`].
    pub fn forget(&self, channel: &Channel) {
        self.by_key.forget(&channel.channel_key);
        self.by_id.forget(&channel.id);
    }
}

/// A value as read for everyone who asks while it is read, and when that read started.
/// `None` inside: there is no such value.
type Entry<T> = (Arc<OnceCell<Option<Arc<T>>>>, Millis);

/// Values read at most once per key every [`TTL_MS`]. Requests that miss together share one
/// read: without that, a cold start read each channel once per webhook request until the
/// first read came back (1,349 reads of 100 channels in the first second of 1,000
/// webhooks/s).
struct Memo<K, T> {
    entries: Mutex<HashMap<K, Entry<T>>>,
}

impl<K, T> Default for Memo<K, T> {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
        }
    }
}

impl<K: Hash + Eq + Clone, T> Memo<K, T> {
    /// The fresh value of `key`, or what `load` reads. A failed read is not remembered (the
    /// next request reads again), nor is a missing value, which may be created in a moment.
    async fn get(
        &self,
        key: K,
        now: Millis,
        load: impl Future<Output = Result<Option<T>, StoreError>>,
    ) -> Result<Option<Arc<T>>, StoreError> {
        let cell = {
            let mut entries = self.lock();
            match entries.get(&key) {
                Some((cell, at)) if now - at < TTL_MS => cell.clone(),
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    entries.insert(key.clone(), (cell.clone(), now));
                    cell
                }
            }
        };
        let value = cell
            .get_or_try_init(|| async { Ok::<_, StoreError>(load.await?.map(Arc::new)) })
            .await?
            .clone();
        if value.is_none() {
            let mut entries = self.lock();
            if entries
                .get(&key)
                .is_some_and(|(current, _)| Arc::ptr_eq(current, &cell))
            {
                entries.remove(&key);
            }
        }
        Ok(value)
    }

    fn forget<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(key);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Entry<T>>> {
        // A panic while holding this lock cannot leave the map half-updated; keep using it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A read that counts itself and gives way once, so that requests overlap it.
    async fn read(reads: &AtomicUsize, value: Option<u32>) -> Result<Option<u32>, StoreError> {
        reads.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        Ok(value)
    }

    #[tokio::test]
    async fn requests_that_miss_together_share_one_read() {
        let memo = Memo::<&str, u32>::default();
        let reads = AtomicUsize::new(0);
        let got =
            futures::future::join_all((0..10).map(|_| memo.get("k", 0, read(&reads, Some(7)))))
                .await;
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert!(got.iter().all(|v| matches!(v, Ok(Some(v)) if **v == 7)));
        // Fresh: no read; stale: read again.
        memo.get("k", TTL_MS - 1, read(&reads, Some(8)))
            .await
            .expect("fresh");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        let stale = memo.get("k", TTL_MS, read(&reads, Some(8))).await;
        assert!(matches!(stale, Ok(Some(v)) if *v == 8));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failures_and_missing_values_are_read_again() {
        let memo = Memo::<&str, u32>::default();
        let reads = AtomicUsize::new(0);
        let failed = memo
            .get("k", 0, async {
                reads.fetch_add(1, Ordering::SeqCst);
                Err(StoreError::NotFound("channel"))
            })
            .await;
        assert!(failed.is_err());
        assert!(matches!(
            memo.get("k", 1, read(&reads, None)).await,
            Ok(None)
        ));
        let created = memo.get("k", 2, read(&reads, Some(3))).await;
        assert!(matches!(created, Ok(Some(v)) if *v == 3));
        assert_eq!(reads.load(Ordering::SeqCst), 3);
        memo.forget("k");
        memo.get("k", 3, read(&reads, Some(4))).await.expect("read");
        assert_eq!(reads.load(Ordering::SeqCst), 4);
    }
}
