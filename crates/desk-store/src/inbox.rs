//! The durable webhook inbox. Ingest appends events through a group committer: concurrent
//! webhook requests share one transaction (one fsync), and each request is acknowledged only
//! after that transaction commits. Duplicates (LINE redeliveries) collapse on the
//! `(channel_id, dedupe_key)` unique key.

use std::sync::Arc;

use desk_core::{ChannelId, Millis};
use sqlx::QueryBuilder;
use tokio::sync::{mpsc, oneshot};

use crate::handoff::{Handoff, handed_row};
use crate::{
    Backend, InboxRow, NewInboxEvent, Result, Store, StoreError, claim_sql, execute_in, on_inbox,
    on_read, run_claim,
};

/// Rows per multi-row INSERT: 7 parameters a row stays under SQLite's 32,766 and
/// Postgres's 65,535 bound parameters.
const ROWS_PER_INSERT: usize = 4_000;
/// Events one group commit takes at most before committing.
const MAX_GROUP: usize = ROWS_PER_INSERT;

/// What an append did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Events stored now.
    pub inserted: u64,
    /// Events already in the inbox (redeliveries).
    pub duplicates: u64,
}

struct Job {
    events: Vec<NewInboxEvent>,
    now: Millis,
    done: oneshot::Sender<Result<AppendOutcome, String>>,
}

/// Handle to the writer task(s).
#[derive(Clone)]
pub(crate) struct GroupCommitter {
    jobs: mpsc::Sender<Job>,
    /// How hard requests press on it.
    pub(crate) meter: Arc<IngestMeter>,
    /// Stored events handed to this process's inbox processor, once that is on.
    pub(crate) handoff: Arc<Handoff>,
}

impl GroupCommitter {
    /// Starts `writers` tasks sharing one queue: SQLite wants one, Postgres gains from a few.
    pub(crate) fn spawn(backend: Arc<Backend>, writers: usize) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>(8_192);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let meter = Arc::new(IngestMeter::default());
        let handoff = Arc::new(Handoff::default());
        for _ in 0..writers.max(1) {
            let (backend, rx, meter) = (backend.clone(), rx.clone(), meter.clone());
            let handoff = handoff.clone();
            tokio::spawn(async move {
                loop {
                    let (group, idle) = {
                        let mut rx = rx.lock().await;
                        // Idle is waiting for work with the queue in hand, not waiting for
                        // another writer to hand it over (that one is busy).
                        let waiting = std::time::Instant::now();
                        let Some(first) = rx.recv().await else { return };
                        let idle = waiting.elapsed();
                        let mut size = first.events.len();
                        let mut group = vec![first];
                        while size < MAX_GROUP {
                            match rx.try_recv() {
                                Ok(job) => {
                                    size += job.events.len();
                                    group.push(job);
                                }
                                Err(_) => break,
                            }
                        }
                        (group, idle)
                    };
                    let start = std::time::Instant::now();
                    let stored = commit_group(&backend, &handoff, group).await;
                    meter
                        .stored
                        .fetch_add(stored, std::sync::atomic::Ordering::Relaxed);
                    let committing = start.elapsed().as_micros();
                    let cycle = (committing + idle.as_micros()).max(1);
                    let sample = u64::try_from(committing * 1_000 / cycle).unwrap_or(1_000);
                    let _ = meter.busy_permille.fetch_update(
                        std::sync::atomic::Ordering::Relaxed,
                        std::sync::atomic::Ordering::Relaxed,
                        |old| Some((old * 7 + sample) / 8),
                    );
                }
            });
        }
        Self {
            jobs,
            meter,
            handoff,
        }
    }
}

/// Commits a group; returns how many of its events were new.
async fn commit_group(backend: &Backend, handoff: &Handoff, mut group: Vec<Job>) -> u64 {
    let now = group.iter().map(|j| j.now).max().unwrap_or_default();
    // Moved out of the requests: the events handed over become rows without a copy of their
    // raw JSON.
    let counts: Vec<usize> = group.iter().map(|j| j.events.len()).collect();
    let events: Vec<NewInboxEvent> = group
        .iter_mut()
        .flat_map(|j| std::mem::take(&mut j.events))
        .collect();
    let lease = handoff.lease_for(events.len());
    let span = tracing::debug_span!(
        "inbox.group_commit",
        requests = group.len(),
        events = events.len()
    );
    match tracing::Instrument::instrument(insert_events(backend, &events, now, lease), span).await {
        Ok(ids) => {
            if lease.is_some() {
                handoff.hand_over(
                    events
                        .into_iter()
                        .zip(&ids)
                        .filter_map(|(event, id)| Some(handed_row(event, (*id)?, now))),
                );
            }
            let mut ids = ids.into_iter();
            let mut stored = 0;
            for (job, count) in group.into_iter().zip(counts) {
                let mut outcome = AppendOutcome::default();
                for inserted in ids.by_ref().take(count) {
                    if inserted.is_some() {
                        outcome.inserted += 1;
                    } else {
                        outcome.duplicates += 1;
                    }
                }
                stored += outcome.inserted;
                let _ = job.done.send(Ok(outcome));
            }
            stored
        }
        Err(e) => {
            tracing::error!(error = %e, "inbox group commit failed");
            let message = e.to_string();
            for job in group {
                let _ = job.done.send(Err(message.clone()));
            }
            0
        }
    }
}

