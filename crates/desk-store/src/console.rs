//! What the operator console reads and keeps beyond the chat itself: the chat lists with
//! unread counts, a chat's timeline, canned responses, notes on contacts, read markers, and
//! the per-chat LINE courtesy calls (loading animation, mark-as-read) that must happen at
//! most so often across all instances.

use desk_core::{BrandId, ContactId, ConversationId, DepartmentId, MessageId, Millis, OperatorId};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::{
    Conversation, Event, Operator, Result, Store, StoreError, execute, fetch_optional, on_read,
    on_write,
};

/// One of the console's chat lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatList {
    /// Live chats the operator holds.
    Mine,
    /// Chats in a department's line, not yet picked up.
    Waiting,
    /// Chats nobody picked up in time (still answerable until they auto-close).
    Missed,
    /// Every live chat of the brand.
    Open,
    /// Closed chats, newest first.
    Completed,
}

impl ChatList {
    /// Every list, in the order the console shows them.
    pub const ALL: [ChatList; 5] = [
        ChatList::Mine,
        ChatList::Waiting,
        ChatList::Missed,
        ChatList::Open,
        ChatList::Completed,
    ];

    /// The name in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatList::Mine => "mine",
            ChatList::Waiting => "waiting",
            ChatList::Missed => "missed",
            ChatList::Open => "open",
            ChatList::Completed => "completed",
        }
    }
}

impl std::str::FromStr for ChatList {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        ChatList::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| StoreError::Invalid {
                field: "list",
                message: format!(
                    "`{s}` is not a chat list (mine, waiting, missed, open, completed)"
                ),
            })
    }
}

/// Whose chats a list shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListScope {
    pub brand: BrandId,
    /// The operator looking: "mine" and unread counts are theirs.
    pub operator: OperatorId,
    /// Only chats of the operator's departments (role `operator`).
    pub own_departments_only: bool,
}

/// A row of a chat list: the conversation, its unread count for the operator, and its last
/// message for the preview.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ChatListItem {
    #[sqlx(flatten)]
    pub conversation: Conversation,
    /// Inbound messages newer than the operator's read marker.
    pub unread: i64,
    pub last_kind: Option<String>,
    pub last_direction: Option<String>,
    pub last_body: Option<Json<Value>>,
    /// The last message is the chatbot's, so the preview names the bot, not "you".
    pub last_sender_bot: Option<bool>,
}

/// How many chats each list holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, sqlx::FromRow)]
pub struct ListCounts {
    pub mine: i64,
    pub waiting: i64,
    pub missed: i64,
    pub open: i64,
    /// Live chats with unread messages for the operator.
    pub unread_chats: i64,
}

impl ListCounts {
    /// The count shown beside a list (completed chats are not counted).
    pub fn of(&self, list: ChatList) -> Option<i64> {
        match list {
            ChatList::Mine => Some(self.mine),
            ChatList::Waiting => Some(self.waiting),
            ChatList::Missed => Some(self.missed),
            ChatList::Open => Some(self.open),
            ChatList::Completed => None,
        }
    }
}

/// An earlier (or the current) chat of a contact.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PastChat {
    #[sqlx(try_from = "Uuid")]
    pub id: ConversationId,
    pub state: String,
    pub close_reason: Option<String>,
    pub opened_ms: Millis,
    pub closed_ms: Option<Millis>,
}

/// An operator's note on a contact.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ContactNote {
    pub id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub contact_id: ContactId,
    pub author_id: Option<Uuid>,
    pub author_name: Option<String>,
    pub body: String,
    pub created_ms: Millis,
}

/// A canned response: text an operator inserts into the composer.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CannedResponse {
    pub id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub brand_id: BrandId,
    /// `None`: for every department of the brand.
    pub department_id: Option<Uuid>,
    pub title: String,
    pub body: String,
    pub created_ms: Millis,
    pub updated_ms: Millis,
}

/// A canned response to create or replace.
#[derive(Debug, Clone, PartialEq)]
pub struct CannedInput {
    pub department_id: Option<DepartmentId>,
    pub title: String,
    pub body: String,
}

/// An operator of a brand with their presence, for transfer pickers and admin pages.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct BrandOperator {
    #[sqlx(flatten)]
    pub operator: Operator,
    pub presence: String,
}

