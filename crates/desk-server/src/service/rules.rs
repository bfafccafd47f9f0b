//! The rules a channel's conversations run under (its settings and its department's business
//! hours), cached briefly: every inbound event and every send needs them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use desk_core::{ChannelId, Millis};
use desk_store::{Rules, Store, StoreError};

/// A settings change is seen by all workers within this time (at once on this instance:
/// the settings API invalidates).
const TTL_MS: Millis = 5_000;

type Entries = HashMap<ChannelId, (Rules, Millis)>;

/// Rules by channel.
#[derive(Clone, Default)]
pub struct RulesCache {
    entries: Arc<Mutex<Entries>>,
}

impl RulesCache {
    /// The channel's rules.
    pub async fn get(
        &self,
        store: &Store,
        channel: ChannelId,
        now: Millis,
    ) -> Result<Rules, StoreError> {
        if let Some((rules, at)) = self.lock().get(&channel)
            && now - at < TTL_MS
        {
            return Ok(rules.clone());
        }
        let rules = Arc::new(store.chat_rules(channel).await?);
        self.lock().insert(channel, (rules.clone(), now));
        Ok(rules)
    }

    /// Forgets every cached rule set (after a settings or business-hours change).
    pub fn invalidate(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
