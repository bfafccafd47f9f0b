//! Applying a run of inbound messages together. A busy desk receives mostly messages, each to
//! a chat that is already open; applied one at a time, every message would cost about ten
//! statements, and on SQLite each statement is a round trip to its one writer thread. Here
//! a run costs a few statements for the whole run (look-ups, contacts, messages, one save of
//! every chat it touches, events) plus one per chat it opens, while every chat still goes
//! through desk-core's lifecycle once per message, in order.

use desk_core::lifecycle::{Command, Conversation, ConversationRow, Transition};
use desk_core::{ContactId, ConversationId, MessageId, Millis};
use uuid::Uuid;

use crate::lifecycle::LifecycleRow;
use crate::tx::NewEvent;
use crate::{ChannelScope, ContactRef, InboundMessage, Result, Rules, StoreError};

/// One inbound message of a run; its inbox row is already claimed.
#[derive(Debug, Clone)]
pub(crate) struct MessageItem {
    pub scope: ChannelScope,
    pub rules: Rules,
    pub event_ms: Millis,
    pub contact: ContactRef,
    pub message: InboundMessage,
    pub reply_token: Option<String>,
}

/// A chat the run touches: its state as the run's messages went through it.
pub(crate) struct Chat {
    pub conversation: Conversation,
    pub brand: Uuid,
    pub channel: Uuid,
    /// The stored row; `None` for a chat this run opens (inserted as the run leaves it).
    pub loaded: Option<Loaded>,
    pub changed: bool,
    /// Newest event time and newest reply token of the chat's stored messages.
    pub last_event_ms: Option<Millis>,
    pub reply: Option<(String, Millis)>,
}

/// A stored chat as the run loaded it.
pub(crate) struct Loaded {
    pub version: i64,
    pub lifecycle: ConversationRow,
    /// Its `next_deadline_ms`: when the timer worker looks at it next.
    pub wake: Option<Millis>,
}

impl Chat {
    pub fn stored(row: &LifecycleRow) -> Result<Self> {
        let conversation = row.conversation()?;
        Ok(Self {
            loaded: Some(Loaded {
                version: row.version,
                lifecycle: conversation.to_row(),
                wake: row.next_deadline_ms,
            }),
            conversation,
            brand: row.brand_id,
            channel: row.channel_id,
            changed: false,
            last_event_ms: None,
            reply: None,
        })
    }

    pub fn opened(scope: ChannelScope, started: &Transition) -> Self {
        Self {
            conversation: started.conversation.clone(),
            brand: scope.brand_id.0,
            channel: scope.channel_id.0,
            loaded: None,
            changed: true,
            last_event_ms: None,
            reply: None,
        }
    }

    /// How to save it: a chat this run opened is saved as inserted (version 0), with the
    /// run's messages.
    pub fn save(&self) -> crate::lifecycle::Save<'_> {
        use crate::lifecycle::Columns;
        crate::lifecycle::Save {
            conversation: &self.conversation,
            seen: self.loaded.as_ref().map_or(0, |l| l.version),
            changed: self.changed && self.loaded.is_some(),
            columns: self.loaded.as_ref().map_or(Columns::Activity, |l| {
                Columns::between(&l.lifecycle, l.wake, &self.conversation)
            }),
            message_ms: self.last_event_ms,
            reply: self.reply.as_ref().map(|(token, at)| (token.as_str(), *at)),
        }
    }

    /// The user wrote: the chat's lifecycle takes the message (resetting its idle timer).
    pub fn user_wrote(&mut self, rules: &Rules, now: Millis) -> Result<Transition> {
        let t = desk_core::lifecycle::apply(
            &self.conversation,
            Command::UserMessage,
            &rules.settings,
            rules.hours.as_ref(),
            now,
        )
        .map_err(|e| StoreError::Conflict(e.to_string()))?;
        if t.changed {
            self.conversation = t.conversation.clone();
            self.changed = true;
        }
        Ok(t)
    }

    /// A message of the chat was stored; keeps the newest reply token (the older one would
    /// expire first anyway).
    pub fn stored_message(&mut self, event_ms: Millis, reply_token: Option<&str>) {
        self.last_event_ms = Some(self.last_event_ms.map_or(event_ms, |ms| ms.max(event_ms)));
        if let Some(token) = reply_token
            && self.reply.as_ref().is_none_or(|(_, ms)| *ms <= event_ms)
        {
            self.reply = Some((token.to_owned(), event_ms));
        }
    }
}

/// A realtime event of the run; message events count only if their message was stored.
pub(crate) struct RunEvent {
    pub event: NewEvent,
    pub if_stored: Option<MessageId>,
}

/// Where each message of the run goes.
pub(crate) enum Placement {
    /// Already stored (the same message redelivered under another event id), in this chat.
    Known(ConversationId),
    /// The same message earlier in this run.
    RepeatOf(usize),
    /// New: stored under this id in the contact's chat.
    New { id: MessageId, contact: ContactId },
}

