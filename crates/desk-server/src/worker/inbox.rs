//! The inbox processor: applies stored webhook events in timestamp order per chat, in parallel
//! across chats.

use std::collections::BTreeMap;
use std::time::Duration;

use desk_core::Millis;
use desk_store::{BackendKind, InboundItem, InboxRow, IngestLoad};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::service::inbound;
use crate::state::AppState;

/// Events claimed (and applied in one transaction) at a time, by how hard webhook requests
/// press on the inbox's writer: `(base, most)`. A claim starts at the base and grows towards
/// the most while events wait (see [`Sizer`]).
///
/// On SQLite a batch reaches the consoles when its last event is applied, and the processor
/// shares two cores with the HTTP side: at 1,000 new chats/s, bases of 128/256 put the
/// slowest new chats at 100-130 ms where 16/64 put them at 40-80 ms. While webhooks come, the
/// most is small too: batches of 512 at 10,000 webhooks/s took the CPU their requests need
/// and doubled their p99.
///
/// On Postgres every statement is a round trip, and webhook requests do not wait for the
/// processor: small batches would only make applying fall behind (16 put new chats half a
/// second late at 1,000 messages/s).
fn batch_bounds(kind: BackendKind, load: IngestLoad) -> (i64, i64) {
    match (kind, load) {
        (BackendKind::Sqlite, IngestLoad::Quiet) => (64, 512),
        (BackendKind::Sqlite, IngestLoad::Busy) => (16, 64),
        (BackendKind::Postgres, IngestLoad::Quiet) => (256, 512),
        (BackendKind::Postgres, IngestLoad::Busy) => (128, 512),
        // Small while requests saturate the writer, whether the processor gave way to them
        // (see `give_way_to_ingest`) or keeps up between them.
        (_, IngestLoad::Saturated) => (32, 32),
    }
}

/// Sizes claims: the base size for the load while the processor keeps up; doubled after
/// every full batch in a row, up to the most for the load, because a full batch means events
/// are waiting, and then a bigger batch applies more per commit (a fixed batch of 16 fell
/// behind 1,000 events/s on a host where a commit takes 10 ms); back to the base after a
/// short one.
#[derive(Debug, Default)]
struct Sizer {
    /// The last claim's limit.
    limit: i64,
    /// Whether the last claim came back full.
    full: bool,
}

impl Sizer {
    /// The limit of the next claim.
    fn next(&mut self, kind: BackendKind, load: IngestLoad) -> i64 {
        let (base, most) = batch_bounds(kind, load);
        self.limit = match self.full {
            true => (self.limit * 2).clamp(base, most),
            false => base,
        };
        self.limit
    }

    /// Takes what the claim of [`Sizer::next`]'s limit returned.
    fn took(&mut self, rows: usize) {
        self.full = i64::try_from(rows).unwrap_or(i64::MAX) >= self.limit;
    }
}

/// Longer than a batch takes, or an event waits in memory to be applied; an expired lease
/// only delays (applying is exactly-once).
const LEASE_MS: Millis = 20_000;
/// Most events handed over in memory, waiting to be applied (about 1 KB each); past it, they
/// wait in the inbox table and are claimed from there.
const HANDOFF_CAPACITY: usize = 4_096;
const PARALLEL_CHATS: usize = 16;
/// Attempts before an event that keeps failing is set aside (kept, with its error).
const MAX_ATTEMPTS: i32 = 10;
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Longest a batch waits for ingest to go quiet when webhook requests saturate the inbox's
/// writer during a backlog (see [`give_way_to_ingest`]). Acknowledging LINE comes first;
/// applying catches up after the burst, and still advances while it lasts.
const MAX_GIVE_WAY: Duration = Duration::from_millis(100);
/// Events waiting in memory that mean a burst: only then, and only while webhooks arrive
/// faster than it applies them, does the processor give way to webhook requests.
const OVERLOAD: usize = HANDOFF_CAPACITY / 2;
/// The shortest time a rate of [`Pace`] is measured over.
const PACE_WINDOW: Duration = Duration::from_millis(250);

/// A rate measured over windows of at least [`PACE_WINDOW`]: the last whole window's.
#[derive(Debug, Default)]
struct Rate {
    count: u64,
    time: Duration,
    per_s: Option<f64>,
}

