//! [`LineSim`], the handle tests and the demo hold: it sets up the simulated world, builds and
//! delivers webhook events, serves the HTTP API, and exposes what the desk did.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tracing::Instrument as _;

use crate::clock;
use crate::error::SimError;
use crate::events;
use crate::model::{
    ChannelSpec, ChatMode, DeliverOpts, Delivery, EventKind, FailWhen, Faults, RecordedRequest,
    SendApi, SentRecord, SimUser, Source,
};
use crate::state::{Channel, State, UserState};
use crate::webhook_out;

/// A fake LINE Platform. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct LineSim {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    http: reqwest::Client,
}

impl Default for LineSim {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for LineSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineSim")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl LineSim {
    /// An empty simulator: no channels, no faults, not serving yet.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "custom HTTP client failed; using the default one");
                reqwest::Client::new()
            });
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new()),
                http,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .expect("line-sim state mutex poisoned: a previous holder panicked")
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// All LINE endpoints (api and api-data hosts) plus the `/sim` control API.
    pub fn router(&self) -> axum::Router {
        crate::api::router(self.clone())
    }

    /// Binds `127.0.0.1:0` and serves [`LineSim::router`] in a background task.
    pub async fn spawn(&self) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        self.set_base_url(format!("http://{addr}"));
        let router = self.router();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "line-sim server stopped");
            }
        });
        tracing::info!(%addr, "line-sim serving");
        Ok(addr)
    }

    pub fn set_base_url(&self, url: String) {
        self.lock().base_url = Some(url);
    }

    /// `http://127.0.0.1:PORT` once serving; both the `api.line.me` and `api-data.line.me` base.
    pub fn base_url(&self) -> Option<String> {
        self.lock().base_url.clone()
    }

    /// Adds a channel (or replaces the spec of an existing one, keeping its state). Empty
    /// generated fields are filled as in [`ChannelSpec::new`].
    pub fn add_channel(&self, spec: ChannelSpec) {
        let spec = spec.with_defaults();
        let mut st = self.lock();
        match st.channels.get_mut(&spec.channel_id) {
            Some(ch) => ch.spec = spec,
            None => {
                st.channels
                    .insert(spec.channel_id.clone(), Channel::new(spec));
            }
        }
    }

    /// The spec of a channel (with generated defaults filled in).
    pub fn channel(&self, channel_id: &str) -> Option<ChannelSpec> {
        self.lock().channels.get(channel_id).map(|c| c.spec.clone())
    }

    fn with_channel(&self, channel_id: &str, f: impl FnOnce(&mut Channel)) {
        let mut st = self.lock();
        match st.channels.get_mut(channel_id) {
            Some(ch) => f(ch),
            None => tracing::warn!(channel_id, "line-sim: unknown channel; call ignored"),
        }
    }

    /// Sets the chat mode reported by `GET /v2/bot/info`.
    pub fn set_chat_mode(&self, channel_id: &str, mode: ChatMode) {
        self.with_channel(channel_id, |ch| ch.spec.chat_mode = mode);
    }

    /// Sets the webhook URL, like `PUT /v2/bot/channel/webhook/endpoint`. Webhooks are active
    /// unless switched off with [`LineSim::set_webhook_active`].
    pub fn set_webhook(&self, channel_id: &str, url: &str) {
        self.with_channel(channel_id, |ch| ch.webhook_url = Some(url.to_owned()));
    }

    /// Switches webhook sending on or off ("Use webhook" in the console).
    pub fn set_webhook_active(&self, channel_id: &str, active: bool) {
        self.with_channel(channel_id, |ch| ch.webhook_active = active);
    }

    /// Sets the monthly target limit (`GET /v2/bot/message/quota`); `None` means no limit
    /// (`"type": "none"`). Pushes beyond the limit answer 429. Default: 5,000.
    pub fn set_quota(&self, channel_id: &str, quota: Option<u64>) {
        self.with_channel(channel_id, |ch| ch.quota = quota);
    }

    /// Timeout of `POST /v2/bot/channel/webhook/test` probes (default 3 s).
    pub fn set_webhook_test_timeout(&self, timeout: Duration) {
        self.lock().webhook_test_timeout = timeout;
    }

    /// Adds (or replaces) a user who is a friend of the channel's account.
    pub fn add_user(&self, channel_id: &str, user: SimUser) {
        self.with_channel(channel_id, |ch| {
            ch.users.insert(
                user.user_id.clone(),
                UserState {
                    user,
                    blocked: false,
                },
            );
        });
    }

    /// Builds one webhook event object happening now. See [`LineSim::event_at`].
    pub fn event(&self, channel_id: &str, source: Source, kind: EventKind) -> Value {
        self.event_at(channel_id, source, kind, Duration::ZERO)
    }

    /// Builds one webhook event object that happened `age` ago: `timestamp` and the reply
    /// token's issue time are both in the past (a token older than 60 s is expired).
    ///
    /// The event gets a fresh `webhookEventId` (ULID), `mode: "active"`,
    /// `deliveryContext.isRedelivery: false`, a registered `replyToken` for replyable types,
    /// unique message IDs, `quoteToken` where `webhook.yml` requires one, and `markAsReadToken`
    /// on one-to-one message events. Users in the source are registered as friends; media bytes
    /// are stored for the content endpoint; `unfollow`/`follow` block/unblock the user;
    /// `join`/`leave`/`memberJoined`/`memberLeft` update chat membership. [`EventKind::Raw`] is
    /// returned unchanged with no effect.
    pub fn event_at(
        &self,
        channel_id: &str,
        source: Source,
        kind: EventKind,
        age: Duration,
    ) -> Value {
        let ts = clock::now_ms() - clock::duration_ms(age);
        let mut st = self.lock();
        if !st.channels.contains_key(channel_id) {
            tracing::warn!(
                channel_id,
                "line-sim: event for an unknown channel; tokens will not work"
            );
        }
        events::build(&mut st, channel_id, &source, kind, ts)
    }

    /// Signs and POSTs `{"destination": bot_user_id, "events": events}` to the channel's webhook.
    pub async fn deliver(
        &self,
        channel_id: &str,
        events: Vec<Value>,
        opts: DeliverOpts,
    ) -> Result<Delivery, SimError> {
        let (url, secret, destination) = {
            let st = self.lock();
            let ch = st
                .channels
                .get(channel_id)
                .ok_or_else(|| SimError::UnknownChannel(channel_id.to_owned()))?;
            let url = ch
                .webhook_url
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| SimError::NoWebhook(channel_id.to_owned()))?;
            if !ch.webhook_active {
                return Err(SimError::WebhookInactive(channel_id.to_owned()));
            }
            (url, ch.spec.secret.clone(), ch.spec.bot_user_id.clone())
        };
        let body = match opts.raw_body {
            Some(raw) => raw,
            None => webhook_out::body(&destination, events, opts.redelivery)?,
        };
        let signature = opts
            .signature
            .unwrap_or_else(|| line_api::signature::sign(&secret, &body));
        let span = tracing::info_span!("line_sim.webhook", channel_id, %url);
        async {
            let resp = webhook_out::post(
                self.http(),
                &url,
                body,
                &signature,
                webhook_out::DELIVERY_TIMEOUT,
            )
            .await?;
            let status = resp.status().as_u16();
            let body = resp.text().await?;
            tracing::debug!(status, "webhook delivered");
            Ok(Delivery { status, body })
        }
        .instrument(span)
        .await
    }

    /// [`LineSim::event`] and [`LineSim::deliver`] (default options) in one.
    pub async fn send(
        &self,
        channel_id: &str,
        source: Source,
        kind: EventKind,
    ) -> Result<Delivery, SimError> {
        let ev = self.event(channel_id, source, kind);
        self.deliver(channel_id, vec![ev], DeliverOpts::default())
            .await
    }

    /// Every reply/push request answered (accepted or rejected), in order.
    pub fn sent(&self) -> Vec<SentRecord> {
        self.lock().sent.clone()
    }

    /// Only the records whose messages reached the chat.
    pub fn delivered(&self) -> Vec<SentRecord> {
        self.lock()
            .sent
            .iter()
            .filter(|r| r.delivered)
            .cloned()
            .collect()
    }

    /// Every call to a LINE endpoint, in order of completion.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Access tokens issued for the channel in total (including revoked ones).
    pub fn issued_tokens(&self, channel_id: &str) -> usize {
        self.lock()
            .channels
            .get(channel_id)
            .map_or(0, |c| c.issued_tokens)
    }

    /// Accepted `POST /v2/bot/chat/loading/start` calls: (chatId, loadingSeconds).
    pub fn loading_starts(&self) -> Vec<(String, u32)> {
        self.lock().loading.clone()
    }

    /// Accepted `markAsReadToken`s, in order.
    pub fn read_marks(&self) -> Vec<String> {
        self.lock().read_marks.clone()
    }

    /// Replaces the random faults.
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// Makes the next `count` calls of `api` fail with `status` (queued after earlier ones).
    pub fn fail_next(&self, api: SendApi, status: u16, when: FailWhen, count: usize) {
        let mut st = self.lock();
        let q = st.fail_queue.entry(api).or_default();
        for _ in 0..count {
            q.push_back((status, when));
        }
    }

    /// Stores content for a message ID (served to any channel).
    pub fn set_content(&self, message_id: &str, content_type: &str, bytes: Vec<u8>) {
        let mut st = self.lock();
        let unsent = st.unsent.remove(message_id);
        let entry = st.content_entry(message_id);
        entry.content_type = content_type.to_owned();
        entry.bytes = bytes;
        entry.unsent |= unsent;
    }

    /// The content endpoint answers `202` (still preparing) this many times before serving.
    pub fn content_preparing(&self, message_id: &str, times: usize) {
        self.lock().content_entry(message_id).preparing = times;
    }
}
