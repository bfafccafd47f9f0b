//! The realtime hub: one tailer task per server instance reads new rows from the `events`
//! table and fans them out to the SSE streams through one [`tokio::sync::broadcast`] channel
//! per brand, so a stream wakes only for its own brand's events (with a thousand consoles over
//! many brands, one shared channel would wake every stream for every event).
//!
//! Publishers never send through the hub. The events table is the only source of truth (every
//! change appends its event inside its own transaction), so a publisher commits, then calls
//! [`Hub::nudge`] and the tailer reads at once; it also polls every second, which covers
//! writers that forget to nudge. On Postgres several instances may share one database: after a
//! local nudge the tailer also runs `NOTIFY linedesk_events` and every instance `LISTEN`s, so
//! the others read within a round trip too. Notifications carry no data, only the sender's tag,
//! which keeps them far below Postgres' 8000-byte payload limit.
//!
//! Ordering. On SQLite there is one writer and ids become visible in order. On Postgres a
//! BIGSERIAL id is taken when a row is inserted but becomes visible when its transaction
//! commits, so id 11 can be readable while id 10 is still in flight (or will never exist, if
//! its transaction rolls back). The tailer therefore:
//! - delivers in id order, waiting up to [`HOLD`] for a missing id at the front;
//! - after that, delivers what follows, but keeps watching the ids it skipped (at most
//!   [`LOOKBACK`] of them, for [`GAP_WATCH`]) and delivers each one late if it commits
//!   meanwhile, instead of losing it because it is below the highest id already seen.
//!
//! Every broadcast item carries the tailer's `settled` mark (every id at or below it was
//! broadcast earlier, or given up). A [`Subscription`] uses it to switch from the table (replay
//! after `Last-Event-ID`, or catch-up after it lagged) to the broadcast without a gap and without
//! sending any id twice, while remembering only the few ids above that mark.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use desk_core::BrandId;
use desk_store::{Event, Store, StoreError};
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::lane::Lane;

/// The fallback poll: events written without a nudge still go out within a second.
const POLL: Duration = Duration::from_secs(1);
/// How often the tailer re-reads while it waits for a missing id.
const HOLD_POLL: Duration = Duration::from_millis(20);
/// How long the tailer waits for a missing id before delivering the ids after it. Concurrent
/// commits usually land within milliseconds; a rolled-back id never does, and holds back this
/// instance's live streams (all brands: the tailer reads one log) this long.
pub const HOLD: Duration = Duration::from_millis(200);
/// How long a skipped id is still watched, so that a slow transaction's event goes out late
/// rather than never. An event committed later than this reaches consoles only through a
/// reload, not live.
pub const GAP_WATCH: Duration = Duration::from_secs(10);
/// Most ids watched below the highest delivered one.
pub const LOOKBACK: i64 = 1000;
/// Rows per table read by the tailer.
const PAGE: i64 = 500;
/// Rows per table read by one stream (replay, or catch-up after it lagged). Each stream holds
/// its page until sent, so this bounds memory when many streams lag at once (a thousand
/// consoles behind slow networks would otherwise buffer 500 events each).
const STREAM_PAGE: i64 = 64;
/// Broadcast items kept per brand for slow subscribers; one that falls further behind re-reads
/// the table. Each brand with a live stream allocates this many slots up front.
const CAPACITY: usize = 1024;
/// Longest wait between attempts to re-establish `LISTEN`.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One event as SSE streams send it, serialized and encoded once for every subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// `events.id`: the SSE `id:`.
    pub id: i64,
    /// The brand whose stream carries it.
    pub brand_id: BrandId,
    /// The event's chat, if it is about one.
    pub conversation_id: Option<uuid::Uuid>,
    /// The department of the event's chat when it was read: what department-limited
    /// streams filter on.
    pub department_id: Option<uuid::Uuid>,
    /// When the change that wrote the event happened (ms).
    pub created_ms: i64,
    /// The SSE `event:` (`message.created`, …).
    pub kind: Arc<str>,
    /// The row as JSON: the SSE `data:`.
    pub data: Arc<str>,
    /// The whole SSE event (`id:`, `event:` and `data:` lines), which every stream writes as
    /// it is: with a thousand consoles on one brand, encoding per stream would dominate.
    pub sse: Bytes,
}