impl Rate {
    /// Counts `count` events over `time`.
    fn add(&mut self, count: u64, time: Duration) {
        self.count += count;
        self.time += time;
        if self.time >= PACE_WINDOW {
            self.per_s = Some(self.count as f64 / self.time.as_secs_f64());
            self.count = 0;
            self.time = Duration::ZERO;
        }
    }
}

/// Whether applying keeps up with webhooks: events stored per second against events applied
/// per second spent applying.
#[derive(Debug, Default)]
struct Pace {
    arrived: Rate,
    applied: Rate,
    /// The store's count of events stored, and when it was read last.
    stored: Option<(tokio::time::Instant, u64)>,
}

impl Pace {
    /// Takes the store's count of events stored so far, read at `at`.
    fn stored(&mut self, total: u64, at: tokio::time::Instant) {
        if let Some((last_at, last)) = self.stored {
            self.arrived
                .add(total.saturating_sub(last), at.duration_since(last_at));
        }
        self.stored = Some((at, total));
    }

    /// Whether the processor, applying without pause, would keep up. Unknown counts as no:
    /// a backlog found at start (a restart) lets requests go first until it is measured.
    fn keeps_up(&self) -> bool {
        matches!(
            (self.arrived.per_s, self.applied.per_s),
            (Some(arrived), Some(applied)) if arrived <= applied
        )
    }
}

/// Runs the processor. Webhook events stored by this process are handed to it in memory
/// (see `desk_store::handoff`); others (a restart's backlog, retries) are claimed from the
/// inbox.
pub async fn run(state: AppState, cancel: CancellationToken) {
    state.store.hand_off_inbox(LEASE_MS, HANDOFF_CAPACITY);
    let mut sizer = Sizer::default();
    let mut pace = Pace::default();
    loop {
        pace.stored(
            state.store.inbox_stored_total(),
            tokio::time::Instant::now(),
        );
        let overloaded = state.store.inbox_handed_waiting() >= OVERLOAD && !pace.keeps_up();
        let load = give_way_to_ingest(&state, overloaded).await;
        let limit = sizer.next(state.store.kind(), load);
        let now = state.clock.now_ms();
        let rows = match state.store.inbox_next(now, LEASE_MS, limit).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "inbox claim failed");
                Vec::new()
            }
        };
        sizer.took(rows.len());
        // Profiles wait for a pause (see `ProfileRequests::give_way_to_messages`).
        state.wake.profiles.set_inbox_busy(!rows.is_empty());
        if rows.is_empty() {
            if !super::idle(&cancel, &state.wake.inbox, None, now, IDLE_POLL).await {
                return;
            }
        } else {
            let (events, started) = (rows.len() as u64, tokio::time::Instant::now());
            process(&state, rows).await;
            pace.applied.add(events, started.elapsed());
            if cancel.is_cancelled() {
                return;
            }
        }
    }
}

