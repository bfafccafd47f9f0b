//! Handing webhook events from ingest straight to this process's inbox processor.
//!
//! Without it, every batch the processor applies costs two more rounds on the inbox's writer
//! (the one webhook requests commit through): a claim that leases the rows, and a mark once
//! they are applied. Each is a commit, and on SQLite an fsync, taken between one batch and
//! the next; under load the processor spends its time waiting in that queue instead of
//! applying, and consoles wait with it.
//!
//! With it ([`Store::hand_off_inbox`]), the group commit that stores events leases them to
//! this process as it inserts them and puts the rows in a bounded queue in memory;
//! [`Store::inbox_next`] takes from that queue first. The table stays the truth: a row whose
//! process dies before applying it is claimed again from the table when its lease runs out,
//! exactly as a claimed row would be. When the queue is full, events are stored without a
//! lease and claimed from the table as before, so a backlog costs memory only up to the bound.
//!
//! On SQLite the rows are then marked processed by a task of their own, a few batches at a
//! time, not between batches. That is safe because applying records each event in the desk's
//! file in the same transaction (`inbox_applied`): a row claimed again before its mark is
//! only marked, never applied twice. (On Postgres the inbox is in the desk's database and its
//! rows are marked inside the applying transaction, as before.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use desk_core::Millis;
use tokio::sync::mpsc;

use crate::inbox::IngestMeter;
use crate::{Backend, InboxRow, IngestLoad, NewInboxEvent, Result, Store};

/// How often the table is claimed from while rows come by hand: events waiting for a retry,
/// and leases run out, are due no sooner than that.
const TABLE_POLL_MS: Millis = 1_000;
/// How long marks are gathered before they are written in one statement.
const MARK_EVERY: Duration = Duration::from_millis(20);
/// How long they are gathered at most while webhook requests keep the writer busy: each mark
/// is a commit on the writer those requests wait for.
const MARK_MOST: Duration = Duration::from_millis(250);
/// Ids per `UPDATE … WHERE id IN (…)`.
const MARK_CHUNK: usize = 4_000;

/// Inbox rows applied at a time (SQLite), to mark processed.
type Marks = (Vec<i64>, Millis);

/// The rows handed over, waiting for the processor.
#[derive(Default)]
pub(crate) struct Handoff {
    /// The lease given to rows as they are stored; 0 while nothing takes them by hand.
    lease_ms: AtomicI64,
    /// Most rows waiting in memory.
    capacity: AtomicI64,
    rows: Mutex<VecDeque<InboxRow>>,
    /// Rows that may be claimed wait in the table: some were stored without a lease (the
    /// queue was full), or the last claim came back full.
    table_pending: AtomicBool,
    /// When the table is next claimed from regardless.
    table_due_ms: AtomicI64,
    /// Marks rows processed in the background (SQLite, once handing over is on).
    marks: OnceLock<mpsc::UnboundedSender<Marks>>,
}

impl Handoff {
    /// Never held across an await; a panic while holding it leaves whole rows, so a poisoned
    /// lock is still usable.
    fn rows(&self) -> MutexGuard<'_, VecDeque<InboxRow>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lease to store `count` new events with, if they are to be handed over: handing
    /// over is on and the queue has room for them. Otherwise they go to the table only.
    pub(crate) fn lease_for(&self, count: usize) -> Option<Millis> {
        let lease = self.lease_ms.load(Ordering::Relaxed);
        if lease == 0 {
            return None;
        }
        let waiting = i64::try_from(self.rows().len() + count).unwrap_or(i64::MAX);
        if waiting > self.capacity.load(Ordering::Relaxed) {
            self.table_pending.store(true, Ordering::Relaxed);
            return None;
        }
        Some(lease)
    }

    /// Queues rows just stored with a lease from [`Handoff::lease_for`].
    pub(crate) fn hand_over(&self, rows: impl IntoIterator<Item = InboxRow>) {
        self.rows().extend(rows);
    }

    fn take(&self, limit: usize) -> Vec<InboxRow> {
        let mut rows = self.rows();
        let n = limit.min(rows.len());
        rows.drain(..n).collect()
    }

    /// Whether the table should be claimed from now.
    fn table_due(&self, now: Millis) -> bool {
        self.lease_ms.load(Ordering::Relaxed) == 0
            || self.table_pending.swap(false, Ordering::Relaxed)
            || now >= self.table_due_ms.load(Ordering::Relaxed)
    }

    fn table_claimed(&self, now: Millis, full: bool) {
        if full {
            self.table_pending.store(true, Ordering::Relaxed);
        }
        self.table_due_ms
            .store(now + TABLE_POLL_MS, Ordering::Relaxed);
    }
}

