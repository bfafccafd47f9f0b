//! linedesk persistence: one [`Store`] over two typed sqlx backends, SQLite (default, one
//! file, one writer) and Postgres (several instances). Not sqlx's `Any` driver: each backend
//! keeps its own pool type, its own migrations and, where it matters, its own SQL.
//!
//! Most statements are the same text on both (`$N` placeholders work on SQLite too); the
//! [`on_write!`] and [`on_read!`] macros expand one body per backend, so that code is written
//! once and type-checked twice.

#[macro_use]
mod lifecycle;
#[macro_use]
mod tx;
// After `tx` (its macros use `append_event!`), before `chat` (which uses its macros).
#[macro_use]
mod media;

mod accounts;
pub mod audit;
mod bot;
// Before `chat`, which queues bot turns with its macro.
#[macro_use]
mod bot_queue;
mod channel_admin;
// After the macros it uses, before `chat`, which applies runs of messages with it.
#[macro_use]
mod inbound;
mod chat;
mod console;
mod contacts;
mod conversations;
mod directory;
mod error;
mod events;
mod handoff;
mod inbox;
pub mod models;
mod notify;
mod outbox;
mod retention;
mod routing;
mod seed;
mod sessions;
pub mod test_db;
mod wizard;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, Postgres};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

pub use accounts::{
    AccountLink, LinkPurpose, LoginCredentials, LoginFailures, NewAccountLink, OperatorAccount,
    OperatorChange, Preferences, ProfileChange,
};
pub use audit::{Actor, AuditRecord, SettingsChange};
pub use bot::{BotFailure, BotSettings, BotTurn, BotTurnOutcome, Remember, SendCounts};
pub use bot_queue::QueuedBotTurn;
pub use channel_admin::{AccountProfile, ClearSecrets};
pub use chat::{Applied, InboundEffect};
pub use chat::{ChannelScope, InboundItem};
pub use console::{
    BrandOperator, CannedInput, CannedResponse, ChatList, ChatListItem, ContactNote, ListCounts,
    ListScope, PastChat,
};
pub use contacts::{MemberName, ProfileUpdate};
pub use error::StoreError;
pub use inbox::{AppendOutcome, IngestLoad};
pub use lifecycle::{ChatRules, DueConversation, Rules};
pub use media::{Media, MediaUsage, StoredObjects};
pub use models::*;
pub use notify::{EVENTS_CHANNEL, EventListener};
pub use outbox::{CHAT_COMPLETED, CONTACT_BLOCKED};
pub use retention::RetentionCut;
pub use routing::{MAX_CAPACITY, MIN_CAPACITY};
pub use sessions::{NewSession, SessionRecord};
pub use wizard::{IssuedToken, WizardRow};

/// Appends `$a, $b, …)`: the rest of an `IN (` list, one bound value per item.
pub(crate) fn push_list<'a, DB, T>(
    q: &mut sqlx::QueryBuilder<DB>,
    items: impl IntoIterator<Item = T>,
) where
    DB: sqlx::Database,
    T: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut list = q.separated(", ");
    for item in items {
        list.push_bind(item);
    }
    q.push(")");
}

/// Appends `(first = $a AND second = $b) OR …`, one term per pair: a look-up of many keys of
/// a two-column unique index in one statement, which both backends answer from the index.
pub(crate) fn push_key_pairs<'a, DB>(
    q: &mut sqlx::QueryBuilder<DB>,
    (first, second): (&str, &str),
    pairs: impl IntoIterator<Item = (uuid::Uuid, &'a str)>,
) where
    DB: sqlx::Database,
    uuid::Uuid: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut or = q.separated(" OR ");
    for (a, b) in pairs {
        or.push(format_args!("({first} = "));
        or.push_bind_unseparated(a);
        or.push_unseparated(format_args!(" AND {second} = "));
        or.push_bind_unseparated(b);
        or.push_unseparated(")");
    }
}

/// Test support: how SQLite plans to run a statement.
#[cfg(test)]
pub(crate) mod query_plan {
    use sqlx::sqlite::{Sqlite, SqliteArguments};