/// Applies a batch.
#[tracing::instrument(skip_all, fields(events = rows.len()))]
async fn process(state: &AppState, rows: Vec<InboxRow>) {
    let started = tokio::time::Instant::now();
    // One queue per chat, in LINE's timestamp order (ties: arrival order).
    let mut chats: BTreeMap<(desk_core::ChannelId, Option<String>), Vec<InboxRow>> =
        BTreeMap::new();
    for row in rows {
        chats
            .entry((row.channel_id, row.chat_key.clone()))
            .or_default()
            .push(row);
    }
    // Prepared in parallel across chats, in order within each.
    let prepared: Vec<Vec<(InboxRow, Result<InboundItem, inbound::InboundError>)>> =
        futures::stream::iter(chats.into_values())
            .map(|mut chat| async move {
                chat.sort_by_key(|r| (r.event_ms, r.id));
                let mut out = Vec::with_capacity(chat.len());
                for row in chat {
                    let item = inbound::prepare(state, &row, state.clock.now_ms()).await;
                    out.push((row, item));
                }
                out
            })
            .buffer_unordered(PARALLEL_CHATS)
            .collect()
            .await;

    let mut items = Vec::new();
    for (row, item) in prepared.into_iter().flatten() {
        match item {
            Ok(item) => items.push((row, item)),
            Err(e) => record_failure(state, &row, &e.to_string()).await,
        }
    }
    let prepared_at = tokio::time::Instant::now();
    let batch: Vec<InboundItem> = items.iter().map(|(_, item)| item.clone()).collect();
    // Departments that got a new chat: it waits in their line until routed.
    let mut opened = Vec::new();
    match state
        .store
        // Consoles hear of the batch once it is visible, not after the inbox is marked.
        .apply_inbound_batch_then(batch, state.clock.now_ms(), || state.hub.nudge())
        .await
    {
        Ok(applied) => {
            for ((_, item), applied) in items.iter().zip(&applied) {
                if applied.opened {
                    opened.push(item.scope.department_id);
                }
            }
        }
        Err(e) => {
            // One by one, so a bad event holds back no other.
            tracing::warn!(error = %e, "batch apply failed; applying one by one");
            for (row, item) in &items {
                let department = item.scope.department_id;
                match state
                    .store
                    .apply_inbound_batch(vec![item.clone()], state.clock.now_ms())
                    .await
                {
                    Ok(applied) => {
                        if applied.iter().any(|a| a.opened) {
                            opened.push(department);
                        }
                    }
                    Err(e) => record_failure(state, row, &e.to_string()).await,
                }
            }
            state.hub.nudge();
        }
    }
    let applied_at = tokio::time::Instant::now();
    // Only the workers a batch left work for are woken: each wake-up costs a claim on the
    // desk's one writer, which the next batch then waits behind (at 1,000 text messages/s,
    // a media claim ran between every two batches).
    // Events of a channel whose chatbot is on were queued as bot turns with them: the bot
    // answers off this path (an external bot may take seconds).
    if items
        .iter()
        .any(|(_, item)| item.rules.settings.bot_enabled())
    {
        state.bot.wake();
    }
    // Content of new image, video, audio and file messages is fetched at once.
    if items.iter().any(|(_, item)| item.effect.touches_media()) {
        state.wake.media.notify_one();
    }
    // New chats wait in their departments' lines: the routing worker offers them to
    // operators while this goes on with the next batch.
    if !opened.is_empty() {
        state.wake.routing.request(opened);
    }
    // The member worker names group and room messages stored without their writer's name.
    state
        .members
        .request(items.iter().map(|(_, item)| item), state.clock.now_ms());
    // The profile worker looks at who wrote: it fetches the profiles the desk lacks.
    state.wake.profiles.request(
        items.iter().filter_map(|(_, item)| {
            let user = item.effect.user_to_profile()?;
            Some((item.scope, user.line_id.clone()))
        }),
        state.clock.now_ms(),
    );
    tracing::debug!(
        prepare_ms = (prepared_at - started).as_millis() as u64,
        apply_ms = (applied_at - prepared_at).as_millis() as u64,
        "inbox batch timings"
    );
}