/// Applies a run of messages inside an open transaction `$tx` (a `&mut Transaction`);
/// evaluates to one [`crate::Applied`] per item, in order. Messages of one chat go through its
/// lifecycle in the run's order; the chat is saved once (`WHERE version = $seen`, as every
/// transition is).
macro_rules! apply_messages_in_tx {
    ($tx:expr, $capacity_sql:expr, $items:expr, $now:expr) => {{
        use $crate::inbound::{Chat, Placement, RunEvent};
        let tx = $tx;
        let items: &[$crate::inbound::MessageItem] = $items;
        let now: desk_core::Millis = $now;

        // Messages already stored.
        let mut q = sqlx::QueryBuilder::new(
            "SELECT channel_id, line_message_id, conversation_id FROM messages WHERE ",
        );
        $crate::push_key_pairs(
            &mut q,
            ("channel_id", "line_message_id"),
            items
                .iter()
                .map(|item| (item.scope.channel_id.0, item.message.line_message_id.as_str())),
        );
        let known: Vec<(uuid::Uuid, String, uuid::Uuid)> =
            q.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
        let known: std::collections::HashMap<(uuid::Uuid, &str), uuid::Uuid> = known
            .iter()
            .map(|(channel, id, conversation)| ((*channel, id.as_str()), *conversation))
            .collect();
        let mut first_of: std::collections::HashMap<(uuid::Uuid, &str), usize> =
            std::collections::HashMap::new();
        let fresh: Vec<bool> = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let key = (item.scope.channel_id.0, item.message.line_message_id.as_str());
                !known.contains_key(&key) && *first_of.entry(key).or_insert(i) == i
            })
            .collect();

        // Contacts, then their live chats (and, for those without one, their latest).
        let contacts = upsert_contacts!(
            &mut **tx,
            items.iter().zip(&fresh).filter(|(_, f)| **f).map(|(item, _)| {
                $crate::tx::ContactUpsert {
                    channel: item.scope.channel_id,
                    contact: &item.contact,
                    status: None,
                }
            }),
            now
        );
        let mut chats: std::collections::HashMap<desk_core::ContactId, Chat> =
            std::collections::HashMap::new();
        let mut previous: std::collections::HashMap<uuid::Uuid, uuid::Uuid> =
            std::collections::HashMap::new();
        if !contacts.is_empty() {
            let mut q = sqlx::QueryBuilder::new(concat!(
                lifecycle_select!(),
                "WHERE state <> 'closed' AND contact_id IN ("
            ));
            $crate::push_list(&mut q, contacts.values().map(|id| id.0));
            let rows: Vec<$crate::lifecycle::LifecycleRow> =
                q.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
            for row in &rows {
                chats.insert(desk_core::ContactId(row.contact_id), Chat::stored(row)?);
            }
            let without: Vec<uuid::Uuid> = contacts
                .values()
                .filter(|c| !chats.contains_key(c))
                .map(|c| c.0)
                .collect();
            if !without.is_empty() {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT contact_id, id FROM conversations WHERE contact_id IN (",
                );
                $crate::push_list(&mut q, without);
                q.push(" ORDER BY opened_ms, id");
                let rows: Vec<(uuid::Uuid, uuid::Uuid)> =
                    q.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
                // Ascending, so the latest of each contact is written last.
                previous.extend(rows);
            }
        }

        // Each message through its chat's lifecycle, in order; writes are collected.
        let mut events: Vec<RunEvent> = Vec::new();
        let mut openings: Vec<desk_core::ContactId> = Vec::new();
        let mut placements: Vec<Placement> = Vec::with_capacity(items.len());
        let mut opened_by: Vec<bool> = vec![false; items.len()];
        for (i, item) in items.iter().enumerate() {
            let key = (item.scope.channel_id.0, item.message.line_message_id.as_str());
            if !fresh[i] {
                placements.push(match known.get(&key) {
                    Some(c) => Placement::Known(desk_core::ConversationId(*c)),
                    None => Placement::RepeatOf(first_of[&key]),
                });
                continue;
            }
            let contact = *contacts
                .get(&(item.scope.channel_id.0, item.contact.line_id.clone()))
                .ok_or($crate::StoreError::NotFound("contact"))?;
            let brand = item.scope.brand_id;
            let (steps, conversation) = match chats.get_mut(&contact) {
                Some(chat) => {
                    let before = chat.conversation.to_row();
                    let t = chat.user_wrote(&item.rules, now)?;
                    // A message that only moves the idle deadline on tells consoles nothing
                    // its `message.created` does not.
                    let steps = if t.changed && $crate::lifecycle::shows_change(&before, &t) {
                        check_capacity!(tx, $capacity_sql, before.assignee.map(|a| a.0), &t);
                        $crate::lifecycle::steps(&t, brand)
                    } else {
                        Vec::new()
                    };
                    (steps, t.conversation.id)
                }
                None => {
                    let prior = previous.get(&contact.0).map(|p| desk_core::ConversationId(*p));
                    let (started, opened) =
                        $crate::tx::opening(item.scope, &item.rules, contact, prior, now);
                    opened_by[i] = true;
                    events.push(RunEvent { event: opened, if_stored: None });
                    openings.push(contact);
                    chats.insert(contact, Chat::opened(item.scope, &started));
                    ($crate::lifecycle::steps(&started, brand), started.conversation.id)
                }
            };
            for step in steps {
                match step {
                    $crate::lifecycle::Step::Event(event) => {
                        events.push(RunEvent { event, if_stored: None })
                    }
                    // A user's message never closes a chat, so it sends no closing message.
                    $crate::lifecycle::Step::SendClosing(_) => {
                        return Err($crate::StoreError::Conflict(
                            "a user's message cannot close a chat".into(),
                        ));
                    }
                }
            }
            let id = desk_core::MessageId::new();
            events.push(RunEvent {
                event: $crate::tx::NewEvent {
                    brand,
                    conversation: Some(conversation),
                    kind: "message.created",
                    payload: serde_json::json!({"message_id": id, "conversation_id": conversation,
                        "opened": opened_by[i]}),
                },
                if_stored: Some(id),
            });
            placements.push(Placement::New { id, contact });
        }

        // New chats first: messages and events point at them.
        insert_conversations!(
            &mut **tx,
            openings.iter().map(|contact| {
                let chat = &chats[contact];
                (chat.brand, chat.channel, &chat.conversation)
            })
        );

        // Messages: one statement; a message another writer stored meanwhile is skipped.
        let mut stored: std::collections::HashSet<uuid::Uuid> = std::collections::HashSet::new();
        let new: Vec<(usize, desk_core::MessageId, desk_core::ContactId)> = placements
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Placement::New { id, contact } => Some((i, *id, *contact)),
                _ => None,
            })
            .collect();
        if !new.is_empty() {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO messages (id, conversation_id, channel_id, direction, kind, body, line_message_id,
                 quote_token, mark_as_read_token, sender_line_id, sender_name, status, event_ms, created_ms) ",
            );
            q.push_values(&new, |mut row, (i, id, contact)| {
                let item = &items[*i];
                let m = &item.message;
                row.push_bind(id.0)
                    .push_bind(chats[contact].conversation.id.0)
                    .push_bind(item.scope.channel_id.0)
                    .push_bind(desk_core::Direction::In.as_str())
                    .push_bind(m.kind.as_str())
                    .push_bind(sqlx::types::Json(&m.body))
                    .push_bind(m.line_message_id.as_str())
                    .push_bind(m.quote_token.as_deref())
                    .push_bind(m.mark_as_read_token.as_deref())
                    .push_bind(m.sender_line_id.as_deref())
                    .push_bind(m.sender_name.as_deref())
                    .push_bind(desk_core::MessageStatus::Received.as_str())
                    .push_bind(item.event_ms)
                    .push_bind(now);
            });
            q.push(" ON CONFLICT (channel_id, line_message_id) DO NOTHING RETURNING id");
            let rows: Vec<(uuid::Uuid,)> =
                q.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
            stored.extend(rows.into_iter().map(|(id,)| id));
        }
        for (i, id, contact) in &new {
            if stored.contains(&id.0) {
                let item = &items[*i];
                schedule_download!(&mut **tx, item.scope, *id, &item.message, now);
                if let Some(chat) = chats.get_mut(contact) {
                    chat.stored_message(item.event_ms, item.reply_token.as_deref());
                }
            }
        }
        // Every chat touched, in one statement, each only if nobody changed it meanwhile.
        let saves: Vec<$crate::lifecycle::Save<'_>> = chats
            .values()
            .map(|chat| chat.save())
            .collect();
        if !saves.is_empty()
            && save_lifecycles!(&mut **tx, &saves) != saves.len() as u64
        {
            return Err($crate::StoreError::Conflict(
                $crate::lifecycle::CHAT_CHANGED.into(),
            ));
        }
        let events: Vec<$crate::tx::NewEvent> = events
            .into_iter()
            .filter(|e| e.if_stored.is_none_or(|id| stored.contains(&id.0)))
            .map(|e| e.event)
            .collect();
        append_events!(&mut **tx, &events, now);

        // Where each landed.
        let mut applied: Vec<$crate::Applied> = Vec::with_capacity(items.len());
        for (i, placement) in placements.iter().enumerate() {
            let landed = match placement {
                Placement::Known(conversation) => $crate::Applied {
                    conversation_id: Some(*conversation),
                    ..Default::default()
                },
                Placement::RepeatOf(first) => $crate::Applied {
                    conversation_id: applied[*first].conversation_id,
                    ..Default::default()
                },
                Placement::New { id, contact } => $crate::Applied {
                    contact_id: Some(*contact),
                    conversation_id: Some(chats[contact].conversation.id),
                    opened: opened_by[i],
                    message_id: stored.contains(&id.0).then_some(*id),
                },
            };
            applied.push(landed);
        }
        applied
    }};
}