    /// The plan lines of `sql` on a SQLite store, its parameters bound by `bind`.
    pub(crate) async fn plan(
        store: &crate::Store,
        sql: &str,
        bind: impl FnOnce(
            sqlx::query::QueryAs<'_, Sqlite, (i64, i64, i64, String), SqliteArguments>,
        )
            -> sqlx::query::QueryAs<'_, Sqlite, (i64, i64, i64, String), SqliteArguments>,
    ) -> Vec<String> {
        let crate::Backend::Sqlite { read, .. } = store.backend() else {
            panic!("a SQLite store");
        };
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let rows = bind(sqlx::query_as(sqlx::AssertSqlSafe(explain)))
            .fetch_all(read)
            .await
            .expect("explain");
        rows.into_iter().map(|(.., detail)| detail).collect()
    }

    /// A migrated SQLite store in `dir`.
    pub(crate) async fn sqlite_store(dir: &std::path::Path) -> crate::Store {
        let store = crate::Store::connect(&crate::StoreConfig::Sqlite {
            path: dir.join("desk.db"),
        })
        .await
        .expect("open");
        store.migrate().await.expect("migrate");
        store
    }
}

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// One SQLite file (created if missing).
    Sqlite { path: PathBuf },
    /// A Postgres database URL.
    Postgres { url: String, max_connections: u32 },
}

/// The webhook inbox file beside the SQLite database `path`: `linedesk.db` →
/// `linedesk-inbox.db`.
fn inbox_file(path: &std::path::Path) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!("{stem}-inbox.db"))
}

/// `options` with a hook that attaches the inbox file at `path` as schema `inbox` to each new
/// connection: its table names need no prefix, since no other schema has them.
fn attaching_inbox(
    options: SqlitePoolOptions,
    path: &std::path::Path,
) -> Result<SqlitePoolOptions> {
    let path: Arc<str> = path
        .to_str()
        .ok_or_else(|| StoreError::Invalid {
            field: "path",
            message: format!("{} is not UTF-8", path.display()),
        })?
        .into();
    Ok(options.after_connect(move |conn, _| {
        let path = path.clone();
        Box::pin(async move {
            sqlx::query("ATTACH DATABASE $1 AS inbox")
                .bind(&*path)
                .execute(conn)
                .await
                .map(|_| ())
        })
    }))
}

/// Moves the inbox an earlier version kept in the desk's file (set aside by migration 0013)
/// into the inbox file: copied first, dropped after the copy committed, so a crash between
/// the two loses nothing and the next start finishes the move.
async fn move_old_inbox(write: &Pool<Sqlite>) -> Result<()> {
    let old: Option<(String,)> = sqlx::query_as(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name = 'webhook_inbox_0012'",
    )
    .fetch_optional(write)
    .await?;
    if old.is_none() {
        return Ok(());
    }
    let moved = sqlx::query(
        "INSERT OR IGNORE INTO inbox.webhook_inbox (id, channel_id, dedupe_key, chat_key, event_type, \
         event_ms, raw, received_ms, lease_until_ms, processed_ms, attempts, last_error) \
         SELECT id, channel_id, dedupe_key, chat_key, event_type, event_ms, raw, received_ms, \
         lease_until_ms, processed_ms, attempts, last_error FROM main.webhook_inbox_0012",
    )
    .execute(write)
    .await?
    .rows_affected();
    sqlx::query("DROP TABLE main.webhook_inbox_0012")
        .execute(write)
        .await?;
    tracing::info!(moved, "moved the webhook inbox into its own file");
    Ok(())
}

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

pub(crate) enum Backend {
    /// SQLite allows one writer at a time per file: a single-connection write pool serializes
    /// writes without SQLITE_BUSY, and WAL lets the read pool run beside it.
    ///
    /// The webhook inbox is a file of its own (attached as `inbox` to the other connections),
    /// with its own writer: acknowledging LINE never waits for the inbox processor's
    /// transactions, nor they for it. (In one file, every webhook request queued behind the
    /// batch being applied: p99 at 10,000 requests/s was two to four times what the same
    /// requests took with the processor stopped.)
    Sqlite {
        write: Pool<Sqlite>,
        read: Pool<Sqlite>,
        inbox: Pool<Sqlite>,
    },
    Postgres(Pool<Postgres>),
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    inbox_writer: inbox::GroupCommitter,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.kind())
            .finish()
    }
}

