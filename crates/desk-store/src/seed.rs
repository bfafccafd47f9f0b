//! Bulk seeding for benchmarks: many live conversations with known deadlines, written with
//! multi-row inserts in one transaction (a million rows in seconds, not hours).

use desk_core::{BrandId, ChannelId, ContactId, ConversationId, DepartmentId, Millis};
use sqlx::QueryBuilder;

use crate::{Result, Store, on_write};

/// Rows per INSERT (16 parameters a row stays under both backends' limits).
const CHUNK: usize = 1_000;

impl Store {
    /// Inserts `deadlines.len()` missed conversations, the `i`-th closing at `deadlines[i]`,
    /// each with its own contact `Ubench{i}`. For the timer benchmark.
    pub async fn seed_missed_conversations(
        &self,
        brand: BrandId,
        channel: ChannelId,
        department: DepartmentId,
        deadlines: &[Millis],
        now: Millis,
    ) -> Result<()> {
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            for (c, chunk) in deadlines.chunks(CHUNK).enumerate() {
                let ids: Vec<(ContactId, ConversationId, usize, Millis)> = chunk
                    .iter()
                    .enumerate()
                    .map(|(j, &d)| (ContactId::new(), ConversationId::new(), c * CHUNK + j, d))
                    .collect();
                let mut q = QueryBuilder::new(
                    "INSERT INTO contacts (id, channel_id, kind, line_id, friend_status, created_ms, updated_ms) ",
                );
                q.push_values(&ids, |mut row, (contact, _, i, _)| {
                    row.push_bind(contact.0)
                        .push_bind(channel.0)
                        .push_bind("user")
                        .push_bind(format!("Ubench{i}"))
                        .push_bind("friend")
                        .push_bind(now)
                        .push_bind(now);
                });
                q.build().execute(&mut *tx).await?;
                let mut q = QueryBuilder::new(
                    "INSERT INTO conversations (id, brand_id, channel_id, contact_id, department_id, state, opened_ms,
                     last_message_ms, missed_close_at_ms, next_deadline_ms) ",
                );
                q.push_values(&ids, |mut row, (contact, conversation, _, deadline)| {
                    row.push_bind(conversation.0)
                        .push_bind(brand.0)
                        .push_bind(channel.0)
                        .push_bind(contact.0)
                        .push_bind(department.0)
                        .push_bind("missed")
                        .push_bind(now)
                        .push_bind(now)
                        .push_bind(*deadline)
                        .push_bind(*deadline);
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// For closed benchmark conversations: `(i, closed_ms)` of `Ubench{i}`'s chat.
    pub async fn seeded_closes(&self) -> Result<Vec<(usize, Millis)>> {
        let rows: Vec<(String, Millis)> = crate::on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT k.line_id, c.closed_ms FROM conversations c JOIN contacts k ON k.id = c.contact_id
                 WHERE c.state = 'closed' AND k.line_id LIKE 'Ubench%'",
            )
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(line_id, closed)| {
                Some((line_id.strip_prefix("Ubench")?.parse().ok()?, closed))
            })
            .collect())
    }
}
