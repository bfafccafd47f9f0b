//! Conversation lifecycle in the store: every state change is desk-core's pure [`apply`]
//! run inside a transaction on the row as loaded, then saved with `WHERE version = $seen`,
//! so concurrent writers (two instances' timer workers, a timer racing an operator) never
//! both apply a transition: the loser sees no row updated and gets [`StoreError::Conflict`]
//! (or, for timers, nothing happens).

use std::sync::Arc;

use desk_core::lifecycle::{Conversation, ConversationRow};
use desk_core::{BusinessHours, ChannelId, ChannelSettings, ConversationId, Millis};
use uuid::Uuid;

use crate::{Result, StoreError};

/// The rules a conversation runs under: its channel's settings and its department's hours.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRules {
    pub settings: ChannelSettings,
    pub hours: Option<BusinessHours>,
}

/// A shared, cheap-to-clone [`ChatRules`].
pub type Rules = Arc<ChatRules>;

/// Why a transition was not saved: another writer changed the chat first.
pub(crate) const CHAT_CHANGED: &str = "the chat changed at the same time; try again";

/// The lifecycle columns of a conversation, plus what the store needs around them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct LifecycleRow {
    pub id: Uuid,
    pub brand_id: Uuid,
    pub channel_id: Uuid,
    pub contact_id: Uuid,
    pub department_id: Uuid,
    pub previous_id: Option<Uuid>,
    pub opened_ms: Millis,
    pub last_message_ms: Millis,
    pub state: String,
    pub assignee_id: Option<Uuid>,
    pub close_reason: Option<String>,
    pub closed_ms: Option<Millis>,
    pub pickup_deadline_ms: Option<Millis>,
    pub missed_close_at_ms: Option<Millis>,
    pub idle_close_at_ms: Option<Millis>,
    /// When the timer worker next looks at the chat: never later than the chat's next
    /// deadline, but may be earlier (see [`Columns::Activity`]).
    pub next_deadline_ms: Option<Millis>,
    pub version: i64,
}

impl LifecycleRow {
    /// The domain conversation; a row that breaks the state's invariants is reported, not
    /// guessed at.
    pub fn conversation(&self) -> Result<Conversation> {
        let corrupt = |e: String| {
            StoreError::Conflict(format!(
                "stored conversation {} is inconsistent: {e}",
                self.id
            ))
        };
        let state = self
            .state
            .parse()
            .map_err(|e: desk_core::UnknownVariant| corrupt(e.to_string()))?;
        let close_reason = match &self.close_reason {
            Some(r) => Some(
                r.parse()
                    .map_err(|e: desk_core::UnknownVariant| corrupt(e.to_string()))?,
            ),
            None => None,
        };
        Conversation::from_row(ConversationRow {
            id: ConversationId(self.id),
            contact: desk_core::ContactId(self.contact_id),
            department: desk_core::DepartmentId(self.department_id),
            previous: self.previous_id.map(ConversationId),
            opened_ms: self.opened_ms,
            last_message_ms: self.last_message_ms,
            state,
            assignee: self.assignee_id.map(desk_core::OperatorId),
            close_reason,
            closed_ms: self.closed_ms,
            pickup_deadline_ms: self.pickup_deadline_ms,
            missed_close_at_ms: self.missed_close_at_ms,
            idle_close_at_ms: self.idle_close_at_ms,
        })
        .map_err(|e| corrupt(e.to_string()))
    }
}

/// The lifecycle columns of `conversations`, for a [`LifecycleRow`]; append a `WHERE`.
macro_rules! lifecycle_select {
    () => {
        "SELECT id, brand_id, channel_id, contact_id, department_id, previous_id, opened_ms, last_message_ms,
         state, assignee_id, close_reason, closed_ms, pickup_deadline_ms, missed_close_at_ms, idle_close_at_ms,
         next_deadline_ms, version FROM conversations "
    };
}

