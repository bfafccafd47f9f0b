//! The simulator's mutable world: channels, their users and chats, issued tokens, stored
//! content, and the logs tests inspect. Kept behind one `std::sync::Mutex`; no lock is ever
//! held across an `.await`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use crate::clock;
use crate::ids;
use crate::model::{ChannelSpec, FailWhen, Faults, RecordedRequest, SendApi, SentRecord, SimUser};

/// Channel access tokens valid at once per channel; issuing one more revokes the oldest.
pub(crate) const MAX_VALID_TOKENS: usize = 30;
/// `expires_in` of a short-lived channel access token (30 days).
pub(crate) const TOKEN_LIFETIME_SECS: i64 = 2_592_000;
/// A reply token can be used this long after the event.
pub(crate) const REPLY_TOKEN_TTL_MS: i64 = 60_000;
/// A retry key is remembered this long.
pub(crate) const RETRY_KEY_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// The default monthly message limit (`GET /v2/bot/message/quota`).
pub(crate) const DEFAULT_QUOTA: u64 = 5_000;

/// A user as one channel knows them.
#[derive(Debug, Clone)]
pub(crate) struct UserState {
    pub user: SimUser,
    /// The user has blocked the account (after an `unfollow` event).
    pub blocked: bool,
}

/// A push accepted with a retry key.
#[derive(Debug, Clone)]
pub(crate) struct AcceptedRetry {
    pub at_ms: i64,
    pub request_id: String,
    pub sent_messages: Vec<serde_json::Value>,
}

/// One simulated channel.
#[derive(Debug)]
pub(crate) struct Channel {
    pub spec: ChannelSpec,
    pub webhook_url: Option<String>,
    pub webhook_active: bool,
    pub users: HashMap<String, UserState>,
    /// Group and room IDs the bot is in → member user IDs.
    pub chats: HashMap<String, HashSet<String>>,
    /// Valid access tokens, oldest first.
    pub valid_tokens: VecDeque<String>,
    pub issued_tokens: usize,
    pub retry_keys: HashMap<String, AcceptedRetry>,
    /// Monthly target limit; `None` is `"type": "none"`.
    pub quota: Option<u64>,
    /// (Unix ms, messages counted) of delivered pushes.
    pub usage: Vec<(i64, u64)>,
}

impl Channel {
    pub(crate) fn new(spec: ChannelSpec) -> Self {
        Self {
            spec,
            webhook_url: None,
            webhook_active: true,
            users: HashMap::new(),
            chats: HashMap::new(),
            valid_tokens: VecDeque::new(),
            issued_tokens: 0,
            retry_keys: HashMap::new(),
            quota: Some(DEFAULT_QUOTA),
            usage: Vec::new(),
        }
    }

    /// Messages counted against the quota in the current calendar month (UTC).
    pub(crate) fn usage_this_month(&self, now_ms: i64) -> u64 {
        let month = clock::month_of(now_ms);
        self.usage
            .iter()
            .filter(|(at, _)| clock::month_of(*at) == month)
            .map(|(_, n)| n)
            .sum()
    }

    /// Registers a user first seen in an event (a friend, unless already known).
    pub(crate) fn touch_user(&mut self, user_id: &str) {
        if !self.users.contains_key(user_id) {
            let tail: String = user_id
                .chars()
                .rev()
                .take(6)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            self.users.insert(
                user_id.to_owned(),
                UserState {
                    user: SimUser::new(user_id, format!("Sim user {tail}")),
                    blocked: false,
                },
            );
        }
    }
}

/// An access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub channel_id: String,
    pub issued_ms: i64,
}

/// An issued reply token.
#[derive(Debug, Clone)]
pub(crate) struct ReplyToken {
    pub channel_id: String,
    /// The chat (user, group or room ID) the reply goes to.
    pub to: String,
    pub issued_ms: i64,
    pub used: bool,
}

/// Stored message content.
#[derive(Debug, Clone)]
pub(crate) struct Content {
    /// `None`: any channel may fetch it (set through `set_content`).
    pub channel_id: Option<String>,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// Answer 202 this many more times.
    pub preparing: usize,
    pub unsent: bool,
}

