//! Channel access tokens: one short-lived token per channel, reused until 7 days before it
//! expires or until LINE answers 401, then re-issued. Single-flight: LINE keeps only 30
//! tokens per channel and revokes the oldest, so concurrent issues would revoke each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use desk_core::{ChannelId, Millis};
use desk_store::Store;
use line_api::{LineClient, LineError};

use crate::crypto::{Cipher, OpenError, Purpose};

/// Re-issue this long before expiry.
const RENEW_BEFORE_MS: Millis = 7 * 24 * 3_600_000;
/// After a failed issue, wait this long before asking LINE again: during an outage or with a
/// wrong secret, every event would otherwise ask (and LINE rate-limits the token endpoint).
const RETRY_ISSUE_AFTER_MS: Millis = 30_000;

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("could not issue a channel access token: {0}")]
    Line(#[from] LineError),
    #[error(transparent)]
    Store(#[from] desk_store::StoreError),
    #[error("no channel access token: the last attempt to issue one failed {0} s ago")]
    RecentlyFailed(Millis),
    #[error("cannot open the stored channel secret or token: {0}")]
    Sealed(#[from] OpenError),
}

/// Single-flight lock for one channel's token issue; holds when issuing last failed.
type IssueLock = tokio::sync::Mutex<Option<Millis>>;

/// Hands out valid tokens per channel. Tokens are stored sealed.
#[derive(Clone)]
pub struct TokenManager {
    /// Per channel: the single-flight lock, and when issuing last failed.
    locks: Arc<Mutex<HashMap<ChannelId, Arc<IssueLock>>>>,
    cipher: Cipher,
}

impl TokenManager {
    pub fn new(cipher: Cipher) -> Self {
        Self {
            locks: Default::default(),
            cipher,
        }
    }

    /// A usable token for the channel, issuing one if needed.
    pub async fn get(
        &self,
        store: &Store,
        line: &LineClient,
        channel: ChannelId,
        now: Millis,
    ) -> Result<String, TokenError> {
        if let Some(token) = self.fresh(store, channel, now).await? {
            return Ok(token);
        }
        let lock = self.lock_for(channel);
        let mut last_failure = lock.lock().await;
        // Another task may have issued one while we waited.
        if let Some(token) = self.fresh(store, channel, now).await? {
            return Ok(token);
        }
        if let Some(failed) = *last_failure
            && now - failed < RETRY_ISSUE_AFTER_MS
        {
            return Err(TokenError::RecentlyFailed((now - failed) / 1_000));
        }
        let stored = store.channel(channel).await?;
        let secret = self.cipher.open(Purpose::ChannelSecret, &stored.secret)?;
        let issued = match line
            .issue_token(&stored.line_channel_id, secret.expose())
            .await
        {
            Ok(issued) => issued,
            Err(e) => {
                *last_failure = Some(now);
                return Err(e.into());
            }
        };
        *last_failure = None;
        let expires = now
            + Millis::try_from(issued.expires_in)
                .unwrap_or(0)
                .saturating_mul(1_000);
        let sealed = self.cipher.seal(Purpose::AccessToken, &issued.access_token);
        store
            .set_channel_token(channel, Some(&sealed), Some(expires))
            .await?;
        tracing::info!(channel = %channel, "issued a channel access token");
        Ok(issued.access_token)
    }

    /// Drops a token LINE refused (401), so the next [`TokenManager::get`] issues a new one.
    pub async fn invalidate(&self, store: &Store, channel: ChannelId) -> Result<(), TokenError> {
        store.set_channel_token(channel, None, None).await?;
        Ok(())
    }

    fn lock_for(&self, channel: ChannelId) -> Arc<IssueLock> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(channel).or_default().clone()
    }
}

impl TokenManager {
    /// The stored token, unless it is missing or due for renewal.
    async fn fresh(
        &self,
        store: &Store,
        channel: ChannelId,
        now: Millis,
    ) -> Result<Option<String>, TokenError> {
        let c = store.channel(channel).await?;
        Ok(match (c.access_token, c.token_expires_ms) {
            (Some(sealed), Some(expires)) if expires - RENEW_BEFORE_MS > now => Some(
                self.cipher
                    .open(Purpose::AccessToken, &sealed)?
                    .expose()
                    .to_owned(),
            ),
            _ => None,
        })
    }
}