/// Loads a conversation's lifecycle row in `$exec`; evaluates to `Option<LifecycleRow>`.
macro_rules! load_lifecycle {
    ($exec:expr, $id:expr) => {{
        let id: desk_core::ConversationId = $id;
        let row: Option<$crate::lifecycle::LifecycleRow> =
            sqlx::query_as(concat!(lifecycle_select!(), "WHERE id = $1"))
                .bind(id.0)
                .fetch_optional($exec)
                .await?;
        row
    }};
}

/// Which columns a save writes. SQLite moves the entry of every index on a column that an
/// UPDATE sets, whether or not its value changed, and `conversations` has eight such indexes:
/// setting every lifecycle column for each user message wrote about eight pages a message
/// (45 MB/s of WAL at 1,000 messages/s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Columns {
    /// Every lifecycle column (`next_deadline_ms` becomes the chat's next deadline).
    All,
    /// What a user's message moves in a chat whose lifecycle it otherwise leaves as it was:
    /// the last message time and the idle deadline (with the version and the reply token).
    /// `next_deadline_ms` stays: a later deadline leaves the stored one a safe early wake-up,
    /// and the timer that finds nothing due moves it on (see `transition_in_tx!`).
    Activity,
}

impl Columns {
    /// What saving `after` over the stored row `before` (whose `next_deadline_ms` is
    /// `wake`) must write.
    pub fn between(before: &ConversationRow, wake: Option<Millis>, after: &Conversation) -> Self {
        let after_row = after.to_row();
        let same_lifecycle = ConversationRow {
            last_message_ms: after_row.last_message_ms,
            idle_close_at_ms: after_row.idle_close_at_ms,
            ..*before
        } == after_row;
        // The timer worker must not sleep past the deadline (no deadline is the latest).
        let wakes_in_time = match (wake, after.next_deadline()) {
            (_, None) => true,
            (Some(wake), Some((_, at))) => wake <= at,
            (None, Some(_)) => false,
        };
        if same_lifecycle && wakes_in_time {
            Columns::Activity
        } else {
            Columns::All
        }
    }
}

/// A conversation to save with [`save_lifecycles!`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Save<'a> {
    pub conversation: &'a Conversation,
    /// The version it was loaded at: it is saved only if the row is still there.
    pub seen: i64,
    /// Whether the lifecycle changed (the version moves on only then).
    pub changed: bool,
    pub columns: Columns,
    /// The newest event time of messages just stored in it, and the newest reply token
    /// among them (kept unless the stored one is newer).
    pub message_ms: Option<Millis>,
    pub reply: Option<(&'a str, Millis)>,
}

impl<'a> Save<'a> {
    /// A transition's conversation, nothing else.
    pub fn transition(conversation: &'a Conversation, seen: i64) -> Self {
        Self {
            conversation,
            seen,
            changed: true,
            columns: Columns::All,
            message_ms: None,
            reply: None,
        }
    }
}

/// `SET` terms both kinds of save share: the newest message time, the version, and the
/// newest reply token (a closed chat's goes: nobody may answer it).
macro_rules! save_activity_sql {
    () => {
        "last_message_ms = CASE WHEN v.message_ms > v.last_message_ms THEN v.message_ms ELSE v.last_message_ms END,
         idle_close_at_ms = v.idle_close_at_ms, version = conversations.version + v.bump,
         reply_token = CASE WHEN v.state = 'closed' THEN NULL
           WHEN v.reply_token IS NOT NULL AND (conversations.reply_token_ms IS NULL OR conversations.reply_token_ms <= v.reply_token_ms)
           THEN v.reply_token ELSE conversations.reply_token END,
         reply_token_ms = CASE WHEN v.state = 'closed' THEN NULL
           WHEN v.reply_token IS NOT NULL AND (conversations.reply_token_ms IS NULL OR conversations.reply_token_ms <= v.reply_token_ms)
           THEN v.reply_token_ms ELSE conversations.reply_token_ms END
         FROM v WHERE conversations.id = v.id AND conversations.version = v.seen"
    };
}

