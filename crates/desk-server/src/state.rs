//! Shared state handed to handlers and workers.

use std::sync::Arc;

use desk_store::Store;
use line_api::LineClient;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::hub::Hub;
use crate::service::channels::ChannelCache;
use crate::service::members::MemberNames;
use crate::service::rules::RulesCache;
use crate::service::tokens::TokenManager;

/// Everything a request or a worker needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub line: LineClient,
    pub tokens: TokenManager,
    pub channels: ChannelCache,
    pub rules: RulesCache,
    pub members: MemberNames,
    pub clock: Clock,
    pub wake: Arc<Wakers>,
    /// Realtime fan-out: call `hub.nudge()` after committing anything that appends events.
    pub hub: Hub,
    pub public_url: Option<String>,
    /// Seals and opens channel secrets and access tokens.
    pub cipher: crate::crypto::Cipher,
    /// Answers events of chats the chatbot holds.
    pub bot: crate::service::bot::BotRunner,
    /// Media storage, signed URLs and the ffmpeg pool.
    pub media: crate::media::Media,
}

/// Nudges for the workers, so new work is picked up at once instead of at the next poll.
#[derive(Debug, Default)]
pub struct Wakers {
    pub inbox: Notify,
    pub outbox: Notify,
    pub timers: Notify,
    pub media: Notify,
    /// New chats' departments, for the routing worker.
    pub routing: crate::service::routing::RouteRequests,
    /// Users whose LINE profile the desk lacks, for the profile worker.
    pub profiles: crate::service::profiles::ProfileRequests,
}
