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

/// A token this instance holds, opened, and when it expires.
type Held = (String, Millis);

/// Hands out valid tokens per channel. Tokens are stored sealed.
#[derive(Clone)]
pub struct TokenManager {
    /// Per channel: the single-flight lock, and when issuing last failed.
    locks: Arc<Mutex<HashMap<ChannelId, Arc<IssueLock>>>>,
    /// Per channel: the token last read or issued. Every LINE call needs one, and reading and
    /// opening the channel's row for each cost a database read per call (a thousand in the
    /// first second of a thousand new chats, each fetching its user's profile). A renewal by
    /// another instance is not seen here; the token held stays valid at LINE until it is due
    /// for renewal or LINE answers 401, which drops it ([`TokenManager::invalidate`]).
    held: Arc<Mutex<HashMap<ChannelId, Held>>>,
    cipher: Cipher,
}

/// Whether a token that expires then is still to be used at `now`.
fn usable(expires: Millis, now: Millis) -> bool {
    expires - RENEW_BEFORE_MS > now
}

impl TokenManager {
    pub fn new(cipher: Cipher) -> Self {
        Self {
            locks: Default::default(),
            held: Default::default(),
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
        self.hold(channel, &issued.access_token, expires);
        Ok(issued.access_token)
    }

    /// Drops a token LINE refused (401), so the next [`TokenManager::get`] issues a new one.
    pub async fn invalidate(&self, store: &Store, channel: ChannelId) -> Result<(), TokenError> {
        self.forget(channel);
        store.set_channel_token(channel, None, None).await?;
        Ok(())
    }

    /// Forgets the token held for a channel whose stored token was replaced here (a new
    /// secret comes with a new token): the next [`TokenManager::get`] reads the new one.
    pub fn forget(&self, channel: ChannelId) {
        self.held_tokens().remove(&channel);
    }

    fn hold(&self, channel: ChannelId, token: &str, expires: Millis) {
        self.held_tokens()
            .insert(channel, (token.to_owned(), expires));
    }

    fn held_tokens(&self) -> std::sync::MutexGuard<'_, HashMap<ChannelId, Held>> {
        // A panic while holding this lock cannot leave the map half-changed.
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    /// The token held, or else the stored one, unless it is missing or due for renewal.
    async fn fresh(
        &self,
        store: &Store,
        channel: ChannelId,
        now: Millis,
    ) -> Result<Option<String>, TokenError> {
        if let Some((token, expires)) = self.held_tokens().get(&channel)
            && usable(*expires, now)
        {
            return Ok(Some(token.clone()));
        }
        let c = store.channel(channel).await?;
        Ok(match (c.access_token, c.token_expires_ms) {
            (Some(sealed), Some(expires)) if usable(expires, now) => {
                let opened = self.cipher.open(Purpose::AccessToken, &sealed)?;
                self.hold(channel, opened.expose(), expires);
                Some(opened.expose().to_owned())
            }
            _ => None,
        })
    }
}