/// Gives way to webhook requests when they saturate the inbox's writer (on SQLite, its one
/// writer) while the processor is `overloaded`: a backlog waits and webhooks arrive faster
/// than it applies them, as in a burst of 10,000 webhooks/s, where acknowledging LINE comes
/// first. It then waits up to [`MAX_GIVE_WAY`] for ingest to ease; giving the processor half
/// the time there doubled the requests' p99, and it could not keep up anyway.
///
/// Otherwise it only lets the tasks already woken run first, whatever the load: every wait
/// is added to every message's way to the consoles.
/// - Waiting whenever the writer looked saturated (a share of its time, which on a starved
///   host counts the time it waits for a CPU) cost 30-40 ms before every batch at 1,000
///   messages/s.
/// - Waiting behind any backlog of [`OVERLOAD`] events fed itself at a steady 1,000
///   messages/s that applying alone could just keep up with: once a hiccup left that many
///   waiting, 100 ms waits before every batch of 32 cut applying to a quarter, and consoles
///   fell behind by seconds more every second.
///
/// Returns the load when it stopped waiting.
async fn give_way_to_ingest(state: &AppState, overloaded: bool) -> IngestLoad {
    let start = tokio::time::Instant::now();
    loop {
        let load = state.store.ingest_load(state.clock.now_ms());
        match GiveWay::to(load, overloaded) {
            GiveWay::No => return load,
            GiveWay::Yield => {
                tokio::task::yield_now().await;
                return load;
            }
            GiveWay::Wait => {}
        }
        let waited = start.elapsed();
        if waited >= MAX_GIVE_WAY {
            tracing::debug!(
                waited_ms = waited.as_millis() as u64,
                "gave way to saturated ingest"
            );
            return load;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// What the processor does before a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GiveWay {
    /// Claim at once.
    No,
    /// Let the tasks already woken run first.
    Yield,
    /// Wait for ingest to ease (up to [`MAX_GIVE_WAY`]).
    Wait,
}

impl GiveWay {
    fn to(load: IngestLoad, overloaded: bool) -> GiveWay {
        match load {
            IngestLoad::Quiet => GiveWay::No,
            IngestLoad::Saturated if overloaded => GiveWay::Wait,
            IngestLoad::Busy | IngestLoad::Saturated => GiveWay::Yield,
        }
    }
}

async fn record_failure(state: &AppState, row: &InboxRow, error: &str) {
    let now = state.clock.now_ms();
    let give_up = row.attempts >= MAX_ATTEMPTS;
    let retry_at = now + 1_000 * i64::from(row.attempts.clamp(1, 60));
    tracing::warn!(inbox_id = row.id, error, give_up, "inbox event not applied");
    if let Err(e) = state
        .store
        .inbox_failed(row.id, error, retry_at, give_up, now)
        .await
    {
        tracing::error!(error = %e, "could not record the inbox failure");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_processor_waits_for_ingest_only_when_overloaded() {
        assert_eq!(GiveWay::to(IngestLoad::Quiet, true), GiveWay::No);
        assert_eq!(GiveWay::to(IngestLoad::Busy, true), GiveWay::Yield);
        assert_eq!(
            GiveWay::to(IngestLoad::Saturated, false),
            GiveWay::Yield,
            "a load applying keeps up with: every wait would delay every message"
        );
        assert_eq!(
            GiveWay::to(IngestLoad::Saturated, true),
            GiveWay::Wait,
            "a burst's backlog: acknowledgements first"
        );
    }

    #[test]
    fn the_processor_is_overloaded_only_while_webhooks_outpace_applying() {
        let mut pace = Pace::default();
        assert!(!pace.keeps_up(), "not measured yet");
        let second = Duration::from_secs(1);
        pace.arrived.add(1_000, second);
        pace.applied.add(100, Duration::from_millis(100));
        assert!(!pace.keeps_up(), "a window is 250 ms at least");
        pace.applied.add(150, Duration::from_millis(150));
        assert!(pace.keeps_up(), "1,000/s applied against 1,000/s arriving");
        pace.arrived.add(10_000, second);
        assert!(!pace.keeps_up(), "a burst of 10,000/s");
        // The last window counts: the burst is over.
        pace.arrived.add(0, Duration::from_millis(100));
        pace.arrived.add(200, Duration::from_millis(150));
        assert_eq!(pace.arrived.per_s, Some(800.0));
        assert!(pace.keeps_up());
    }

    #[test]
    fn arrivals_are_the_stores_count_between_two_readings() {
        let mut pace = Pace::default();
        let t0 = tokio::time::Instant::now();
        pace.stored(5_000, t0);
        assert_eq!(pace.arrived.per_s, None, "one reading is no rate");
        pace.stored(5_500, t0 + Duration::from_millis(500));
        assert_eq!(pace.arrived.per_s, Some(1_000.0));
    }

    #[test]
    fn full_batches_grow_the_claim_until_a_short_one() {
        let kind = BackendKind::Sqlite;
        let mut sizer = Sizer::default();
        let full = |sizer: &mut Sizer, load| {
            let limit = sizer.next(kind, load);
            sizer.took(usize::try_from(limit).expect("small"));
            limit
        };
        let (base, most) = batch_bounds(kind, IngestLoad::Quiet);
        assert_eq!(full(&mut sizer, IngestLoad::Quiet), base);
        assert_eq!(
            full(&mut sizer, IngestLoad::Quiet),
            base * 2,
            "events wait: take more"
        );
        for _ in 0..20 {
            full(&mut sizer, IngestLoad::Quiet);
        }
        assert_eq!(sizer.limit, most, "bounded");
        // Webhooks arrive: the claim shrinks to the busy bound, and to the saturated one.
        let (_, busy_most) = batch_bounds(kind, IngestLoad::Busy);
        assert!(busy_most < most);
        assert_eq!(full(&mut sizer, IngestLoad::Busy), busy_most);
        assert_eq!(full(&mut sizer, IngestLoad::Saturated), 32, "no growth");
        sizer.took(3);
        assert_eq!(
            sizer.next(kind, IngestLoad::Busy),
            batch_bounds(kind, IngestLoad::Busy).0,
            "caught up: back to the base"
        );
    }
}
