//! Which live events an operator's stream carries. A brand's stream holds the events of all
//! its chats; an operator (role `operator`) may only follow the chats of their departments,
//! so their stream skips the others'. Events about no chat (brand-wide) always pass.
//!
//! A chat's department is looked up once per stream and remembered; an update of the chat
//! (a transfer moves it between departments) looks it up again. The events of the change that
//! moves a chat away (they share its time) are still delivered, so a console sees the chat
//! leave as well as arrive; nothing after that.

use std::collections::HashMap;

use desk_core::{ConversationId, DepartmentId};
use serde::Deserialize;
use uuid::Uuid;

use crate::hub::Frame;
use crate::state::AppState;

/// Chats remembered per stream before the memory starts over (bounds a long-lived stream).
const MAX_REMEMBERED: usize = 10_000;

/// Event kinds after which a chat's department may have changed.
const MAY_MOVE: &[&str] = &["conversation.updated", "timeline"];

/// The departments one operator's stream is limited to.
pub struct DepartmentScope {
    state: AppState,
    departments: Vec<DepartmentId>,
    /// What is known of each chat seen so far.
    chats: HashMap<Uuid, Known>,
}

/// Whether a chat belongs to the stream's departments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Theirs,
    /// Moved away by the change made at this time (ms).
    Left {
        at_ms: i64,
    },
    NotTheirs,
}

/// The fields of an event row this needs.
#[derive(Deserialize)]
struct Row {
    conversation_id: Option<Uuid>,
    created_ms: i64,
}

impl DepartmentScope {
    /// A scope over these departments.
    pub fn new(state: AppState, departments: Vec<DepartmentId>) -> Self {
        Self {
            state,
            departments,
            chats: HashMap::new(),
        }
    }

    /// Whether the frame goes to this stream.
    pub async fn allows(&mut self, frame: &Frame) -> bool {
        let Ok(Row {
            conversation_id: Some(chat),
            created_ms,
        }) = serde_json::from_str::<Row>(&frame.data)
        else {
            return true;
        };
        let may_move = MAY_MOVE.contains(&&*frame.kind);
        let before = self.chats.get(&chat).copied();
        let known = match before {
            Some(Known::Theirs | Known::NotTheirs) if !may_move => before,
            Some(Known::Left { at_ms }) if created_ms == at_ms => before,
            _ => None,
        };
        let now = match known {
            Some(k) => k,
            None => match (self.is_theirs(chat).await, before) {
                (true, _) => Known::Theirs,
                (false, Some(Known::Theirs)) if may_move => Known::Left { at_ms: created_ms },
                _ => Known::NotTheirs,
            },
        };
        if self.chats.len() >= MAX_REMEMBERED {
            self.chats.clear();
        }
        self.chats.insert(chat, now);
        now != Known::NotTheirs
    }

    /// Whether the chat is in one of the departments now. An unreadable chat is not: the
    /// stream must never leak one.
    async fn is_theirs(&self, chat: Uuid) -> bool {
        match self.state.store.conversation(ConversationId(chat)).await {
            Ok(c) => self.departments.contains(&c.department_id),
            Err(e) => {
                tracing::warn!(error = %e, %chat, "SSE scope: chat unreadable, event skipped");
                false
            }
        }
    }
}