/// Runs `$body` with `$pool` bound to the write pool of `$backend` (a `&Backend`).
macro_rules! on_write {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match $backend {
            $crate::Backend::Sqlite { write: $pool, .. } => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the pool that writes the webhook inbox of `$backend`
/// (a `&Backend`): SQLite's inbox file has its own writer.
macro_rules! on_inbox {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match $backend {
            $crate::Backend::Sqlite { inbox: $pool, .. } => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the read pool of `$backend` (a `&Backend`).
macro_rules! on_read {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match $backend {
            $crate::Backend::Sqlite { read: $pool, .. } => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
/// Reads when the earliest queued row of a leased work queue can be claimed, to sleep until
/// then. `$from_where` is `FROM table WHERE <still queued>`. A leased row is due when its lease
/// runs out, not before: otherwise work in progress (here or on another instance) would keep
/// the worker waking in a loop. Reads only queued rows (partial indexes keep them few).
macro_rules! next_due {
    ($store:expr, $from_where:literal) => {{
        let next: Option<(Millis,)> = on_read!($store.backend(), |pool| {
            sqlx::query_as(concat!(
                "SELECT CASE WHEN lease_until_ms > next_attempt_ms THEN lease_until_ms ELSE next_attempt_ms END AS due ",
                $from_where,
                " ORDER BY due LIMIT 1"
            ))
            .fetch_optional(pool)
            .await
        })?;
        Ok(next.map(|(at,)| at))
    }};
}
/// The statement that leases rows of a work queue, for `$store`'s backend: the rows `$select`
/// picks (a `SELECT id …` where `$2` is now and `$3` the limit) get `lease_until_ms = $1` (now
/// plus the lease) and one more attempt. On Postgres they are locked `FOR UPDATE SKIP LOCKED`,
/// so instances claim disjoint rows. It returns `$returning`.
macro_rules! claim_sql {
    ($store:expr, $table:literal, $select:literal, $returning:literal) => {
        $store.per_backend(
            concat!(
                "UPDATE ",
                $table,
                " SET lease_until_ms = $1, attempts = attempts + 1 WHERE id IN (",
                $select,
                ") RETURNING ",
                $returning
            ),
            concat!(
                "UPDATE ",
                $table,
                " SET lease_until_ms = $1, attempts = attempts + 1 WHERE id IN (",
                $select,
                " FOR UPDATE SKIP LOCKED) RETURNING ",
                $returning
            ),
        )
    };
}
/// Runs a [`claim_sql!`] statement on `$exec` (a pool or `&mut *tx`): at most `$limit` rows due
/// at `$now` leased for `$lease_ms`. Evaluates to the rows (a `Result<Vec<_>, sqlx::Error>`).
macro_rules! run_claim {
    ($exec:expr, $sql:expr, $now:expr, $lease_ms:expr, $limit:expr) => {
        sqlx::query_as($sql)
            .bind($now + $lease_ms)
            .bind($now)
            .bind($limit)
            .fetch_all($exec)
            .await
    };
}
/// Leases rows of a work queue (see [`claim_sql!`]) in a statement of its own. Evaluates to
/// the `RETURNING $returning` rows (a `Result<Vec<_>>`).
macro_rules! claim {
    ($store:expr, $table:literal, $select:literal, $returning:literal, $now:expr, $lease_ms:expr, $limit:expr) => {{
        let sql = $crate::claim_sql!($store, $table, $select, $returning);
        on_write!($store.backend(), |pool| $crate::run_claim!(
            pool, sql, $now, $lease_ms, $limit
        ))
    }};
}
/// Runs `UPDATE … SET x = $1 WHERE id = $2`; returns from the calling function with
/// [`StoreError::NotFound`]`($what)` when no row matched.
macro_rules! set_one {
    ($store:expr, $sql:literal, $value:expr, $id:expr, $what:literal) => {{
        let updated = on_write!($store.backend(), |pool| {
            sqlx::query($sql)
                .bind($value)
                .bind($id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        if updated == 0 {
            return Err($crate::StoreError::NotFound($what));
        }
    }};
}
/// Runs one statement on the write pool of `$store` with each `$arg` bound in turn; evaluates
/// to the number of rows it affected (a `Result`).
macro_rules! execute {
    ($store:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        on_write!($store.backend(), |pool| {
            sqlx::query($sql)
                $(.bind($arg))*
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
    };
}
/// Runs one query on the read pool of `$store` with each `$arg` bound in turn; evaluates to
/// the row it found, if any (a `Result`). `<Row>` first names the row type where the caller's
/// use does not.
macro_rules! fetch_optional {
    ($store:expr, <$row:ty>, $sql:expr $(, $arg:expr)* $(,)?) => {
        on_read!($store.backend(), |pool| {
            sqlx::query_as::<_, $row>($sql)
                $(.bind($arg))*
                .fetch_optional(pool)
                .await
        })
    };
    ($store:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        on_read!($store.backend(), |pool| {
            sqlx::query_as($sql)
                $(.bind($arg))*
                .fetch_optional(pool)
                .await
        })
    };
}
/// [`execute!`] on a given executor: `$exec` is a pool (another than the write pool, such as
/// the inbox's) or a transaction (`&mut *tx`).
macro_rules! execute_in {
    ($exec:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        sqlx::query($sql)
            $(.bind($arg))*
            .execute($exec)
            .await
            .map(|r| r.rows_affected())
    };
}
pub(crate) use {
    claim, claim_sql, execute, execute_in, fetch_optional, next_due, on_inbox, on_read, on_write,
    run_claim, set_one,
};

impl Store {
    /// Opens the database. Call [`Store::migrate`] before use.
    pub async fn connect(config: &StoreConfig) -> Result<Self> {
        let backend = match config {
            StoreConfig::Sqlite { path } => {
                let options = SqliteConnectOptions::new()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a commit is on disk before we acknowledge a webhook.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                // No ping before each use: a round trip to the connection's thread per
                // statement is what limits group commit on a busy machine.
                let single = SqlitePoolOptions::new()
                    .max_connections(1)
                    .test_before_acquire(false);
                // First, so the file is there (in WAL mode) when the others attach it.
                let inbox_path = inbox_file(path);
                let inbox = single
                    .clone()
                    .connect_with(options.clone().filename(&inbox_path))
                    .await?;
                let write = attaching_inbox(single, &inbox_path)?
                    .connect_with(options.clone().filename(path))
                    .await?;
                let read = SqlitePoolOptions::new()
                    .max_connections(4)
                    .test_before_acquire(false);
                let read = attaching_inbox(read, &inbox_path)?
                    .connect_with(options.filename(path).read_only(true))
                    .await?;
                Backend::Sqlite { write, read, inbox }
            }
            StoreConfig::Postgres {
                url,
                max_connections,
            } => Backend::Postgres(
                PgPoolOptions::new()
                    .max_connections(*max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?,
            ),
        };
        let writers = match backend {
            Backend::Sqlite { .. } => 1,
            Backend::Postgres(_) => 4,
        };
        let backend = Arc::new(backend);
        let inbox_writer = inbox::GroupCommitter::spawn(backend.clone(), writers);
        Ok(Self {
            backend,
            inbox_writer,
        })
    }

    /// Applies this backend's migrations (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        match &*self.backend {
            Backend::Sqlite { write, inbox, .. } => {
                sqlx::migrate!("./migrations/sqlite").run(write).await?;
                sqlx::migrate!("./migrations/sqlite-inbox")
                    .run(inbox)
                    .await?;
                move_old_inbox(write).await?;
            }
            Backend::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Releases the leases of a previous run. Only for SQLite, where one process owns the
    /// file: a crashed run's leased inbox, outbox, bot turn and media rows are claimable at once instead of
    /// after the lease. (On Postgres other live instances may hold leases; they expire.)
    pub async fn release_stale_leases(&self) -> Result<()> {
        if let Backend::Sqlite { write, inbox, .. } = &*self.backend {
            sqlx::query(
                "UPDATE webhook_inbox SET lease_until_ms = NULL WHERE processed_ms IS NULL AND lease_until_ms IS NOT NULL",
            )
            .execute(inbox)
            .await?;
            sqlx::query("UPDATE outbox SET lease_until_ms = NULL WHERE status = 'pending' AND lease_until_ms IS NOT NULL")
                .execute(write)
                .await?;
            sqlx::query("UPDATE media SET lease_until_ms = NULL WHERE state IN ('pending', 'purge') AND lease_until_ms IS NOT NULL")
                .execute(write)
                .await?;
            sqlx::query("UPDATE bot_turns SET lease_until_ms = NULL WHERE status = 'pending' AND lease_until_ms IS NOT NULL")
                .execute(write)
                .await?;
        }
        Ok(())
    }

    /// Picks the statement written for this backend.
    pub(crate) fn per_backend(&self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self.kind() {
            BackendKind::Sqlite => sqlite,
            BackendKind::Postgres => postgres,
        }
    }

    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        match &*self.backend {
            Backend::Sqlite { .. } => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        on_read!(self.backend(), |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Closes the pools, waiting for in-flight statements.
    pub async fn close(&self) {
        match &*self.backend {
            Backend::Sqlite { write, read, inbox } => {
                write.close().await;
                read.close().await;
                inbox.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}