impl Frame {
    /// The frame for a row of the events table.
    pub fn new(event: &Event) -> Frame {
        // An Event holds only serializable values; the fallback is never used.
        let data = serde_json::to_string(event).unwrap_or_else(|_| "null".to_owned());
        Frame {
            conversation_id: event.conversation_id,
            department_id: event.department_id,
            created_ms: event.created_ms,
            ..Frame::from_parts(event.id, event.brand_id, &event.kind, data)
        }
    }

    fn from_parts(id: i64, brand_id: BrandId, kind: &str, data: String) -> Frame {
        // Compact JSON holds no line breaks, so one `data:` line carries it; a kind never
        // holds one either (they are constants such as `message.created`).
        let sse = Bytes::from(format!("id: {id}\nevent: {kind}\ndata: {data}\n\n"));
        Frame {
            id,
            brand_id,
            conversation_id: None,
            department_id: None,
            created_ms: 0,
            kind: kind.into(),
            data: data.into(),
            sse,
        }
    }
}

fn frames(events: Vec<Event>) -> Vec<Frame> {
    events.iter().map(Frame::new).collect()
}

/// What the tailer broadcasts.
#[derive(Debug)]
struct Published {
    frame: Frame,
    /// Every id at or below this was broadcast before this item, or never will be.
    settled: i64,
}

/// The hub. Cheap to clone; all clones share one tailer.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// One channel per brand that has live streams; dropped when its last stream ends.
    brands: Mutex<HashMap<BrandId, broadcast::Sender<Arc<Published>>>>,
    /// The tailer's settled mark, published after the items it covers were sent.
    settled: AtomicI64,
    /// A commit in this process.
    local: Notify,
    /// A commit elsewhere (`NOTIFY` from another instance).
    remote: Notify,
    /// Ends the tailer and the listener; the tailer then drops every brand's channel, which
    /// ends every open stream (so graceful shutdown is not held up by SSE connections, which
    /// never end by themselves).
    shutdown: CancellationToken,
    /// This instance's `NOTIFY` payload, so it can ignore its own notifications.
    tag: String,
}

impl Inner {
    /// The per-brand channels. Never held across an await; a panic while holding it cannot
    /// leave the map half-changed, so a poisoned lock is still usable.
    fn brands(&self) -> MutexGuard<'_, HashMap<BrandId, broadcast::Sender<Arc<Published>>>> {
        self.brands.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("settled", &self.inner.settled.load(Ordering::Acquire))
            .field("brands", &self.inner.brands().len())
            .finish()
    }
}

impl Hub {
    /// Starts the tailer on the message `lane` (it reads what the inbox processor just
    /// committed there) and, on Postgres, the listener under `tasks`. Live delivery starts
    /// after the newest event already stored; older ones are for replay.
    pub async fn start(
        store: Store,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
        lane: &Lane,
    ) -> Result<Hub, StoreError> {
        let start = store.last_event_id().await?;
        let hub = Hub {
            inner: Arc::new(Inner {
                store,
                brands: Mutex::default(),
                settled: AtomicI64::new(start),
                local: Notify::new(),
                remote: Notify::new(),
                shutdown,
                tag: uuid::Uuid::new_v4().simple().to_string(),
            }),
        };
        lane.spawn(hub.clone().tail(start));
        tasks.spawn(hub.clone().listen());
        Ok(hub)
    }

    /// Says that events were committed: the tailer reads now instead of at its next poll.
    /// Call it after the commit, never before.
    pub fn nudge(&self) {
        self.inner.local.notify_one();
    }

    /// Every event id at or below this has been offered to live subscribers (or given up).
    pub fn settled(&self) -> i64 {
        self.inner.settled.load(Ordering::Acquire)
    }