/// Saves conversations, each only if its row is still at the version it was loaded at, in
/// one statement per kind of [`Columns`]; evaluates to how many were saved.
macro_rules! save_lifecycles {
    ($exec:expr, $saves:expr) => {{
        let saves: &[$crate::lifecycle::Save<'_>] = $saves;
        let mut saved = 0;
        for columns in [$crate::lifecycle::Columns::All, $crate::lifecycle::Columns::Activity] {
            let these: Vec<&$crate::lifecycle::Save<'_>> =
                saves.iter().filter(|s| s.columns == columns).collect();
            if these.is_empty() {
                continue;
            }
            let mut q = sqlx::QueryBuilder::new(
                "WITH v (id, seen, bump, state, assignee_id, close_reason, closed_ms, pickup_deadline_ms,
                 missed_close_at_ms, idle_close_at_ms, next_deadline_ms, last_message_ms, department_id,
                 message_ms, reply_token, reply_token_ms) AS (",
            );
            q.push_values(&these, |mut row, s| {
                let c = s.conversation;
                let r = c.to_row();
                row.push_bind(r.id.0)
                    .push_bind(s.seen)
                    .push_bind(i64::from(s.changed))
                    .push_bind(r.state.as_str())
                    .push_bind(r.assignee.map(|a| a.0))
                    .push_bind(r.close_reason.map(|c| c.as_str()))
                    .push_bind(r.closed_ms)
                    .push_bind(r.pickup_deadline_ms)
                    .push_bind(r.missed_close_at_ms)
                    .push_bind(r.idle_close_at_ms)
                    .push_bind(c.next_deadline().map(|(_, at)| at))
                    .push_bind(r.last_message_ms)
                    .push_bind(r.department.0)
                    .push_bind(s.message_ms)
                    .push_bind(s.reply.map(|(token, _)| token))
                    .push_bind(s.reply.map(|(_, at)| at));
            });
            q.push(match columns {
                // An offer ends once someone holds the chat.
                $crate::lifecycle::Columns::All => concat!(
                    ") UPDATE conversations SET state = v.state, assignee_id = v.assignee_id,
                     close_reason = v.close_reason, closed_ms = v.closed_ms, pickup_deadline_ms = v.pickup_deadline_ms,
                     missed_close_at_ms = v.missed_close_at_ms, next_deadline_ms = v.next_deadline_ms,
                     department_id = v.department_id,
                     offered_to = CASE WHEN v.assignee_id IS NULL THEN conversations.offered_to ELSE NULL END, ",
                    save_activity_sql!()
                ),
                $crate::lifecycle::Columns::Activity => {
                    concat!(") UPDATE conversations SET ", save_activity_sql!())
                }
            });
            // One row is the common statement (every operator action): worth preparing once.
            saved += q.build().persistent(these.len() == 1).execute(&mut *$exec).await?.rows_affected();
        }
        saved
    }};
}

/// Saves a transition's conversation if the row is still at `$version`; evaluates to
/// whether it was saved.
macro_rules! save_lifecycle {
    ($exec:expr, $conversation:expr, $version:expr) => {{
        let save = $crate::lifecycle::Save::transition($conversation, $version);
        save_lifecycles!($exec, &[save]) == 1
    }};
}

/// Inserts new conversations (from [`Conversation::start`]) in one statement: `$chats`
/// yields `(brand uuid, channel uuid, &Conversation)`. A batch of new chats is one round
/// trip, not one per chat (1,000 new chats a second made those the slowest part of applying).
macro_rules! insert_conversations {
    ($exec:expr, $chats:expr) => {{
        let chats: Vec<(uuid::Uuid, uuid::Uuid, &desk_core::lifecycle::Conversation)> =
            $chats.into_iter().collect();
        // 14 parameters a row: stays under SQLite's 32,766 bound parameters.
        for chunk in chats.chunks(2_000) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO conversations (id, brand_id, channel_id, contact_id, department_id, previous_id, state,
                 assignee_id, opened_ms, last_message_ms, pickup_deadline_ms, missed_close_at_ms, idle_close_at_ms,
                 next_deadline_ms) ",
            );
            q.push_values(chunk, |mut row, (brand, channel, c)| {
                let r = c.to_row();
                row.push_bind(r.id.0)
                    .push_bind(*brand)
                    .push_bind(*channel)
                    .push_bind(r.contact.0)
                    .push_bind(r.department.0)
                    .push_bind(r.previous.map(|p| p.0))
                    .push_bind(r.state.as_str())
                    .push_bind(r.assignee.map(|a| a.0))
                    .push_bind(r.opened_ms)
                    .push_bind(r.last_message_ms)
                    .push_bind(r.pickup_deadline_ms)
                    .push_bind(r.missed_close_at_ms)
                    .push_bind(r.idle_close_at_ms)
                    .push_bind(c.next_deadline().map(|(_, at)| at));
            });
            q.build().persistent(false).execute(&mut *$exec).await?;
        }
    }};
}