/// One multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`, the rows leased until `$lease`
/// (an `Option<Millis>`) with one attempt when they are handed over; evaluates to the
/// `(dedupe_key, channel)` pairs actually inserted, with their ids.
macro_rules! insert_chunk {
    ($exec:expr, $chunk:expr, $now:expr, $lease:expr) => {{
        let mut q = QueryBuilder::new(
            "INSERT INTO webhook_inbox (channel_id, dedupe_key, chat_key, event_type, event_ms, raw, received_ms, lease_until_ms, attempts) ",
        );
        let (lease_until, attempts) = match $lease {
            Some(lease) => (Some($now + lease), 1),
            None => (None, 0),
        };
        q.push_values($chunk.iter(), |mut row, e| {
            row.push_bind(e.channel_id.0)
                .push_bind(&e.dedupe_key)
                .push_bind(&e.chat_key)
                .push_bind(&e.event_type)
                .push_bind(e.event_ms)
                .push_bind(&e.raw)
                .push_bind($now)
                .push_bind(lease_until)
                .push_bind(attempts);
        });
        q.push(" ON CONFLICT (channel_id, event_ms, dedupe_key) DO NOTHING RETURNING dedupe_key, channel_id, id");
        let rows: Vec<(String, uuid::Uuid, i64)> = q.build_query_as().fetch_all($exec).await?;
        rows.into_iter()
            .map(|(key, channel, id)| ((key, channel), id))
            .collect::<std::collections::HashMap<_, _>>()
    }};
}

/// Inserts the group, leased until `now + lease` when given; returns, per event, its id if it
/// was new. A group that fits one multi-row INSERT is written by that single statement in
/// autocommit: it is atomic on its own, and one round trip to the database (one fsync) is
/// what makes group commit fast.
async fn insert_events(
    backend: &Backend,
    events: &[NewInboxEvent],
    now: Millis,
    lease: Option<Millis>,
) -> Result<Vec<Option<i64>>> {
    on_inbox!(backend, |pool| {
        let mut inserted = if events.len() <= ROWS_PER_INSERT {
            insert_chunk!(pool, events, now, lease)
        } else {
            let mut tx = pool.begin().await?;
            let mut inserted = std::collections::HashMap::new();
            for chunk in events.chunks(ROWS_PER_INSERT) {
                inserted.extend(insert_chunk!(&mut *tx, chunk, now, lease));
            }
            tx.commit().await?;
            inserted
        };
        // The same event twice in one group: only its first copy counts as inserted.
        Ok(events
            .iter()
            .map(|e| inserted.remove(&(e.dedupe_key.clone(), e.channel_id.0)))
            .collect())
    })
}

/// `UPDATE webhook_inbox` marking rows `ids` processed at `now` (those not marked already):
/// on Postgres inside the apply's transaction, on SQLite on the inbox's writer after it (see
/// [`Store::mark_applied`]).
pub(crate) fn mark_processed<DB>(ids: &[i64], now: Millis) -> QueryBuilder<DB>
where
    DB: sqlx::Database,
    <DB as sqlx::Database>::Arguments: Default,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q = QueryBuilder::new("UPDATE webhook_inbox SET processed_ms = ");
    q.push_bind(now)
        .push(", last_error = NULL WHERE processed_ms IS NULL AND id IN (");
    crate::push_list(&mut q, ids.iter().copied());
    q
}

/// Measures how hard webhook requests press on the inbox's writer.
#[derive(Debug, Default)]
pub(crate) struct IngestMeter {
    /// When the last append arrived (unix ms).
    last_append_ms: std::sync::atomic::AtomicI64,
    /// Moving average of the share of time the writer spends committing (or waiting for the
    /// database to let it commit), in thousandths: near 0 under ordinary traffic, even in
    /// bursts; near 1,000 when requests wait on it back to back. A count of requests per
    /// commit would misread a burst that one quick commit absorbs as saturation.
    busy_permille: std::sync::atomic::AtomicU64,
    /// Events stored so far (duplicates not counted): how fast they arrive.
    stored: std::sync::atomic::AtomicU64,
}

