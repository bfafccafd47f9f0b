//! Retention: rows the desk needs only for a while. A stored webhook event is needed until it
//! is applied, and for as long as LINE might redeliver it (its dedupe key drops the copy); a
//! chatbot turn, until it is answered. Both grow by a row per message, so old ones are
//! deleted, a chunk at a time, so that no delete holds a writer for long.
//!
//! Each round first reads where "old" ends ([`Store::retention_cut`]: ids, found once on the
//! read pool), then deletes below those ids by primary key: a chunk never scans the rows it
//! keeps, however large the tables have grown.

use desk_core::Millis;

use crate::{BackendKind, Result, Store, execute_in, on_inbox, on_read, on_write};

/// Where a retention round stops: rows with ids below these may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionCut {
    /// The first inbox event received at or after the cutoff, or the first a pending chatbot
    /// turn still reads (its raw JSON stays in the inbox), whichever is lower.
    pub inbox_below: i64,
    /// The first chatbot turn created at or after the cutoff.
    pub bot_turns_below: i64,
}

impl Store {
    /// Where old ends for rows older than `before` (ms).
    pub async fn retention_cut(&self, before: Millis) -> Result<RetentionCut> {
        let (recent_event, read_by_turn, recent_turn): (i64, Option<i64>, i64) =
            on_read!(self.backend(), |pool| {
                // MIN(id) with a filter walks the primary key up to the first match: old rows
                // only, which this round deletes.
                sqlx::query_as(
                    "SELECT
                       COALESCE((SELECT MIN(id) FROM webhook_inbox WHERE received_ms >= $1),
                                (SELECT COALESCE(MAX(id), 0) + 1 FROM webhook_inbox)),
                       (SELECT MIN(inbox_id) FROM bot_turns WHERE status = 'pending'),
                       COALESCE((SELECT MIN(id) FROM bot_turns WHERE created_ms >= $1),
                                (SELECT COALESCE(MAX(id), 0) + 1 FROM bot_turns))",
                )
                .bind(before)
                .fetch_one(pool)
                .await
            })?;
        let inbox_below = read_by_turn.map_or(recent_event, |id| id.min(recent_event));
        let bot_turns_below = recent_turn;
        Ok(RetentionCut {
            inbox_below,
            bot_turns_below,
        })
    }

    /// Deletes up to `limit` chatbot turns below `below` (see [`RetentionCut`]) that are done
    /// or failed; returns how many. Pending turns stay, whatever their age.
    pub async fn prune_bot_turns(&self, below: i64, limit: i64) -> Result<u64> {
        const SQL: &str = "DELETE FROM bot_turns WHERE id IN (
             SELECT id FROM bot_turns WHERE id < $1 AND status <> 'pending' ORDER BY id LIMIT $2)";
        Ok(on_write!(self.backend(), |pool| execute_in!(
            pool, SQL, below, limit
        ))?)
    }

    /// Deletes up to `limit` inbox events below `below` (see [`RetentionCut`]) that were
    /// applied; returns how many. Events not yet applied stay, and so do events set aside
    /// with an error, for someone to look at.
    pub async fn prune_inbox(&self, below: i64, limit: i64) -> Result<u64> {
        let sql = match self.kind() {
            // The inbox is a file of its own, with no bot turns to point into it.
            BackendKind::Sqlite => {
                "DELETE FROM webhook_inbox WHERE id IN (
                     SELECT id FROM webhook_inbox
                     WHERE id < $1 AND processed_ms IS NOT NULL AND last_error IS NULL
                     ORDER BY id LIMIT $2)"
            }
            // A bot turn kept (pending, or newer than the cutoff) still references its event.
            BackendKind::Postgres => {
                "DELETE FROM webhook_inbox WHERE id IN (
                     SELECT id FROM webhook_inbox w
                     WHERE id < $1 AND processed_ms IS NOT NULL AND last_error IS NULL
                     AND NOT EXISTS (SELECT 1 FROM bot_turns b WHERE b.inbox_id = w.id)
                     ORDER BY id LIMIT $2)"
            }
        };
        Ok(on_inbox!(self.backend(), |pool| execute_in!(
            pool, sql, below, limit
        ))?)
    }
}
