//! Send planning: use the free reply token while it is safely fresh, otherwise push; and how
//! long to wait before retrying a transient failure.

use crate::time::{Millis, SECOND};

/// A reply token LINE gave with a user event, and when LINE issued it (the event's `timestamp`).
///
/// The token's life is counted from the event's timestamp rather than from when linedesk
/// received it: a delayed or redelivered webhook has less of its minute left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyToken {
    /// The single-use token.
    pub token: String,
    /// LINE's event timestamp.
    pub issued_ms: Millis,
}

/// LINE keeps a reply token valid for about one minute; we stop using it well before, so a
/// slow request never lands on an expired token.
pub const REPLY_TOKEN_SAFE_AGE: Millis = 50 * SECOND;

/// How a message will reach LINE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendRoute {
    /// `POST /v2/bot/message/reply` with this token: free of quota.
    Reply(String),
    /// `POST /v2/bot/message/push` with a retry key: counts against the monthly quota.
    Push,
}

impl SendRoute {
    /// Picks the route for a send at `now`. A token from the future (clock skew) counts as fresh.
    pub fn choose(token: Option<&ReplyToken>, now: Millis) -> Self {
        match token {
            Some(t) if now - t.issued_ms < REPLY_TOKEN_SAFE_AGE => {
                SendRoute::Reply(t.token.clone())
            }
            _ => SendRoute::Push,
        }
    }
}

/// Exponential backoff with jitter for 429 and 5xx answers and transport errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub base_ms: Millis,
    /// The longest single delay.
    pub max_delay_ms: Millis,
    /// Attempts (including the first) before the send is marked failed.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base_ms: 500,
            max_delay_ms: 5 * 60 * SECOND,
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// Delay after `attempts` failed attempts (1 = the first failed). `jitter` in `[0, 1)`
    /// spreads retries of many sends over the upper half of the window, so they don't stampede.
    pub fn delay(&self, attempts: u32, jitter: f64) -> Millis {
        let exp = attempts.saturating_sub(1).min(30);
        let full = self
            .base_ms
            .saturating_mul(1_i64 << exp)
            .min(self.max_delay_ms);
        let jitter = jitter.clamp(0.0, 1.0);
        full / 2 + ((full / 2) as f64 * jitter) as Millis
    }

    /// Whether another attempt is allowed after `attempts` failed ones.
    pub fn may_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn token(issued_ms: Millis) -> ReplyToken {
        ReplyToken {
            token: "t".into(),
            issued_ms,
        }
    }

    #[test]
    fn fresh_token_replies_old_token_pushes() {
        let now = 1_000_000;
        assert_eq!(
            SendRoute::choose(Some(&token(now - 49_999)), now),
            SendRoute::Reply("t".into())
        );
        assert_eq!(
            SendRoute::choose(Some(&token(now - 50_000)), now),
            SendRoute::Push
        );
        assert_eq!(SendRoute::choose(None, now), SendRoute::Push);
    }

    proptest! {
        #[test]
        fn delay_grows_and_stays_bounded(attempts in 1u32..100, jitter in 0.0f64..1.0) {
            let p = RetryPolicy::default();
            let d = p.delay(attempts, jitter);
            prop_assert!(d >= p.base_ms / 2 || attempts == 0);
            prop_assert!(d <= p.max_delay_ms);
            prop_assert!(p.delay(attempts + 1, 0.0) >= p.delay(attempts, 0.0));
        }
    }
}