impl IngestMeter {
    /// See [`Store::ingest_load`].
    pub(crate) fn load(&self, now: Millis) -> IngestLoad {
        use std::sync::atomic::Ordering::Relaxed;
        const RECENT_MS: Millis = 50;
        const BUSY_PERMILLE: u64 = 300;
        const SATURATED_PERMILLE: u64 = 700;
        if now - self.last_append_ms.load(Relaxed) >= RECENT_MS {
            return IngestLoad::Quiet;
        }
        match self.busy_permille.load(Relaxed) {
            busy if busy > SATURATED_PERMILLE => IngestLoad::Saturated,
            busy if busy > BUSY_PERMILLE => IngestLoad::Busy,
            _ => IngestLoad::Quiet,
        }
    }
}

/// How hard webhook requests press on the writer (see [`Store::ingest_load`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IngestLoad {
    /// The writer is mostly idle between commits.
    Quiet,
    /// The writer spends a good part of its time committing.
    Busy,
    /// Requests wait on the writer back to back: it is the bottleneck.
    Saturated,
}

impl Store {
    /// Appends events durably: returns once they are committed (or were already there).
    pub async fn inbox_append(
        &self,
        events: Vec<NewInboxEvent>,
        now: Millis,
    ) -> Result<AppendOutcome> {
        if events.is_empty() {
            return Ok(AppendOutcome::default());
        }
        let (done, result) = oneshot::channel();
        self.inbox_writer
            .meter
            .last_append_ms
            .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
        self.inbox_writer
            .jobs
            .send(Job { events, now, done })
            .await
            .map_err(|_| StoreError::InboxWrite("the inbox writer has stopped".into()))?;
        result
            .await
            .map_err(|_| StoreError::InboxWrite("the inbox writer dropped the batch".into()))?
            .map_err(StoreError::InboxWrite)
    }

    /// How hard webhook requests are pressing on the writer, from the moving average of the
    /// share of time it spends committing them. Background writers (the inbox processor)
    /// give way by it: on SQLite there is one writer, and LINE waits for its answer.
    pub fn ingest_load(&self, now: Millis) -> IngestLoad {
        self.inbox_writer.meter.load(now)
    }

    /// How many new events this process has stored in the inbox since it started.
    pub fn inbox_stored_total(&self) -> u64 {
        self.inbox_writer
            .meter
            .stored
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Leases up to `limit` unprocessed events for `lease_ms`, oldest first. A crashed
    /// processor's lease runs out and the events are claimed again.
    pub async fn inbox_claim(
        &self,
        now: Millis,
        lease_ms: Millis,
        limit: i64,
    ) -> Result<Vec<InboxRow>> {
        let sql = claim_sql!(
            self,
            "webhook_inbox",
            "SELECT id FROM webhook_inbox WHERE processed_ms IS NULL \
             AND (lease_until_ms IS NULL OR lease_until_ms < $2) ORDER BY id LIMIT $3",
            "id, channel_id, dedupe_key, chat_key, event_type, event_ms, raw, received_ms, attempts"
        );
        let mut rows: Vec<InboxRow> = on_inbox!(self.backend(), |pool| run_claim!(
            pool, sql, now, lease_ms, limit
        ))?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// Records a failed attempt: the event is retried after `retry_at`, or given up (kept,
    /// with the error) when `give_up`.
    pub async fn inbox_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Millis,
        give_up: bool,
        now: Millis,
    ) -> Result<()> {
        on_inbox!(self.backend(), |pool| execute_in!(
            pool,
            "UPDATE webhook_inbox SET last_error = $1, lease_until_ms = $2,
             processed_ms = CASE WHEN $3 THEN $4 ELSE NULL END WHERE id = $5",
            error,
            retry_at,
            give_up,
            now,
            id
        ))?;
        Ok(())
    }

    /// SQLite: forgets up to `limit` rows of `inbox_applied` that are no longer needed, and
    /// returns how many. A row guards an event applied but perhaps not yet marked; every
    /// inbox row below the lowest unprocessed one is marked (in a committed transaction of
    /// the inbox's writer), so its guard can go. Postgres keeps no such rows: 0.
    pub async fn forget_marked_applied(&self, limit: i64) -> Result<u64> {
        let Backend::Sqlite { write, .. } = self.backend() else {
            return Ok(0);
        };
        Ok(execute_in!(
            write,
            "DELETE FROM inbox_applied WHERE inbox_id IN (
                 SELECT inbox_id FROM inbox_applied WHERE inbox_id < (
                     SELECT COALESCE(MIN(id), (SELECT COALESCE(MAX(id), 0) + 1 FROM webhook_inbox))
                     FROM webhook_inbox WHERE processed_ms IS NULL)
                 ORDER BY inbox_id LIMIT $1)",
            limit
        )?)
    }