/// What a transition writes, in order.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// A row for the realtime log.
    Event(crate::tx::NewEvent),
    /// The closing message to queue: the chat is closed, the user still gets it.
    SendClosing(desk_core::ClosingMessage),
}

/// Whether a transition from `before` changes what consoles are told of a chat: an effect
/// (a timeline entry, a closing message, routing), or what `conversation.updated` carries.
pub(crate) fn shows_change(before: &ConversationRow, t: &desk_core::lifecycle::Transition) -> bool {
    !t.effects.is_empty() || updated(before) != updated(&t.conversation.to_row())
}

/// What `conversation.updated` tells consoles of a chat: its state, assignee and close reason.
fn updated(
    row: &ConversationRow,
) -> (
    desk_core::ConversationState,
    Option<desk_core::OperatorId>,
    Option<desk_core::CloseReason>,
) {
    (row.state, row.assignee, row.close_reason)
}

/// A transition's effects that live in the database: timeline entries and the state change
/// go to the realtime log; a closing message is queued for sending. Routing effects run in
/// the server (desk-core's Router), so they store nothing.
pub(crate) fn steps(t: &desk_core::lifecycle::Transition, brand: desk_core::BrandId) -> Vec<Step> {
    use desk_core::lifecycle::Effect;
    let id = t.conversation.id;
    let event = |kind, payload| {
        Step::Event(crate::tx::NewEvent {
            brand,
            conversation: Some(id),
            kind,
            payload,
        })
    };
    let mut steps: Vec<Step> = t
        .effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Timeline(e) => Some(event(
                "timeline",
                serde_json::json!({"conversation_id": id, "kind": "lifecycle", "event": e}),
            )),
            Effect::SendClosingMessage { message } => Some(Step::SendClosing(message.clone())),
            Effect::Route { .. } | Effect::AssignTo { .. } | Effect::Unroute => None,
        })
        .collect();
    let (state, assignee, close_reason) = updated(&t.conversation.to_row());
    steps.push(event(
        "conversation.updated",
        serde_json::json!({"conversation_id": id, "state": state, "assignee_id": assignee,
            "close_reason": close_reason}),
    ));
    steps
}

/// Queues a transition's closing message. `$tx` is a `&mut Transaction`.
macro_rules! send_closing {
    ($tx:expr, $brand:expr, $channel:expr, $transition:expr, $message:expr, $now:expr) => {{
        let t: &desk_core::lifecycle::Transition = $transition;
        let message: &desk_core::ClosingMessage = $message;
        // The recipient is looked up only here: few transitions send anything.
        let (to,): (String,) = sqlx::query_as("SELECT line_id FROM contacts WHERE id = $1")
            .bind(t.conversation.contact.0)
            .fetch_one(&mut **$tx)
            .await?;
        let body = serde_json::json!({"type": "text", "text": message.as_str()});
        let sent = queue_send!($tx, $brand, $channel, t.conversation.id, None::<uuid::Uuid>, &to,
            desk_core::MessageKind::Text, body, $now);
        // The chatbot's own closing message is the bot's, in the transcript too.
        if t.conversation.close_reason() == Some(desk_core::CloseReason::BotIdle) {
            sqlx::query("UPDATE messages SET sender_bot = TRUE WHERE id = $1")
                .bind(sent.0)
                .execute(&mut **$tx)
                .await?;
        }
    }};
}