/// [`ListCounts`] of the live chats (binds: brand, operator, operator whose departments only
/// or NULL). Reads only live chats (migration 0010's partial index), never the closed history.
const LIST_COUNTS_SQL: &str = "SELECT
   COALESCE(SUM(CASE WHEN c.assignee_id = $2 THEN 1 ELSE 0 END), 0) AS mine,
   COALESCE(SUM(CASE WHEN c.state = 'waiting' THEN 1 ELSE 0 END), 0) AS waiting,
   COALESCE(SUM(CASE WHEN c.state = 'missed' THEN 1 ELSE 0 END), 0) AS missed,
   COUNT(*) AS open,
   COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id
     AND m.direction = 'in' AND m.event_ms > COALESCE(r.read_ms, 0)) THEN 1 ELSE 0 END), 0) AS unread_chats
 FROM conversations c
 LEFT JOIN read_markers r ON r.conversation_id = c.id AND r.operator_id = $2
 WHERE c.brand_id = $1 AND c.state <> 'closed' AND ($3 IS NULL OR c.department_id IN
   (SELECT department_id FROM department_members WHERE operator_id = $3))";

/// A conversation with its contact and the list columns; `$where` filters, `$order` sorts.
macro_rules! chat_list_sql {
    ($where:literal, $order:literal) => {
        concat!(
            "SELECT c.id, c.brand_id, c.channel_id, c.contact_id, c.department_id, c.assignee_id, ",
            "c.previous_id, c.state, c.close_reason, c.opened_ms, c.closed_ms, c.last_message_ms, ",
            "k.line_id AS contact_line_id, k.kind AS contact_kind, k.display_name AS contact_name, ",
            "k.picture_url AS contact_picture_url, k.friend_status, ",
            "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'in' ",
            " AND m.event_ms > COALESCE(r.read_ms, 0)) AS unread, ",
            "l.kind AS last_kind, l.direction AS last_direction, l.body AS last_body, l.sender_bot AS last_sender_bot ",
            "FROM conversations c JOIN contacts k ON k.id = c.contact_id ",
            "LEFT JOIN read_markers r ON r.conversation_id = c.id AND r.operator_id = $2 ",
            "LEFT JOIN messages l ON l.id = (SELECT m.id FROM messages m WHERE m.conversation_id = c.id ",
            " ORDER BY m.event_ms DESC, m.created_ms DESC LIMIT 1) ",
            "WHERE c.brand_id = $1 AND ($3 IS NULL OR c.department_id IN ",
            " (SELECT department_id FROM department_members WHERE operator_id = $3)) AND ",
            $where,
            " ORDER BY ",
            $order,
            " LIMIT $4"
        )
    };
}

impl ChatList {
    /// The list's query (binds: brand, operator, operator whose departments only or NULL,
    /// limit). Migration 0010 indexes each list's filter and order.
    fn sql(self) -> &'static str {
        match self {
            ChatList::Mine => chat_list_sql!(
                "c.state <> 'closed' AND c.assignee_id = $2",
                "c.last_message_ms DESC, c.id"
            ),
            ChatList::Waiting => {
                chat_list_sql!("c.state = 'waiting'", "c.opened_ms, c.id")
            }
            ChatList::Missed => {
                chat_list_sql!("c.state = 'missed'", "c.opened_ms, c.id")
            }
            ChatList::Open => chat_list_sql!("c.state <> 'closed'", "c.last_message_ms DESC, c.id"),
            ChatList::Completed => {
                chat_list_sql!("c.state = 'closed'", "c.closed_ms DESC, c.id")
            }
        }
    }
}

/// The columns of [`CannedResponse`] from `canned_responses`, then `$rest`.
macro_rules! canned_sql {
    ($rest:literal) => {
        concat!(
            "SELECT id, brand_id, department_id, title, body, created_ms, updated_ms ",
            "FROM canned_responses ",
            $rest
        )
    };
}

