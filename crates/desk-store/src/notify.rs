//! What the realtime hub needs from the database: reading the events table across brands
//! (one tailer per server instance reads it for every brand at once) and, on Postgres,
//! `NOTIFY`/`LISTEN` so that instances sharing one database wake each other after a commit.
//! Notifications carry no data (only a short sender tag): the events table is the source of
//! truth, a notification only says "read it now".

use sqlx::postgres::PgListener;

use crate::{Backend, Event, Result, Store, on_read};

/// The Postgres notification channel instances use to wake each other's tailers.
pub const EVENTS_CHANNEL: &str = "linedesk_events";

/// A `LISTEN linedesk_events` connection (Postgres only). It holds one pooled connection.
pub struct EventListener(PgListener);

impl std::fmt::Debug for EventListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventListener").finish_non_exhaustive()
    }
}

impl EventListener {
    /// Waits for the next notification and returns its payload. `Ok(None)` means the
    /// connection was lost and has been re-established: notifications sent meanwhile are
    /// gone, so the caller should read the table as if it had been notified.
    pub async fn recv(&mut self) -> Result<Option<String>> {
        Ok(self.0.try_recv().await?.map(|n| n.payload().to_owned()))
    }
}

impl Store {
    /// The highest event id so far (0 when there is none): where a fresh tailer starts.
    pub async fn last_event_id(&self) -> Result<i64> {
        let (id,): (Option<i64>,) = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT MAX(id) FROM events")
                .fetch_one(pool)
                .await
        })?;
        Ok(id.unwrap_or(0))
    }

    /// Events of every brand after `after_id`, oldest first.
    pub async fn events_tail(&self, after_id: i64, limit: i64) -> Result<Vec<Event>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(concat!(
                events_select!(),
                " WHERE e.id > $1 ORDER BY e.id LIMIT $2"
            ))
            .bind(after_id)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?)
    }

    /// The events with these ids that exist (are committed) now, oldest first.
    pub async fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<Event>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(match self.backend() {
            Backend::Sqlite { read, .. } => {
                // SQLite has no array parameters; a JSON array expands through json_each.
                let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
                sqlx::query_as(concat!(
                    events_select!(),
                    " WHERE e.id IN (SELECT value FROM json_each($1)) ORDER BY e.id"
                ))
                .bind(list)
                .fetch_all(read)
                .await?
            }
            Backend::Postgres(pool) => {
                sqlx::query_as(concat!(
                    events_select!(),
                    " WHERE e.id = ANY($1) ORDER BY e.id"
                ))
                .bind(ids)
                .fetch_all(pool)
                .await?
            }
        })
    }

    /// Tells every instance listening on this database that events were committed
    /// (`NOTIFY linedesk_events`). `payload` must stay short (Postgres caps it below 8000
    /// bytes). Does nothing on SQLite, where one process owns the database.
    pub async fn notify_events(&self, payload: &str) -> Result<()> {
        if let Backend::Postgres(pool) = self.backend() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(EVENTS_CHANNEL)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Starts listening for [`Store::notify_events`] from any instance. `None` on SQLite.
    pub async fn listen_events(&self) -> Result<Option<EventListener>> {
        match self.backend() {
            Backend::Sqlite { .. } => Ok(None),
            Backend::Postgres(pool) => {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(EVENTS_CHANNEL).await?;
                Ok(Some(EventListener(listener)))
            }
        }
    }
}