    /// Fires when the server shuts down.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// A stream of `brand`'s events: those after `last_event_id` from the table first (when
    /// given), then live ones. Without `last_event_id` it starts live, from now.
    pub fn subscribe(&self, brand: BrandId, last_event_id: Option<i64>) -> Subscription {
        // Read the mark before subscribing: every id at or below it went out before the
        // receiver existed, so the receiver only ever holds ids above it.
        let settled = self.inner.settled.load(Ordering::Acquire);
        let rx = {
            let mut brands = self.inner.brands();
            if self.inner.shutdown.is_cancelled() {
                // The tailer has dropped, or is about to drop, every channel: a receiver
                // whose sender is gone ends the stream at once.
                broadcast::channel(1).1
            } else {
                brands
                    .entry(brand)
                    .or_insert_with(|| broadcast::channel(CAPACITY).0)
                    .subscribe()
            }
        };
        Subscription {
            store: self.inner.store.clone(),
            brand,
            rx,
            seen: Seen::new(last_event_id.unwrap_or(i64::MIN), settled),
            catch_up: last_event_id,
            ready: VecDeque::new(),
        }
    }

    /// The tailer: reads new rows and broadcasts them until shutdown, then ends every stream.
    async fn tail(self, start: i64) {
        self.tail_until_shutdown(start).await;
        // Dropping the senders closes every receiver. `subscribe` checks for shutdown under
        // the same lock, so no channel is created after this.
        self.inner.brands().clear();
    }