impl Store {
    /// One chat list, most recent first (completed: most recently closed first).
    pub async fn chat_list(
        &self,
        scope: ListScope,
        list: ChatList,
        limit: i64,
    ) -> Result<Vec<ChatListItem>> {
        let departments_of = scope.own_departments_only.then_some(scope.operator.0);
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(list.sql())
                .bind(scope.brand.0)
                .bind(scope.operator.0)
                .bind(departments_of)
                .bind(limit.clamp(1, 500))
                .fetch_all(pool)
                .await
        })?)
    }

    /// How many live chats each list holds for the operator.
    pub async fn chat_list_counts(&self, scope: ListScope) -> Result<ListCounts> {
        let departments_of = scope.own_departments_only.then_some(scope.operator.0);
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(LIST_COUNTS_SQL)
                .bind(scope.brand.0)
                .bind(scope.operator.0)
                .bind(departments_of)
                .fetch_one(pool)
                .await
        })?)
    }

    /// Marks the conversation's inbound messages read for the operator, up to the newest one.
    pub async fn mark_read(
        &self,
        operator: OperatorId,
        conversation: ConversationId,
    ) -> Result<()> {
        execute!(
            self,
            "INSERT INTO read_markers (operator_id, conversation_id, read_ms)
             SELECT $1, $2, MAX(event_ms) FROM messages WHERE conversation_id = $2 AND direction = 'in'
             HAVING MAX(event_ms) IS NOT NULL
             ON CONFLICT (operator_id, conversation_id) DO UPDATE SET read_ms = excluded.read_ms
             WHERE read_markers.read_ms < excluded.read_ms",
            operator.0,
            conversation.0,
        )?;
        Ok(())
    }

    /// The newest event id of a brand's realtime log (0 if none): a page rendered now asks
    /// its stream for what comes after it, so nothing between render and connect is lost.
    pub async fn latest_event_id(&self, brand: BrandId) -> Result<i64> {
        let (id,): (Option<i64>,) = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT MAX(id) FROM events WHERE brand_id = $1")
                .bind(brand.0)
                .fetch_one(pool)
                .await
        })?;
        Ok(id.unwrap_or(0))
    }

    /// A department's business hours as stored (JSON), if set.
    pub async fn department_hours(&self, department: DepartmentId) -> Result<Option<Value>> {
        let row: Option<(Option<String>,)> = fetch_optional!(
            self,
            "SELECT CAST(business_hours AS TEXT) FROM departments WHERE id = $1",
            department.0,
        )?;
        let (hours,) = row.ok_or(StoreError::NotFound("department"))?;
        Ok(hours.and_then(|h| serde_json::from_str(&h).ok()))
    }

    /// The chat's timeline entries (assigned, transferred, follow, postback, …), oldest first.
    pub async fn timeline(&self, conversation: ConversationId) -> Result<Vec<Event>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(concat!(
                events_select!(),
                " WHERE e.conversation_id = $1 AND e.kind = 'timeline' ORDER BY e.id LIMIT 1000"
            ))
            .bind(conversation.0)
            .fetch_all(pool)
            .await
        })?)
    }

    /// A contact's chats, newest first.
    pub async fn contact_chats(&self, contact: ContactId, limit: i64) -> Result<Vec<PastChat>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT id, state, close_reason, opened_ms, closed_ms FROM conversations
                 WHERE contact_id = $1 ORDER BY opened_ms DESC, id DESC LIMIT $2",
            )
            .bind(contact.0)
            .bind(limit.clamp(1, 200))
            .fetch_all(pool)
            .await
        })?)
    }

    /// Adds a note to a contact.
    pub async fn add_contact_note(
        &self,
        contact: ContactId,
        author: OperatorId,
        body: &str,
        now: Millis,
    ) -> Result<ContactNote> {
        let id = Uuid::now_v7();
        execute!(
            self,
            "INSERT INTO contact_notes (id, contact_id, author_id, body, created_ms) VALUES ($1, $2, $3, $4, $5)",
            id,
            contact.0,
            author.0,
            body,
            now,
        )?;
        self.contact_notes(contact)
            .await?
            .into_iter()
            .find(|n| n.id == id)
            .ok_or(StoreError::NotFound("note"))
    }

    /// A contact's notes, oldest first.
    pub async fn contact_notes(&self, contact: ContactId) -> Result<Vec<ContactNote>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT n.id, n.contact_id, n.author_id, o.display_name AS author_name, n.body, n.created_ms
                 FROM contact_notes n LEFT JOIN operators o ON o.id = n.author_id
                 WHERE n.contact_id = $1 ORDER BY n.created_ms, n.id",
            )
            .bind(contact.0)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Deletes a note of the contact; `NotFound` if there is no such note on it.
    pub async fn delete_contact_note(&self, contact: ContactId, note: Uuid) -> Result<()> {
        self.delete_owned(
            "DELETE FROM contact_notes WHERE id = $1 AND contact_id = $2",
            note,
            contact.0,
            "note",
        )
        .await
    }

    /// A brand's canned responses, by title. With `department`, only those for it or for
    /// every department.
    pub async fn canned_responses(
        &self,
        brand: BrandId,
        department: Option<DepartmentId>,
    ) -> Result<Vec<CannedResponse>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                canned_sql!(
                    "WHERE brand_id = $1 AND ($2 IS NULL OR department_id IS NULL OR department_id = $2)
                     ORDER BY title, id"
                ),
            )
            .bind(brand.0)
            .bind(department.map(|d| d.0))
            .fetch_all(pool)
            .await
        })?)
    }

    /// One canned response of the brand.
    pub async fn canned_response(&self, brand: BrandId, id: Uuid) -> Result<CannedResponse> {
        fetch_optional!(
            self,
            canned_sql!("WHERE id = $1 AND brand_id = $2"),
            id,
            brand.0
        )?
        .ok_or(StoreError::NotFound("canned response"))
    }

    /// Creates a canned response. The department must belong to the brand.
    pub async fn create_canned_response(
        &self,
        brand: BrandId,
        input: &CannedInput,
        now: Millis,
    ) -> Result<CannedResponse> {
        self.check_department_of(brand, input.department_id).await?;
        let id = Uuid::now_v7();
        execute!(
            self,
            "INSERT INTO canned_responses (id, brand_id, department_id, title, body, created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
            id,
            brand.0,
            input.department_id.map(|d| d.0),
            &input.title,
            &input.body,
            now,
        )?;
        self.canned_response(brand, id).await
    }

    /// Replaces a canned response of the brand.
    pub async fn update_canned_response(
        &self,
        brand: BrandId,
        id: Uuid,
        input: &CannedInput,
        now: Millis,
    ) -> Result<CannedResponse> {
        self.check_department_of(brand, input.department_id).await?;
        let updated = execute!(
            self,
            "UPDATE canned_responses SET department_id = $1, title = $2, body = $3, updated_ms = $4
             WHERE id = $5 AND brand_id = $6",
            input.department_id.map(|d| d.0),
            &input.title,
            &input.body,
            now,
            id,
            brand.0,
        )?;
        if updated == 0 {
            return Err(StoreError::NotFound("canned response"));
        }
        self.canned_response(brand, id).await
    }

    /// Deletes a canned response of the brand.
    pub async fn delete_canned_response(&self, brand: BrandId, id: Uuid) -> Result<()> {
        self.delete_owned(
            "DELETE FROM canned_responses WHERE id = $1 AND brand_id = $2",
            id,
            brand.0,
            "canned response",
        )
        .await
    }

    /// Runs `sql`, a `DELETE … WHERE id = $1 AND <owner> = $2`: a row of another owner is
    /// as absent as a missing one (`NotFound(what)`).
    async fn delete_owned(
        &self,
        sql: &'static str,
        id: Uuid,
        owner: Uuid,
        what: &'static str,
    ) -> Result<()> {
        let deleted = execute!(self, sql, id, owner)?;
        if deleted == 0 {
            return Err(StoreError::NotFound(what));
        }
        Ok(())
    }

    async fn check_department_of(
        &self,
        brand: BrandId,
        department: Option<DepartmentId>,
    ) -> Result<()> {
        let Some(department) = department else {
            return Ok(());
        };
        if self
            .list_departments(brand)
            .await?
            .iter()
            .any(|d| d.id == department)
        {
            Ok(())
        } else {
            Err(StoreError::Invalid {
                field: "department_id",
                message: "no such department in this brand".into(),
            })
        }
    }

    /// The operators serving a brand (members of its departments, or of the brand), by name,
    /// with their presence.
    pub async fn brand_operators(&self, brand: BrandId) -> Result<Vec<BrandOperator>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT o.id, o.brand_id, o.email, o.display_name, o.role, o.capacity, o.created_ms, o.presence
                 FROM operators o WHERE o.brand_id = $1 OR o.id IN (SELECT dm.operator_id FROM department_members dm
                   JOIN departments d ON d.id = dm.department_id WHERE d.brand_id = $1)
                 ORDER BY o.display_name, o.id",
            )
            .bind(brand.0)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Whether to start LINE's loading animation now: true for at most one caller (across
    /// instances) per `every_ms` per chat.
    pub async fn claim_loading(
        &self,
        conversation: ConversationId,
        now: Millis,
        every_ms: Millis,
    ) -> Result<bool> {
        let claimed = execute!(
            self,
            "INSERT INTO chat_courtesy (conversation_id, loading_started_ms) VALUES ($1, $2)
             ON CONFLICT (conversation_id) DO UPDATE SET loading_started_ms = excluded.loading_started_ms
             WHERE chat_courtesy.loading_started_ms IS NULL OR chat_courtesy.loading_started_ms <= $3",
            conversation.0,
            now,
            now - every_ms,
        )?;
        Ok(claimed == 1)
    }

    /// The newest `markAsReadToken` of the chat if it was not used yet, claimed for one caller
    /// (marking read once is enough: LINE marks everything before it read too).
    pub async fn claim_mark_as_read(&self, conversation: ConversationId) -> Result<Option<String>> {
        let newest: Option<(String, Millis)> = fetch_optional!(
            self,
            "SELECT mark_as_read_token, event_ms FROM messages
             WHERE conversation_id = $1 AND direction = 'in' AND mark_as_read_token IS NOT NULL
             ORDER BY event_ms DESC, created_ms DESC LIMIT 1",
            conversation.0,
        )?;
        let Some((token, event_ms)) = newest else {
            return Ok(None);
        };
        let claimed = execute!(
            self,
            "INSERT INTO chat_courtesy (conversation_id, marked_read_message_ms) VALUES ($1, $2)
             ON CONFLICT (conversation_id) DO UPDATE SET marked_read_message_ms = excluded.marked_read_message_ms
             WHERE chat_courtesy.marked_read_message_ms IS NULL OR chat_courtesy.marked_read_message_ms < $2",
            conversation.0,
            event_ms,
        )?;
        Ok((claimed == 1).then_some(token))
    }

    /// Puts a failed outbound message back in the outbox, under the same send job (so the
    /// same `X-Line-Retry-Key`: LINE never delivers it twice). Refused when the chat is
    /// completed or the user blocked the account.
    pub async fn retry_message(&self, message: MessageId, now: Millis) -> Result<()> {
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let row: Option<(Uuid, Uuid, String, String)> = sqlx::query_as(
                "SELECT c.id, c.brand_id, c.state, k.friend_status FROM messages m
                 JOIN conversations c ON c.id = m.conversation_id JOIN contacts k ON k.id = c.contact_id
                 WHERE m.id = $1 AND m.direction = 'out' AND m.status = 'failed'",
            )
            .bind(message.0)
            .fetch_optional(&mut *tx)
            .await?;
            let (conversation, brand, state, friend_status) =
                row.ok_or(StoreError::NotFound("failed message"))?;
            if friend_status == desk_core::FriendStatus::Blocked.as_str() {
                return Err(StoreError::Conflict(crate::CONTACT_BLOCKED.into()));
            }
            if state == desk_core::ConversationState::Closed.as_str() {
                return Err(StoreError::Conflict(crate::CHAT_COMPLETED.into()));
            }
            sqlx::query(
                "UPDATE messages SET status = 'pending', failure_reason = NULL WHERE id = $1",
            )
            .bind(message.0)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_ms = $2, lease_until_ms = NULL,
                 last_error = NULL WHERE message_id = $1",
            )
            .bind(message.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            append_event!(
                &mut *tx,
                BrandId(brand),
                Some(ConversationId(conversation)),
                "message.updated",
                serde_json::json!({"message_id": message, "conversation_id": conversation, "status": "pending"}),
                now
            );
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan lines of `sql` on SQLite, with the binds `chat_list` uses.
    async fn plan(store: &Store, sql: &str) -> Vec<String> {
        crate::query_plan::plan(store, sql, |q| {
            q.bind(Uuid::nil())
                .bind(Uuid::nil())
                .bind(None::<Uuid>)
                .bind(50_i64)
        })
        .await
    }

    /// Every list and the counts read a brand's chats through migration 0010's indexes, in
    /// the list's order (no sort of the whole brand), not by scanning the table.
    #[tokio::test]
    async fn lists_and_counts_use_their_indexes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::query_plan::sqlite_store(dir.path()).await;
        let expected = [
            (ChatList::Mine.sql(), "conversations_brand_live"),
            (ChatList::Waiting.sql(), "conversations_brand_state_opened"),
            (ChatList::Missed.sql(), "conversations_brand_state_opened"),
            (ChatList::Open.sql(), "conversations_brand_live"),
            (ChatList::Completed.sql(), "conversations_brand_closed"),
            (LIST_COUNTS_SQL, "conversations_brand_live"),
        ];
        for (sql, index) in expected {
            let plan = plan(&store, sql).await;
            assert!(
                plan.iter()
                    .any(|l| l.starts_with(&format!("SEARCH c USING INDEX {index} "))),
                "{index} not used: {plan:#?}"
            );
            assert!(
                !plan.iter().any(|l| l == "USE TEMP B-TREE FOR ORDER BY"),
                "the list is sorted after reading: {plan:#?}"
            );
        }
    }
}