/// A new event as handed over, once stored under `id` at `now`, leased (one attempt).
pub(crate) fn handed_row(event: NewInboxEvent, id: i64, now: Millis) -> InboxRow {
    InboxRow {
        id,
        channel_id: event.channel_id,
        dedupe_key: event.dedupe_key,
        chat_key: event.chat_key,
        event_type: event.event_type,
        event_ms: event.event_ms,
        raw: event.raw,
        received_ms: now,
        attempts: 1,
    }
}

impl Store {
    /// Hands webhook events stored from now on to this process's inbox processor, which takes
    /// them with [`Store::inbox_next`]: each is leased for `lease_ms` as it is stored, and at
    /// most `capacity` wait in memory (see the module's documentation). On SQLite, applied
    /// rows are then marked processed in the background. Call it once, where the processor
    /// runs.
    pub fn hand_off_inbox(&self, lease_ms: Millis, capacity: usize) {
        let handoff = &self.inbox_writer.handoff;
        if let Backend::Sqlite { inbox, .. } = self.backend() {
            handoff.marks.get_or_init(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                let meter = self.inbox_writer.meter.clone();
                tokio::spawn(mark_in_background(inbox.clone(), meter, rx));
                tx
            });
        }
        handoff.capacity.store(
            i64::try_from(capacity).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
        handoff.lease_ms.store(lease_ms.max(1), Ordering::Relaxed);
    }

    /// How many events wait in memory, handed over but not yet taken.
    pub fn inbox_handed_waiting(&self) -> usize {
        self.inbox_writer.handoff.rows().len()
    }

    /// The next events to apply, up to `limit`: those handed over first, then, when the table
    /// may hold some (always, unless handing over is on), those [`Store::inbox_claim`] leases
    /// for `lease_ms`.
    pub async fn inbox_next(
        &self,
        now: Millis,
        lease_ms: Millis,
        limit: i64,
    ) -> Result<Vec<InboxRow>> {
        let handoff = &self.inbox_writer.handoff;
        let mut rows = handoff.take(usize::try_from(limit).unwrap_or(0));
        let room = limit - i64::try_from(rows.len()).unwrap_or(limit);
        if room > 0 && handoff.table_due(now) {
            let claimed = self.inbox_claim(now, lease_ms, room).await?;
            handoff.table_claimed(now, i64::try_from(claimed.len()).unwrap_or(room) >= room);
            rows.extend(claimed);
        }
        Ok(rows)
    }

    /// SQLite: marks applied rows processed in the inbox file: in the background once handing
    /// over is on, else now. An error is only logged: the rows are claimed again when their
    /// lease runs out, found applied, and marked then.
    pub(crate) async fn mark_applied(&self, ids: Vec<i64>, now: Millis) {
        let Backend::Sqlite { inbox, .. } = self.backend() else {
            return;
        };
        let ids = match self.inbox_writer.handoff.marks.get() {
            Some(marks) => match marks.send((ids, now)) {
                Ok(()) => return,
                Err(mpsc::error::SendError((ids, _))) => ids,
            },
            None => ids,
        };
        if let Err(e) = mark(inbox, &ids, now).await {
            tracing::warn!(error = %e, "could not mark applied inbox rows");
        }
    }
}

async fn mark(inbox: &sqlx::SqlitePool, ids: &[i64], now: Millis) -> Result<()> {
    for chunk in ids.chunks(MARK_CHUNK) {
        crate::inbox::mark_processed(chunk, now)
            .build()
            .persistent(false)
            .execute(inbox)
            .await?;
    }
    Ok(())
}

/// Writes the marks sent to it, gathered over [`MARK_EVERY`], or longer while webhook requests
/// keep the writer busy: a handful of statements a second on the inbox's writer instead of one
/// per batch.
async fn mark_in_background(
    inbox: sqlx::SqlitePool,
    meter: Arc<IngestMeter>,
    mut rx: mpsc::UnboundedReceiver<Marks>,
) {
    while let Some((mut ids, mut now)) = rx.recv().await {
        let start = tokio::time::Instant::now();
        tokio::time::sleep(MARK_EVERY).await;
        loop {
            let waited = start.elapsed();
            let at = now + i64::try_from(waited.as_millis()).unwrap_or(i64::MAX);
            if waited >= MARK_MOST || meter.load(at) == IngestLoad::Quiet {
                break;
            }
            tokio::time::sleep(MARK_EVERY).await;
        }
        while let Ok((more, at)) = rx.try_recv() {
            ids.extend(more);
            now = now.max(at);
        }
        let span = tracing::debug_span!("inbox.mark", rows = ids.len());
        let marked = tracing::Instrument::instrument(mark(&inbox, &ids, now), span).await;
        if let Err(e) = marked {
            tracing::warn!(error = %e, "could not mark applied inbox rows");
        }
    }
}