/// Carries out a transition's [`steps`] at once. `$tx` is a `&mut Transaction`.
macro_rules! record_transition {
    ($tx:expr, $brand:expr, $channel:expr, $transition:expr, $now:expr) => {{
        let t: &desk_core::lifecycle::Transition = $transition;
        let brand = desk_core::BrandId($brand);
        for step in $crate::lifecycle::steps(t, brand) {
            match step {
                $crate::lifecycle::Step::Event(e) => {
                    append_events!(&mut **$tx, std::slice::from_ref(&e), $now);
                }
                $crate::lifecycle::Step::SendClosing(message) => {
                    send_closing!($tx, brand, $channel, t, &message, $now);
                }
            }
        }
    }};
}

/// A conversation with a due deadline.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DueConversation {
    #[sqlx(try_from = "Uuid")]
    pub id: ConversationId,
    #[sqlx(try_from = "Uuid")]
    pub channel_id: ChannelId,
    #[sqlx(try_from = "Uuid")]
    pub department_id: desk_core::DepartmentId,
    /// Who holds it (a close frees their capacity in every department they serve).
    pub assignee_id: Option<Uuid>,
    pub next_deadline_ms: Millis,
}

/// The capacity query: the operator's capacity and how many other live chats they hold.
/// Postgres locks the operator row so two concurrent pick-ups cannot both take the last slot.
macro_rules! capacity_sql {
    ($lock:literal) => {
        concat!(
            "SELECT capacity, (SELECT COUNT(*) FROM conversations WHERE assignee_id = $1 AND id <> $2 ",
            "AND state IN ('waiting', 'missed', 'open')) FROM operators WHERE id = $1",
            $lock
        )
    };
}

/// Statements for [`capacity_sql!`] per backend.
pub(crate) const CAPACITY_SQLITE: &str = capacity_sql!("");
/// Statements for [`capacity_sql!`] per backend.
pub(crate) const CAPACITY_POSTGRES: &str = capacity_sql!(" FOR UPDATE");

/// Refuses a transition that gives the chat to an operator who is already at capacity
/// (accepting, answering a waiting chat, a transfer or a take-over): presence may be
/// ignored by a deliberate pick-up, capacity may not. `$assignee_before` is who held the chat
/// before the transition. `$tx` is a `&mut Transaction`.
macro_rules! check_capacity {
    ($tx:expr, $sql:expr, $assignee_before:expr, $transition:expr) => {{
        let before: Option<uuid::Uuid> = $assignee_before;
        let t: &desk_core::lifecycle::Transition = $transition;
        if let Some(operator) = t.conversation.to_row().assignee
            && Some(operator.0) != before
            && t.conversation.state() != desk_core::ConversationState::Closed
        {
            let load: Option<(i32, i64)> = sqlx::query_as($sql)
                .bind(operator.0)
                .bind(t.conversation.id.0)
                .fetch_optional(&mut **$tx)
                .await?;
            if let Some((capacity, held)) = load
                && held >= i64::from(capacity)
            {
                return Err($crate::StoreError::Conflict(format!(
                    "that operator already has {held} open chats, their capacity"
                )));
            }
        }
    }};
}

