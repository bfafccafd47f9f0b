//! Lifecycle operations: commands on a conversation, the timer worker's queries, and the
//! rules (channel settings, business hours) conversations run under.

use desk_core::lifecycle::{Command, Transition};
use desk_core::{BusinessHours, ChannelId, ChannelSettings, ConversationId, Millis};

use crate::{ChatRules, DueConversation, Result, Store, StoreError, on_read, on_write, set_one};

impl Store {
    /// Applies `command` to a conversation under `rules` at `now`, atomically with its effects.
    /// A refused command is [`StoreError::Conflict`] with the reason an operator should read.
    pub async fn command(
        &self,
        id: ConversationId,
        command: Command,
        rules: &ChatRules,
        now: Millis,
    ) -> Result<Transition> {
        self.transition(id, Some(command), rules, now).await
    }

    /// Fires the conversation's due deadline, if it still has one at `now` (a message may have
    /// moved it, another instance may have fired it): then nothing changes.
    pub async fn fire_due_timer(
        &self,
        id: ConversationId,
        rules: &ChatRules,
        now: Millis,
    ) -> Result<Transition> {
        self.transition(id, None, rules, now).await
    }

    /// `command`, or (`None`) the conversation's own due timer.
    async fn transition(
        &self,
        id: ConversationId,
        command: Option<Command>,
        rules: &ChatRules,
        now: Millis,
    ) -> Result<Transition> {
        let capacity = self.per_backend(
            crate::lifecycle::CAPACITY_SQLITE,
            crate::lifecycle::CAPACITY_POSTGRES,
        );
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let transition = transition_in_tx!(&mut tx, capacity, id, command, rules, now)?
                .ok_or_else(|| StoreError::Conflict(crate::lifecycle::CHAT_CHANGED.into()))?;
            tx.commit().await?;
            Ok(transition)
        })
    }

    /// Fires the due deadlines of several conversations in one transaction (one commit for
    /// the lot). Conversations are taken in id order, so two instances firing overlapping
    /// batches on Postgres lock rows in the same order and cannot deadlock; a conversation
    /// another instance changed first is skipped. Returns how many changed.
    pub async fn fire_due_timers(
        &self,
        due: &[(ConversationId, crate::Rules)],
        now: Millis,
    ) -> Result<usize> {
        let mut due: Vec<&(ConversationId, crate::Rules)> = due.iter().collect();
        due.sort_by_key(|(id, _)| *id);
        let capacity = self.per_backend(
            crate::lifecycle::CAPACITY_SQLITE,
            crate::lifecycle::CAPACITY_POSTGRES,
        );
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let mut fired = 0;
            for (id, rules) in due {
                if let Some(t) = transition_in_tx!(&mut tx, capacity, *id, None, rules, now)? {
                    fired += usize::from(t.changed);
                }
            }
            tx.commit().await?;
            Ok(fired)
        })
    }

    /// Live conversations whose next deadline is due at `now`, earliest first, with their
    /// channel and department (to look up their rules).
    pub async fn due_conversations(&self, now: Millis, limit: i64) -> Result<Vec<DueConversation>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT id, channel_id, department_id, assignee_id, next_deadline_ms FROM conversations
                 WHERE next_deadline_ms IS NOT NULL AND next_deadline_ms <= $1 ORDER BY next_deadline_ms LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?)
    }

    /// The earliest deadline of any live conversation (the timer worker sleeps until then).
    pub async fn next_deadline(&self) -> Result<Option<Millis>> {
        // ORDER BY … LIMIT 1 is one seek in the partial index on both databases; a MIN()
        // cannot use a partial index in SQLite and would scan every conversation each time.
        let next: Option<(Millis,)> = on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT next_deadline_ms FROM conversations WHERE next_deadline_ms IS NOT NULL
                 ORDER BY next_deadline_ms LIMIT 1",
            )
            .fetch_optional(pool)
            .await
        })?;
        Ok(next.map(|(at,)| at))
    }

    /// A channel's settings and its department's business hours.
    pub async fn chat_rules(&self, channel: ChannelId) -> Result<ChatRules> {
        let row: Option<(
            sqlx::types::Json<serde_json::Value>,
            Option<sqlx::types::Json<serde_json::Value>>,
        )> = on_read!(self.backend(), |pool| {
            sqlx::query_as(
                    "SELECT c.settings, d.business_hours FROM line_channels c JOIN departments d ON d.id = c.department_id
                     WHERE c.id = $1",
                )
                .bind(channel.0)
                .fetch_optional(pool)
                .await
        })?;
        let (settings, hours) = row.ok_or(StoreError::NotFound("channel"))?;
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Conflict(format!("stored {what} are invalid: {e}"))
        };
        Ok(ChatRules {
            settings: serde_json::from_value(settings.0)
                .map_err(|e| corrupt("channel settings", e))?,
            hours: hours
                .map(|h| serde_json::from_value(h.0))
                .transpose()
                .map_err(|e| corrupt("business hours", e))?,
        })
    }

    /// Replaces a channel's settings (validated by the caller: [`ChannelSettings`] only exists valid).
    pub async fn set_channel_settings(
        &self,
        channel: ChannelId,
        settings: &ChannelSettings,
    ) -> Result<()> {
        let value =
            serde_json::to_value(settings).map_err(|e| StoreError::Conflict(e.to_string()))?;
        set_one!(
            self,
            "UPDATE line_channels SET settings = $1 WHERE id = $2 AND removed_ms IS NULL",
            sqlx::types::Json(value),
            channel.0,
            "channel"
        );
        Ok(())
    }

    /// Sets (or clears) a department's business hours.
    pub async fn set_business_hours(
        &self,
        department: desk_core::DepartmentId,
        hours: Option<&BusinessHours>,
    ) -> Result<()> {
        let value = hours
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        set_one!(
            self,
            "UPDATE departments SET business_hours = $1 WHERE id = $2",
            value.map(sqlx::types::Json),
            department.0,
            "department"
        );
        Ok(())
    }
}
