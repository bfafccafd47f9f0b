//! Routing in the store: who gets a waiting chat. The rules live in desk-core's pure
//! [`Router`]; here a department's snapshot (members with presence, capacity, load and last
//! assignment; its line of unassigned chats; each waiting contact's last attender) is loaded
//! into one, it decides, and its decisions are saved — all in one transaction. On Postgres
//! the department row is locked first, so two instances route one department one at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use desk_core::lifecycle::Command;
use desk_core::{
    BrandId, ChannelId, ContactId, ConversationId, DepartmentId, Millis, OperatorId, Presence,
    Router, Routing, RoutingMode,
};
use uuid::Uuid;

use crate::{BackendKind, ChatRules, Result, Store, StoreError, on_read, on_write, set_one};

/// Fewest chats an operator may be set to hold at once.
pub const MIN_CAPACITY: u32 = 1;
/// Most chats an operator may be set to hold at once.
pub const MAX_CAPACITY: u32 = 50;

/// A department member as routing needs them.
#[derive(sqlx::FromRow)]
struct MemberRow {
    id: Uuid,
    presence: String,
    capacity: i32,
    last_assigned_ms: Option<Millis>,
}

/// A chat in the department's line, with the rules it runs under.
#[derive(sqlx::FromRow)]
struct QueuedRow {
    id: Uuid,
    contact_id: Uuid,
    opened_ms: Millis,
    offered_to: Option<String>,
    settings: sqlx::types::Json<serde_json::Value>,
    business_hours: Option<sqlx::types::Json<serde_json::Value>>,
}

/// Who a waiting notify-all chat was shown to (`conversations.offered_to`).
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Offered {
    department_id: Option<DepartmentId>,
    operators: BTreeSet<OperatorId>,
}

impl QueuedRow {
    /// Those already shown this chat in `department` (an offer in another department, or an
    /// unreadable record, counts as none: showing it again is harmless).
    fn offered(&self, department: DepartmentId) -> BTreeSet<OperatorId> {
        self.offered_to
            .as_deref()
            .and_then(|json| serde_json::from_str::<Offered>(json).ok())
            .filter(|o| o.department_id == Some(department))
            .map(|o| o.operators)
            .unwrap_or_default()
    }

    fn rules(&self) -> Result<ChatRules> {
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Conflict(format!("stored {what} are invalid: {e}"))
        };
        Ok(ChatRules {
            settings: serde_json::from_value(self.settings.0.clone())
                .map_err(|e| corrupt("channel settings", e))?,
            hours: self
                .business_hours
                .as_ref()
                .map(|h| serde_json::from_value(h.0.clone()))
                .transpose()
                .map_err(|e| corrupt("business hours", e))?,
        })
    }
}

/// A department's members (`$1`) with their routing columns; callers add the order.
macro_rules! members_sql {
    () => {
        "SELECT o.id, o.presence, o.capacity, o.last_assigned_ms FROM department_members m
         JOIN operators o ON o.id = m.operator_id WHERE m.department_id = $1"
    };
}

/// A department's waiting chats (`$1`), unassigned, with their rules; callers add the order.
macro_rules! queued_sql {
    () => {
        "SELECT c.id, c.contact_id, c.opened_ms, c.offered_to, ch.settings, d.business_hours
         FROM conversations c JOIN line_channels ch ON ch.id = c.channel_id
         JOIN departments d ON d.id = ch.department_id
         WHERE c.department_id = $1 AND c.assignee_id IS NULL AND c.state IN ('waiting', 'missed')"
    };
}

/// The live chats the members of department `$1` hold, in any department.
const HELD_SQL: &str = "SELECT c.id, c.contact_id, c.assignee_id FROM conversations c
     JOIN department_members m ON m.operator_id = c.assignee_id
     WHERE m.department_id = $1 AND c.state IN ('waiting', 'missed', 'open')";

/// Whether routing department `$1` could change anything (see [`Store::may_route`]).
const MAY_ROUTE_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM department_members m JOIN operators o ON o.id = m.operator_id
         WHERE m.department_id = $1 AND o.presence = 'online')
     OR EXISTS (SELECT 1 FROM conversations c WHERE c.department_id = $1 AND c.assignee_id IS NULL
         AND c.state IN ('waiting', 'missed') AND c.offered_to IS NOT NULL)";