/// Loads a conversation in `$tx` (a `&mut Transaction`), applies `$command` (or, when `None`,
/// its due timer) and saves it with its effects. Evaluates to `Result<Option<Transition>>`:
/// `None` when another writer changed the row first (nothing was written).
macro_rules! transition_in_tx {
    ($tx:expr, $capacity_sql:expr, $id:expr, $command:expr, $rules:expr, $now:expr) => {
        async {
            let tx = $tx;
            let rules: &$crate::ChatRules = $rules;
            let now: desk_core::Millis = $now;
            let command: Option<desk_core::lifecycle::Command> = $command;
            let row = load_lifecycle!(&mut **tx, $id)
                .ok_or($crate::StoreError::NotFound("conversation"))?;
            let conversation = row.conversation()?;
            let command = match command.or_else(|| {
                conversation
                    .due_timer(now)
                    .map(|kind| desk_core::lifecycle::Command::TimerFired { kind })
            }) {
                Some(command) => command,
                None => {
                    // Woken early (a message moved the deadline on): wake at the deadline.
                    let next = conversation.next_deadline().map(|(_, at)| at);
                    if next != row.next_deadline_ms {
                        $crate::execute_in!(
                            &mut **tx,
                            "UPDATE conversations SET next_deadline_ms = $1 WHERE id = $2 AND version = $3",
                            next,
                            row.id,
                            row.version
                        )?;
                    }
                    return Ok(Some(desk_core::lifecycle::Transition {
                        conversation,
                        effects: Vec::new(),
                        changed: false,
                    }));
                }
            };
            let transition = desk_core::lifecycle::apply(
                &conversation,
                command,
                &rules.settings,
                rules.hours.as_ref(),
                now,
            )
            .map_err(|e| $crate::StoreError::Conflict(e.to_string()))?;
            if transition.changed {
                check_capacity!(tx, $capacity_sql, row.assignee_id, &transition);
                if !save_lifecycle!(&mut **tx, &transition.conversation, row.version) {
                    return Ok(None);
                }
                record_transition!(tx, row.brand_id, row.channel_id, &transition, now);
            }
            Ok::<_, $crate::StoreError>(Some(transition))
        }
        .await
    };
}

#[cfg(test)]
mod tests {
    use desk_core::lifecycle::{Command, NewConversation, apply};
    use desk_core::{ChannelSettings, ChannelSettingsInput, ContactId, DepartmentId, OperatorId};

    use super::*;

    const T0: Millis = 1_760_000_000_000;
    const MINUTE: Millis = 60_000;

    fn idle_after_a_minute() -> ChannelSettings {
        let input = ChannelSettingsInput {
            idle_close_ms: Some(MINUTE),
            ..Default::default()
        };
        ChannelSettings::new(input).expect("valid settings")
    }

    fn open_chat(s: &ChannelSettings) -> Conversation {
        let new = NewConversation {
            id: ConversationId(Uuid::from_u128(1)),
            contact: ContactId(Uuid::from_u128(2)),
            department: DepartmentId(Uuid::from_u128(3)),
            previous: None,
        };
        let waiting = Conversation::start(new, s, T0).conversation;
        let accept = Command::Accept {
            operator: OperatorId(Uuid::from_u128(4)),
        };
        apply(&waiting, accept, s, None, T0)
            .expect("accepted")
            .conversation
    }

    /// The user writes half a minute after the chat opened.
    fn user_writes(open: &Conversation, s: &ChannelSettings) -> Conversation {
        apply(open, Command::UserMessage, s, None, T0 + MINUTE / 2)
            .expect("message")
            .conversation
    }

    fn wake(c: &Conversation) -> Option<Millis> {
        c.next_deadline().map(|(_, at)| at)
    }

    #[test]
    fn a_message_that_only_moves_activity_writes_only_activity() {
        let s = idle_after_a_minute();
        let open = open_chat(&s);
        let wrote = user_writes(&open, &s);
        assert!(wake(&wrote) > wake(&open), "the idle deadline moved on");
        assert_eq!(
            Columns::between(&open.to_row(), wake(&open), &wrote),
            Columns::Activity
        );
    }

    #[test]
    fn every_column_is_written_when_the_wake_up_would_come_too_late_or_the_lifecycle_moved() {
        let s = idle_after_a_minute();
        let open = open_chat(&s);
        let wrote = user_writes(&open, &s);
        // No wake-up stored, or one after the new deadline: the timer would sleep past it.
        assert_eq!(Columns::between(&open.to_row(), None, &wrote), Columns::All);
        let late = wake(&wrote).map(|at| at + 1);
        assert_eq!(Columns::between(&open.to_row(), late, &wrote), Columns::All);
        // The state changed (closed by its operator).
        let closed = apply(
            &open,
            Command::Close {
                operator: OperatorId(Uuid::from_u128(4)),
            },
            &s,
            None,
            T0 + 1,
        )
        .expect("closed")
        .conversation;
        assert_eq!(
            Columns::between(&open.to_row(), wake(&open), &closed),
            Columns::All
        );
    }
}