    /// Events in the inbox: (all, not yet processed).
    pub async fn inbox_counts(&self) -> Result<(i64, i64)> {
        let row: (i64, i64) = on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN processed_ms IS NULL THEN 1 ELSE 0 END), 0) FROM webhook_inbox",
            )
            .fetch_one(pool)
            .await
        })?;
        Ok(row)
    }

    /// Events of a channel since `since` (LINE's event time), and the time of the last one.
    /// Read from the inbox (its unique index leads with these columns) rather than counted
    /// at ingest, which would add a write to every webhook request.
    pub async fn channel_activity(
        &self,
        channel: ChannelId,
        since: Millis,
    ) -> Result<(i64, Option<Millis>)> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT COUNT(*), MAX(event_ms) FROM webhook_inbox WHERE channel_id = $1 AND event_ms >= $2",
            )
            .bind(channel.0)
            .bind(since)
            .fetch_one(pool)
            .await
        })?)
    }

    /// The event types stored for a channel, one per stored event, oldest first.
    pub async fn inbox_event_types(&self, channel: ChannelId) -> Result<Vec<String>> {
        let types: Vec<(String,)> = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT event_type FROM webhook_inbox WHERE channel_id = $1 ORDER BY id")
                .bind(channel.0)
                .fetch_all(pool)
                .await
        })?;
        Ok(types.into_iter().map(|(t,)| t).collect())
    }

    /// The dedupe keys stored for a channel (for tests and the crash check).
    pub async fn inbox_keys(&self, channel: ChannelId) -> Result<Vec<String>> {
        let keys: Vec<(String,)> = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT dedupe_key FROM webhook_inbox WHERE channel_id = $1 ORDER BY id")
                .bind(channel.0)
                .fetch_all(pool)
                .await
        })?;
        Ok(keys.into_iter().map(|(k,)| k).collect())
    }
}

#[cfg(test)]
mod tests {
    use desk_core::{BrandId, DepartmentId};
    use uuid::Uuid;

    use super::*;
    use crate::{Applied, ChannelScope, InboundEffect, InboundItem, InboxRow, StoreConfig};

    fn event(channel: ChannelId, key: &str) -> NewInboxEvent {
        NewInboxEvent {
            channel_id: channel,
            dedupe_key: key.into(),
            chat_key: None,
            event_type: "message".into(),
            event_ms: 1,
            raw: "{}".into(),
        }
    }