fn routing_error(e: desk_core::RoutingError) -> StoreError {
    StoreError::Conflict(format!("routing: {e}"))
}

impl Store {
    /// Whether routing a department could change anything: someone in it is online (only they
    /// take or are shown chats), or a waiting chat is still shown as offered (routing would
    /// withdraw it). A read, not a write transaction: a desk whose operators are all away
    /// skips one writer round per new chat. Skipping is safe because whatever makes it true
    /// later (a presence change, an offer) routes the department itself after it commits.
    pub async fn may_route(&self, department: DepartmentId) -> Result<bool> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_scalar(MAY_ROUTE_SQL)
                .bind(department.0)
                .fetch_one(pool)
                .await
        })?)
    }

    /// Routes a department's waiting chats: loads its snapshot into a [`Router`], lets it
    /// decide, assigns chats (lifecycle `Assign`, and the operator's `last_assigned_ms`) and
    /// logs notify-all offers as `conversation.offered` events. Returns what it did; a chat
    /// another writer changed meanwhile is left for the next pass.
    pub async fn route_department(
        &self,
        department: DepartmentId,
        now: Millis,
    ) -> Result<Vec<Routing>> {
        // SQLite has one writer connection, so its transactions never interleave; Postgres
        // needs the row lock.
        let lock_sql = match self.kind() {
            BackendKind::Postgres => {
                "SELECT brand_id, routing_mode FROM departments WHERE id = $1 FOR UPDATE"
            }
            BackendKind::Sqlite => "SELECT brand_id, routing_mode FROM departments WHERE id = $1",
        };
        // Members are locked (Postgres) too, in id order: capacity is per operator, so two
        // departments sharing an operator must not both fill their last slot at once.
        let members_sql = match self.kind() {
            BackendKind::Postgres => concat!(members_sql!(), " ORDER BY o.id FOR UPDATE OF o"),
            BackendKind::Sqlite => concat!(members_sql!(), " ORDER BY o.id"),
        };
        // The waiting chats are locked (Postgres) in id order up front, the order the timer
        // worker locks conversations in, so routing and a timer batch cannot deadlock.
        let queued_sql = match self.kind() {
            BackendKind::Postgres => concat!(queued_sql!(), " ORDER BY c.id FOR UPDATE OF c"),
            BackendKind::Sqlite => concat!(queued_sql!(), " ORDER BY c.id"),
        };
        let capacity = self.per_backend(
            crate::lifecycle::CAPACITY_SQLITE,
            crate::lifecycle::CAPACITY_POSTGRES,
        );
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let dept: Option<(Uuid, String)> = sqlx::query_as(lock_sql)
                .bind(department.0)
                .fetch_optional(&mut *tx)
                .await?;
            let (brand, mode) = dept.ok_or(StoreError::NotFound("department"))?;
            let brand = BrandId(brand);
            let mode: RoutingMode = mode.parse().map_err(|e: desk_core::UnknownVariant| {
                StoreError::Conflict(format!(
                    "stored department {department} is inconsistent: {e}"
                ))
            })?;

            let members: Vec<MemberRow> = sqlx::query_as(members_sql)
                .bind(department.0)
                .fetch_all(&mut *tx)
                .await?;
            // Every live chat the members hold, in any department: capacity is per operator.
            let held: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(HELD_SQL)
                .bind(department.0)
                .fetch_all(&mut *tx)
                .await?;
            let mut queued: Vec<QueuedRow> = sqlx::query_as(queued_sql)
                .bind(department.0)
                .fetch_all(&mut *tx)
                .await?;
            // The line is in arrival order (the rows came in id order, for locking).
            queued.sort_by_key(|q| (q.opened_ms, q.id));

            let mut router = Router::new();
            let mut member_ids = Vec::with_capacity(members.len());
            for m in &members {
                let presence = Presence::try_from(m.presence.clone()).map_err(|e| {
                    StoreError::Conflict(format!("stored operator {} is inconsistent: {e}", m.id))
                })?;
                // Only 1..=50 is ever stored through the API; a hand-edited value outside
                // that is read as 1 rather than failing the whole department's routing.
                let capacity = u32::try_from(m.capacity).unwrap_or(0).max(MIN_CAPACITY);
                let id = OperatorId(m.id);
                router.add_operator(id, presence, capacity, m.last_assigned_ms, now);
                member_ids.push(id);
            }
            router
                .set_department(department, mode, member_ids, now)
                .map_err(routing_error)?;
            // Held chats count against their operators. The router only needs them as load,
            // so they are filed under this department whatever their own.
            for (chat, contact, operator) in held {
                router
                    .restore(
                        ConversationId(chat),
                        ContactId(contact),
                        department,
                        Some(OperatorId(operator)),
                    )
                    .map_err(routing_error)?;
            }
            let mut rules = HashMap::new();
            for q in &queued {
                // The operator who served this contact's most recent earlier chat (that an
                // operator served). Only last-attender-first asks, so only it pays the query.
                if mode == RoutingMode::LastAttenderFirst {
                    let attender: Option<(Uuid,)> = sqlx::query_as(
                        "SELECT assignee_id FROM conversations WHERE contact_id = $1 AND opened_ms < $2
                         AND assignee_id IS NOT NULL ORDER BY opened_ms DESC, id DESC LIMIT 1",
                    )
                    .bind(q.contact_id)
                    .bind(q.opened_ms)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((operator,)) = attender {
                        router.remember_attender(ContactId(q.contact_id), OperatorId(operator));
                    }
                }
                router
                    .restore(
                        ConversationId(q.id),
                        ContactId(q.contact_id),
                        department,
                        None,
                    )
                    .map_err(routing_error)?;
                rules.insert(q.id, q.rules()?);
            }

            // A fresh router has shown nobody anything, so it offers each waiting notify-all
            // chat to everyone available now; what is new to them is that minus what was
            // stored, and what is stored becomes exactly that set (those who left are
            // forgotten and told again on return, as the router does in memory).
            let mut showing: BTreeMap<ConversationId, Vec<OperatorId>> = BTreeMap::new();
            let mut decisions = Vec::new();
            for decision in router.settle(now) {
                match decision {
                    Routing::Offered { chat, operators } => {
                        showing.insert(chat, operators);
                    }
                    assigned => decisions.push(assigned),
                }
            }
            for q in &queued {
                let chat = ConversationId(q.id);
                if router.assignee(chat).is_some() {
                    continue;
                }
                let before = q.offered(department);
                let now_shown: BTreeSet<OperatorId> = showing
                    .remove(&chat)
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                let fresh: Vec<OperatorId> = now_shown.difference(&before).copied().collect();
                if !fresh.is_empty() {
                    decisions.push(Routing::Offered {
                        chat,
                        operators: fresh,
                    });
                }
                if now_shown != before || (now_shown.is_empty() && q.offered_to.is_some()) {
                    let stored = (!now_shown.is_empty())
                        .then(|| {
                            serde_json::to_string(&Offered {
                                department_id: Some(department),
                                operators: now_shown,
                            })
                        })
                        .transpose()
                        .map_err(|e| StoreError::Conflict(e.to_string()))?;
                    sqlx::query("UPDATE conversations SET offered_to = $1 WHERE id = $2")
                        .bind(stored)
                        .bind(q.id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let mut done = Vec::with_capacity(decisions.len());
            for decision in decisions {
                match &decision {
                    Routing::Assigned { chat, operator } => {
                        let Some(chat_rules) = rules.get(&chat.0) else {
                            continue;
                        };
                        let applied = transition_in_tx!(
                            &mut tx,
                            capacity,
                            *chat,
                            Some(Command::Assign {
                                operator: *operator
                            }),
                            chat_rules,
                            now
                        );
                        match applied {
                            Ok(Some(_)) => {}
                            // Changed by another writer, or the lifecycle refused before
                            // writing anything: the next pass sees the new state.
                            Ok(None) | Err(StoreError::Conflict(_)) => continue,
                            Err(e) => return Err(e),
                        }
                        sqlx::query("UPDATE operators SET last_assigned_ms = $1 WHERE id = $2")
                            .bind(now)
                            .bind(operator.0)
                            .execute(&mut *tx)
                            .await?;
                    }
                    Routing::Offered { chat, operators } => {
                        append_event!(
                            &mut *tx,
                            brand,
                            Some(*chat),
                            "conversation.offered",
                            serde_json::json!({"conversation_id": chat, "operator_ids": operators}),
                            now
                        );
                    }
                }
                done.push(decision);
            }
            tx.commit().await?;
            Ok(done)
        })
    }

    /// Sets whether an operator takes new chats. Route their departments afterwards.
    pub async fn set_presence(&self, operator: OperatorId, presence: Presence) -> Result<()> {
        set_one!(
            self,
            "UPDATE operators SET presence = $1 WHERE id = $2",
            presence.as_str(),
            operator.0,
            "operator"
        );
        Ok(())
    }

    /// Sets how many chats an operator may hold at once (1 to 50). Lowering it below their
    /// load takes nothing away. Route their departments afterwards.
    pub async fn set_capacity(&self, operator: OperatorId, capacity: u32) -> Result<()> {
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
            return Err(StoreError::Invalid {
                field: "capacity",
                message: format!(
                    "capacity must be between {MIN_CAPACITY} and {MAX_CAPACITY} chats, not {capacity}"
                ),
            });
        }
        let capacity = i32::try_from(capacity).map_err(|_| StoreError::Invalid {
            field: "capacity",
            message: "capacity is too large".into(),
        })?;
        set_one!(
            self,
            "UPDATE operators SET capacity = $1 WHERE id = $2",
            capacity,
            operator.0,
            "operator"
        );
        Ok(())
    }

    /// Sets how a department hands out chats. Route it afterwards.
    pub async fn set_routing_mode(
        &self,
        department: DepartmentId,
        mode: RoutingMode,
    ) -> Result<()> {
        set_one!(
            self,
            "UPDATE departments SET routing_mode = $1 WHERE id = $2",
            mode.as_str(),
            department.0,
            "department"
        );
        Ok(())
    }

    /// A department's routing mode.
    pub async fn routing_mode(&self, department: DepartmentId) -> Result<RoutingMode> {
        let row: Option<(String,)> = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT routing_mode FROM departments WHERE id = $1")
                .bind(department.0)
                .fetch_optional(pool)
                .await
        })?;
        let (mode,) = row.ok_or(StoreError::NotFound("department"))?;
        mode.parse().map_err(|e: desk_core::UnknownVariant| {
            StoreError::Conflict(format!(
                "stored department {department} is inconsistent: {e}"
            ))
        })
    }

    /// An operator's presence.
    pub async fn presence(&self, operator: OperatorId) -> Result<Presence> {
        let row: Option<(String,)> = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT presence FROM operators WHERE id = $1")
                .bind(operator.0)
                .fetch_optional(pool)
                .await
        })?;
        let (presence,) = row.ok_or(StoreError::NotFound("operator"))?;
        Presence::try_from(presence).map_err(|e| {
            StoreError::Conflict(format!("stored operator {operator} is inconsistent: {e}"))
        })
    }

    /// The chats an operator has open (answering them), with their channels and
    /// departments, in id order.
    pub async fn open_chats_of(
        &self,
        operator: OperatorId,
    ) -> Result<Vec<(ConversationId, ChannelId, DepartmentId)>> {
        let rows: Vec<(Uuid, Uuid, Uuid)> = on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT id, channel_id, department_id FROM conversations
                 WHERE assignee_id = $1 AND state = 'open' ORDER BY id",
            )
            .bind(operator.0)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(c, ch, d)| (ConversationId(c), ChannelId(ch), DepartmentId(d)))
            .collect())
    }

    /// The departments an operator is a member of, in id order.
    pub async fn departments_of(&self, operator: OperatorId) -> Result<Vec<DepartmentId>> {
        let rows: Vec<(Uuid,)> = on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT department_id FROM department_members WHERE operator_id = $1 ORDER BY department_id",
            )
            .bind(operator.0)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(|(d,)| DepartmentId(d)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Routing reads a department's line and its members' chats through migration 0012's
    /// indexes, not by scanning every chat (it runs after every new chat).
    #[tokio::test]
    async fn routing_reads_use_their_indexes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::query_plan::sqlite_store(dir.path()).await;
        let expected = [
            (queued_sql!(), "conversations_department_line"),
            (HELD_SQL, "conversations_assignee_live"),
            (MAY_ROUTE_SQL, "conversations_department_line"),
        ];
        for (sql, index) in expected {
            let plan = crate::query_plan::plan(&store, sql, |q| q.bind(Uuid::nil())).await;
            assert!(
                plan.iter()
                    .any(|l| l.starts_with(&format!("SEARCH c USING INDEX {index} "))),
                "{index} not used: {plan:#?}"
            );
        }
    }
}