/// Everything the simulator remembers.
#[derive(Debug)]
pub(crate) struct State {
    pub channels: HashMap<String, Channel>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub reply_tokens: HashMap<String, ReplyToken>,
    /// markAsReadToken → channel ID.
    pub read_tokens: HashMap<String, String>,
    /// quoteToken → channel ID.
    pub quote_tokens: HashMap<String, String>,
    pub contents: HashMap<String, Content>,
    /// Message IDs unsent before their content was stored (content for them answers 410).
    pub unsent: HashSet<String>,
    pub sent: Vec<SentRecord>,
    pub requests: Vec<RecordedRequest>,
    pub loading: Vec<(String, u32)>,
    pub read_marks: Vec<String>,
    pub faults: Faults,
    pub fail_queue: HashMap<SendApi, VecDeque<(u16, FailWhen)>>,
    pub base_url: Option<String>,
    pub webhook_test_timeout: Duration,
    next_message_id: u64,
}

impl State {
    pub(crate) fn new() -> Self {
        Self {
            channels: HashMap::new(),
            access_tokens: HashMap::new(),
            reply_tokens: HashMap::new(),
            read_tokens: HashMap::new(),
            quote_tokens: HashMap::new(),
            contents: HashMap::new(),
            unsent: HashSet::new(),
            sent: Vec::new(),
            requests: Vec::new(),
            loading: Vec::new(),
            read_marks: Vec::new(),
            faults: Faults::default(),
            fail_queue: HashMap::new(),
            base_url: None,
            webhook_test_timeout: Duration::from_secs(3),
            next_message_id: ids::message_id_base(),
        }
    }

    /// A fresh numeric message ID, unique within this simulator.
    pub(crate) fn message_id(&mut self) -> String {
        self.next_message_id += 1;
        self.next_message_id.to_string()
    }

    /// A fresh quote token registered for `channel_id`.
    pub(crate) fn quote_token(&mut self, channel_id: &str) -> String {
        let token = ids::quote_token();
        self.quote_tokens
            .insert(token.clone(), channel_id.to_owned());
        token
    }

    /// The content stored for `message_id`; if there is none yet, empty content any channel may
    /// fetch, served as `application/octet-stream` until a content type is set.
    pub(crate) fn content_entry(&mut self, message_id: &str) -> &mut Content {
        self.contents
            .entry(message_id.to_owned())
            .or_insert_with(|| Content {
                channel_id: None,
                content_type: "application/octet-stream".into(),
                bytes: Vec::new(),
                preparing: 0,
                unsent: false,
            })
    }

    /// The channel an access token belongs to, if the token is valid now.
    pub(crate) fn channel_for_token(&self, token: &str, now_ms: i64) -> Option<String> {
        let t = self.access_tokens.get(token)?;
        if now_ms - t.issued_ms >= TOKEN_LIFETIME_SECS * 1000 {
            return None;
        }
        Some(t.channel_id.clone())
    }

    /// Issues an access token for `channel_id` (which must exist), revoking the oldest beyond
    /// [`MAX_VALID_TOKENS`].
    pub(crate) fn issue_token(&mut self, channel_id: &str, now_ms: i64) -> Option<String> {
        let channel = self.channels.get_mut(channel_id)?;
        let token = ids::access_token();
        channel.valid_tokens.push_back(token.clone());
        channel.issued_tokens += 1;
        let mut revoked = Vec::new();
        while channel.valid_tokens.len() > MAX_VALID_TOKENS {
            if let Some(old) = channel.valid_tokens.pop_front() {
                revoked.push(old);
            }
        }
        for old in revoked {
            self.access_tokens.remove(&old);
        }
        self.access_tokens.insert(
            token.clone(),
            AccessToken {
                channel_id: channel_id.to_owned(),
                issued_ms: now_ms,
            },
        );
        Some(token)
    }

    /// Revokes one access token; true if it existed.
    pub(crate) fn revoke_token(&mut self, token: &str) -> bool {
        let Some(t) = self.access_tokens.remove(token) else {
            return false;
        };
        if let Some(channel) = self.channels.get_mut(&t.channel_id) {
            channel.valid_tokens.retain(|v| v != token);
        }
        true
    }

    /// Takes the next `fail_next` failure for `api` if it strikes at `when`.
    pub(crate) fn take_failure(&mut self, api: SendApi, when: FailWhen) -> Option<u16> {
        let queue = self.fail_queue.get_mut(&api)?;
        match queue.front() {
            Some((status, w)) if *w == when => {
                let status = *status;
                queue.pop_front();
                Some(status)
            }
            _ => None,
        }
    }
}