    /// On SQLite an event is applied in the desk's file and marked in the inbox file, two
    /// commits: after a crash between them the event is claimed again, and must only be
    /// marked, not applied twice.
    #[tokio::test]
    async fn an_event_applied_but_not_marked_is_only_marked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::query_plan::sqlite_store(dir.path()).await;
        // No such channel: applying the event for real would fail its foreign keys.
        let channel = ChannelId(Uuid::new_v4());
        store
            .inbox_append(vec![event(channel, "e1")], 1)
            .await
            .expect("append");
        let rows = store.inbox_claim(2, 1_000, 10).await.expect("claim");
        let Backend::Sqlite { write, .. } = store.backend() else {
            panic!("a SQLite store")
        };
        // What the apply's commit left in the desk's file before the crash.
        sqlx::query("INSERT INTO inbox_applied (inbox_id, applied_ms) VALUES ($1, 2)")
            .bind(rows[0].id)
            .execute(write)
            .await
            .expect("applied");
        let item = InboundItem {
            inbox_id: rows[0].id,
            scope: ChannelScope {
                channel_id: channel,
                brand_id: BrandId(Uuid::new_v4()),
                department_id: DepartmentId(Uuid::new_v4()),
            },
            rules: Default::default(),
            event_ms: 1,
            effect: InboundEffect::FriendStatus {
                contact: crate::ContactRef {
                    kind: desk_core::ContactKind::User,
                    line_id: "U1".into(),
                },
                status: desk_core::FriendStatus::Friend,
                unblocked: false,
            },
        };
        let applied = store
            .apply_inbound_batch(vec![item], 3)
            .await
            .expect("apply");
        assert_eq!(applied, vec![Applied::default()], "not applied again");
        assert_eq!(
            store.inbox_counts().await.expect("counts"),
            (1, 0),
            "marked"
        );
    }

    /// The guard of an event is forgotten once every event before it is marked too.
    #[tokio::test]
    async fn guards_of_marked_events_are_forgotten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::query_plan::sqlite_store(dir.path()).await;
        let channel = ChannelId(Uuid::new_v4());
        let mut second = event(channel, "e2");
        second.event_ms = 2;
        store
            .inbox_append(vec![event(channel, "e1"), second], 1)
            .await
            .expect("append");
        let rows = store.inbox_claim(2, 1_000, 10).await.expect("claim");
        let item = |row: &InboxRow| InboundItem {
            inbox_id: row.id,
            scope: ChannelScope {
                channel_id: channel,
                brand_id: BrandId(Uuid::new_v4()),
                department_id: DepartmentId(Uuid::new_v4()),
            },
            rules: Default::default(),
            event_ms: row.event_ms,
            effect: InboundEffect::Nothing,
        };
        let Backend::Sqlite { write, .. } = store.backend() else {
            panic!("a SQLite store")
        };
        let guards = || async {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM inbox_applied")
                .fetch_one(write)
                .await
                .expect("count");
            n
        };
        // The later event is applied and marked; the earlier one still waits.
        store
            .apply_inbound_batch(vec![item(&rows[1])], 3)
            .await
            .expect("apply");
        assert_eq!(store.forget_marked_applied(100).await.expect("forget"), 0);
        assert_eq!(guards().await, 1, "an earlier event is not marked yet");
        store
            .apply_inbound_batch(vec![item(&rows[0])], 4)
            .await
            .expect("apply");
        assert_eq!(store.forget_marked_applied(1).await.expect("forget"), 1);
        assert_eq!(store.forget_marked_applied(100).await.expect("forget"), 1);
        assert_eq!(guards().await, 0);
    }

    /// A desk file from before the inbox had a file of its own: its waiting events move there
    /// on start, and the old table goes.
    #[tokio::test]
    async fn an_inbox_kept_in_the_desk_file_moves_to_its_own() {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("desk.db");
        // The migrations up to 0012, as a version before this one ran them.
        let old = dir.path().join("old-migrations");
        std::fs::create_dir(&old).expect("dir");
        let all = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        for entry in std::fs::read_dir(all).expect("migrations") {
            let name = entry.expect("entry").file_name();
            if name.to_string_lossy().as_ref() < "0013" {
                std::fs::copy(std::path::Path::new(all).join(&name), old.join(&name))
                    .expect("copy");
            }
        }
        let pool = SqlitePool::connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .foreign_keys(false),
        )
        .await
        .expect("open");
        sqlx::migrate::Migrator::new(old.as_path())
            .await
            .expect("old migrations")
            .run(&pool)
            .await
            .expect("migrate to 0012");
        let channel = ChannelId(Uuid::new_v4());
        sqlx::query(
            "INSERT INTO webhook_inbox (channel_id, dedupe_key, event_type, event_ms, raw, received_ms) \
             VALUES ($1, 'waiting', 'message', 1, '{}', 1), ($1, 'done', 'message', 2, '{}', 2)",
        )
        .bind(channel.0)
        .execute(&pool)
        .await
        .expect("old events");
        sqlx::query("UPDATE webhook_inbox SET processed_ms = 3 WHERE dedupe_key = 'done'")
            .execute(&pool)
            .await
            .expect("processed");
        pool.close().await;

        let store = Store::connect(&StoreConfig::Sqlite { path })
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        assert_eq!(
            store.inbox_keys(channel).await.expect("keys"),
            ["waiting", "done"]
        );
        assert_eq!(store.inbox_counts().await.expect("counts"), (2, 1));
        let rows = store.inbox_claim(4, 1_000, 10).await.expect("claim");
        assert_eq!(rows.len(), 1, "the waiting event is still to apply");
        let Backend::Sqlite { read, .. } = store.backend() else {
            panic!("a SQLite store")
        };
        let (left,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM main.sqlite_master WHERE name = 'webhook_inbox_0012'",
        )
        .fetch_one(read)
        .await
        .expect("schema");
        assert_eq!(left, 0, "the old table is dropped once moved");
        // A second start has nothing left to move.
        store.migrate().await.expect("migrate again");
        assert_eq!(store.inbox_counts().await.expect("counts"), (2, 1));
    }
}