    #[tracing::instrument(name = "hub_tailer", skip_all)]
    async fn tail_until_shutdown(&self, start: i64) {
        let inner = &self.inner;
        let mut tail = Tail::new(start);
        loop {
            let wait = match self.pass(&mut tail).await {
                Ok(()) if tail.holding() => HOLD_POLL,
                Ok(()) => POLL,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the events table failed");
                    POLL
                }
            };
            tokio::select! {
                _ = inner.shutdown.cancelled() => return,
                _ = inner.local.notified() => {
                    // Wake the other instances too (a no-op on SQLite). Bursts of nudges
                    // collapse into one permit, so this is one NOTIFY per pass at most.
                    if let Err(e) = inner.store.notify_events(&inner.tag).await {
                        tracing::warn!(error = %e, "NOTIFY failed; other instances poll");
                    }
                }
                _ = inner.remote.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Reads what is new (and any watched missing ids) and broadcasts it.
    async fn pass(&self, tail: &mut Tail) -> Result<(), StoreError> {
        let inner = &self.inner;
        let mut late = frames(inner.store.events_by_ids(&tail.missing()).await?);
        loop {
            let fresh = inner.store.events_tail(tail.high, PAGE).await?;
            let full = i64::try_from(fresh.len()).unwrap_or(i64::MAX) >= PAGE;
            let out = tail.accept(std::mem::take(&mut late), frames(fresh), Instant::now());
            let mut brands = inner.brands();
            for published in out {
                if let Some(sender) = brands.get(&published.frame.brand_id) {
                    // Err only means the brand's last stream just ended.
                    let _ = sender.send(Arc::new(published));
                }
            }
            // Under the same lock as `subscribe`, so a channel is never dropped between a
            // new stream creating it and subscribing to it.
            brands.retain(|_, sender| sender.receiver_count() > 0);
            drop(brands);
            // After the sends: a subscriber that reads this mark must not expect those items.
            inner.settled.store(tail.settled(), Ordering::Release);
            if !full || tail.holding() {
                return Ok(());
            }
        }
    }

    /// Postgres only: `LISTEN linedesk_events` and wake the tailer on other instances'
    /// notifications, re-establishing the connection with backoff when it fails.
    #[tracing::instrument(name = "hub_listener", skip_all)]
    async fn listen(self) {
        let inner = &self.inner;
        let mut backoff = Duration::from_millis(100);
        loop {
            let listener = tokio::select! {
                _ = inner.shutdown.cancelled() => return,
                l = inner.store.listen_events() => l,
            };
            match listener {
                Ok(None) => return, // SQLite: one process, nothing to listen to.
                Ok(Some(mut listener)) => {
                    // Notifications sent while we were not listening are lost: read now.
                    inner.remote.notify_one();
                    loop {
                        let received = tokio::select! {
                            _ = inner.shutdown.cancelled() => return,
                            r = listener.recv() => r,
                        };
                        match received {
                            Ok(Some(payload)) => {
                                backoff = Duration::from_millis(100);
                                if payload != inner.tag {
                                    inner.remote.notify_one();
                                }
                            }
                            // Reconnected by sqlx; whatever came meanwhile was missed.
                            Ok(None) => inner.remote.notify_one(),
                            Err(e) => {
                                tracing::warn!(error = %e, "LISTEN connection failed");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, ?backoff, "could not LISTEN; retrying"),
            }
            tokio::select! {
                _ = inner.shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// The tailer's position, kept apart from IO so that the ordering rules can be tested.
#[derive(Debug)]
struct Tail {
    /// The highest id delivered, or skipped past in order.
    high: i64,
    /// Ids below `high` not seen yet, with the time the tailer stopped waiting for them.
    gaps: BTreeMap<i64, Instant>,
    /// The missing id at the front being waited for, and since when.
    hold: Option<(i64, Instant)>,
}

impl Tail {
    fn new(high: i64) -> Tail {
        Tail {
            high,
            gaps: BTreeMap::new(),
            hold: None,
        }
    }

    /// Every id at or below this has been delivered or given up.
    fn settled(&self) -> i64 {
        self.gaps
            .first_key_value()
            .map_or(self.high, |(id, _)| id - 1)
    }

    /// Whether the front is waiting for a missing id (the tailer re-reads soon).
    fn holding(&self) -> bool {
        self.hold.is_some()
    }

    /// The watched missing ids, to look for again.
    fn missing(&self) -> Vec<i64> {
        self.gaps.keys().copied().collect()
    }

    /// Takes the rows found for missing ids (`late`) and the rows after `high` (`fresh`, in id
    /// order) and returns what to broadcast, in that order.
    fn accept(&mut self, late: Vec<Frame>, fresh: Vec<Frame>, now: Instant) -> Vec<Published> {
        let mut out = Vec::new();
        for frame in late {
            if self.gaps.remove(&frame.id).is_some() {
                out.push(Published {
                    frame,
                    settled: self.settled(),
                });
            }
        }
        for event in fresh {
            if event.id <= self.high {
                continue;
            }
            let expected = self.high + 1;
            if event.id != expected {
                match self.hold {
                    Some((id, since)) if id == expected && now.duration_since(since) >= HOLD => {}
                    Some((id, _)) if id == expected => break,
                    _ => {
                        self.hold = Some((expected, now));
                        break;
                    }
                }
                // Waited long enough: go on, but keep watching the skipped ids, since a
                // transaction that took one may still commit.
                for id in expected.max(event.id - LOOKBACK)..event.id {
                    self.gaps.insert(id, now);
                }
                tracing::debug!(
                    from = expected,
                    to = event.id - 1,
                    "event ids missing; delivering past them"
                );
            }
            self.hold = None;
            self.high = event.id;
            out.push(Published {
                frame: event,
                settled: self.settled(),
            });
        }
        // Give up on ids that never came (rolled back, or too slow to matter live).
        let floor = self.high - LOOKBACK;
        self.gaps
            .retain(|id, since| *id >= floor && now.duration_since(*since) < GAP_WATCH);
        out
    }
}

/// One SSE stream's view of the hub: replay or catch-up from the table, then the broadcast.
pub struct Subscription {
    store: Store,
    brand: BrandId,
    rx: broadcast::Receiver<Arc<Published>>,
    seen: Seen,
    /// While reading from the table: the id to read after.
    catch_up: Option<i64>,
    /// Frames read from the table, not yet handed out.
    ready: VecDeque<Frame>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("brand", &self.brand)
            .field("seen", &self.seen)
            .field("catch_up", &self.catch_up)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next frame for this brand. `Ok(None)`: the hub stopped.
    pub async fn next(&mut self) -> Result<Option<Frame>, StoreError> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return Ok(Some(frame));
            }
            if let Some(cursor) = self.catch_up {
                let page = self
                    .store
                    .events_after(self.brand, cursor, STREAM_PAGE)
                    .await?;
                let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= STREAM_PAGE;
                self.catch_up = match page.last() {
                    Some(last) if full => Some(last.id),
                    _ => None,
                };
                for event in &page {
                    if self.seen.first_time(event.id) {
                        self.ready.push_back(Frame::new(event));
                    }
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(published) => {
                    let frame = &published.frame;
                    let deliver = frame.brand_id == self.brand
                        && self.seen.first_time_live(frame.id, published.settled);
                    if deliver {
                        return Ok(Some(frame.clone()));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // The dropped items all had ids above our mark (see `Published`): read
                    // them from the table instead of losing them.
                    tracing::warn!(missed, brand = %self.brand, "SSE subscriber lagged; re-reading the events table");
                    self.catch_up = Some(self.seen.catch_up_from());
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(None),
            }
        }
    }
}

/// Which ids a subscriber has sent, in as little memory as the settled mark allows.
#[derive(Debug)]
struct Seen {
    /// The client already has every id at or below this (its `Last-Event-ID`).
    after: i64,
    /// Ids at or below this no longer arrive through the broadcast (the latest item's settled
    /// mark, or the hub's mark just before subscribing).
    settled: i64,
    /// Ids above `settled` already sent, so an id read from the table and also broadcast
    /// goes out once.
    sent: BTreeSet<i64>,
}

impl Seen {
    fn new(after: i64, settled: i64) -> Seen {
        Seen {
            after,
            settled,
            sent: BTreeSet::new(),
        }
    }

    /// Whether `id` is new to this client; remembers it if it could come again.
    fn first_time(&mut self, id: i64) -> bool {
        if id <= self.after || self.sent.contains(&id) {
            return false;
        }
        if id > self.settled {
            self.sent.insert(id);
        }
        true
    }

    /// For a broadcast item: whether `id` is new to this client; then takes the item's
    /// settled mark. Ids at or below that mark never come again (neither broadcast nor in a
    /// catch-up, which reads above it), so in-order live traffic is never remembered.
    fn first_time_live(&mut self, id: i64, settled: i64) -> bool {
        let new = id > self.after && !self.sent.contains(&id);
        if new && id > settled.max(self.settled) {
            self.sent.insert(id);
        }
        self.advance(settled);
        new
    }

    /// Takes a broadcast item's settled mark and forgets sent ids that cannot come again.
    fn advance(&mut self, settled: i64) {
        if settled > self.settled {
            self.settled = settled;
            while self.sent.first().is_some_and(|&first| first <= settled) {
                self.sent.pop_first();
            }
        }
    }

    /// Where to re-read the table after missing broadcast items.
    fn catch_up_from(&self) -> i64 {
        self.settled.max(self.after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64) -> Frame {
        Frame::from_parts(
            id,
            BrandId(uuid::Uuid::nil()),
            "message.created",
            "{}".into(),
        )
    }

    fn ids(out: &[Published]) -> Vec<i64> {
        out.iter().map(|p| p.frame.id).collect()
    }

    fn events(ids: &[i64]) -> Vec<Frame> {
        ids.iter().copied().map(event).collect()
    }

    #[test]
    fn in_order_rows_go_out_at_once() {
        let mut tail = Tail::new(10);
        let now = Instant::now();
        let out = tail.accept(vec![], events(&[11, 12, 13]), now);
        assert_eq!(ids(&out), [11, 12, 13]);
        assert_eq!(out.last().map(|p| p.settled), Some(13));
        assert_eq!(tail.settled(), 13);
        assert!(!tail.holding());
    }

    #[test]
    fn a_missing_id_is_waited_for_then_delivered_late() {
        let mut tail = Tail::new(10);
        let t0 = Instant::now();
        // 12 is visible, 11 is not yet: wait, in order.
        assert!(tail.accept(vec![], events(&[12]), t0).is_empty());
        assert!(tail.holding());
        // 11 commits within the hold: both go out in order.
        let out = tail.accept(vec![], events(&[11, 12]), t0 + HOLD / 2);
        assert_eq!(ids(&out), [11, 12]);
        assert!(!tail.holding());

        // 14 without 13, for longer than the hold: 14 goes out, 13 is watched.
        assert!(tail.accept(vec![], events(&[14]), t0).is_empty());
        let out = tail.accept(vec![], events(&[14, 15]), t0 + HOLD);
        assert_eq!(ids(&out), [14, 15]);
        assert_eq!(tail.missing(), [13]);
        assert_eq!(tail.settled(), 12, "13 is not settled yet");
        assert!(out.iter().all(|p| p.settled == 12));
        // 13 commits late: delivered once, not skipped for being below 15.
        let out = tail.accept(events(&[13]), vec![], t0 + HOLD * 3);
        assert_eq!(ids(&out), [13]);
        assert_eq!(tail.settled(), 15);
        let out = tail.accept(events(&[13]), vec![], t0 + HOLD * 4);
        assert!(out.is_empty(), "never twice");
    }

    #[test]
    fn ids_that_never_come_are_given_up() {
        let mut tail = Tail::new(0);
        let t0 = Instant::now();
        tail.accept(vec![], events(&[3]), t0);
        tail.accept(vec![], events(&[3]), t0 + HOLD);
        assert_eq!(tail.missing(), [1, 2]);
        tail.accept(vec![], vec![], t0 + HOLD + GAP_WATCH);
        assert!(tail.missing().is_empty());
        assert_eq!(tail.settled(), 3);
    }

    #[test]
    fn replay_and_broadcast_overlap_without_repeats() {
        // Subscribed when the hub had settled 10, with Last-Event-ID 5.
        let mut seen = Seen::new(5, 10);
        // Replay reads 6..=13 from the table; 11..=13 were not broadcast yet.
        let replayed: Vec<i64> = (6..=13).filter(|id| seen.first_time(*id)).collect();
        assert_eq!(replayed, [6, 7, 8, 9, 10, 11, 12, 13]);
        assert_eq!(seen.sent.iter().copied().collect::<Vec<_>>(), [11, 12, 13]);
        // Then the broadcast brings 11..=14 (each settled up to itself): only 14 is new.
        let live: Vec<i64> = (11..=14)
            .filter(|id| seen.first_time_live(*id, *id))
            .collect();
        assert_eq!(live, [14]);
        assert!(seen.sent.is_empty(), "nothing kept once settled");
        assert!(!seen.first_time(3), "the client had it already");
    }

    #[test]
    fn a_late_id_below_the_highest_still_goes_out_once() {
        let mut seen = Seen::new(i64::MIN, 10);
        // 12 goes out while 11 is still in flight (settled stays 10).
        assert!(seen.first_time_live(12, 10));
        // The subscriber lags and re-reads the table from its mark: 11 has committed now.
        assert_eq!(seen.catch_up_from(), 10);
        assert!(seen.first_time(11));
        assert!(!seen.first_time(12), "12 was sent before the lag");
        // The broadcast copy of 11 arrives afterwards: not again.
        assert!(!seen.first_time_live(11, 12));
        assert!(seen.sent.is_empty());
    }

    #[test]
    fn in_order_live_traffic_is_not_remembered() {
        let mut seen = Seen::new(i64::MIN, 10);
        assert!(seen.first_time_live(11, 11));
        assert!(seen.first_time_live(12, 12));
        assert!(
            seen.sent.is_empty(),
            "nothing to remember, nothing allocated"
        );
        // Nor needed: a catch-up after a lag reads only above the mark.
        assert_eq!(seen.catch_up_from(), 12);
    }

    #[test]
    fn at_most_lookback_ids_are_watched() {
        let mut tail = Tail::new(0);
        let t0 = Instant::now();
        let far = 5 * LOOKBACK;
        tail.accept(vec![], events(&[far]), t0);
        let out = tail.accept(vec![], events(&[far]), t0 + HOLD);
        assert_eq!(ids(&out), [far]);
        assert_eq!(
            tail.missing().len(),
            usize::try_from(LOOKBACK).expect("small")
        );
        assert_eq!(tail.settled(), far - LOOKBACK - 1);
    }
}
