//! Which live events an operator's stream carries. A brand's stream holds the events of all
//! its chats; an operator (role `operator`) may only follow the chats of their departments,
//! so their stream skips the others'. Events about no chat (brand-wide) always pass.
//!
//! A chat's department is looked up once per stream and remembered; an update of the chat
//! (a transfer moves it between departments) looks it up again, and is itself delivered when
//! the chat was or now is theirs, so a console sees a chat leave as well as arrive.

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
    /// Whether each chat seen so far belongs to one of `departments`.
    theirs: HashMap<Uuid, bool>,
}

/// The one field of an event row this needs.
#[derive(Deserialize)]
struct Row {
    conversation_id: Option<Uuid>,
}

impl DepartmentScope {
    /// A scope over these departments.
    pub fn new(state: AppState, departments: Vec<DepartmentId>) -> Self {
        Self {
            state,
            departments,
            theirs: HashMap::new(),
        }
    }

    /// Whether the frame goes to this stream.
    pub async fn allows(&mut self, frame: &Frame) -> bool {
        let Some(conversation) = serde_json::from_str::<Row>(&frame.data)
            .ok()
            .and_then(|row| row.conversation_id)
        else {
            return true;
        };
        let was = if MAY_MOVE.contains(&&*frame.kind) {
            self.theirs.remove(&conversation)
        } else if let Some(&known) = self.theirs.get(&conversation) {
            return known;
        } else {
            None
        };
        // An unreadable chat is not shown: the stream must never leak one.
        let now = match self
            .state
            .store
            .conversation(ConversationId(conversation))
            .await
        {
            Ok(c) => self.departments.contains(&c.department_id),
            Err(e) => {
                tracing::warn!(error = %e, %conversation, "SSE scope: chat unreadable, event skipped");
                false
            }
        };
        if self.theirs.len() >= MAX_REMEMBERED {
            self.theirs.clear();
        }
        self.theirs.insert(conversation, now);
        was.unwrap_or(false) || now
    }
}
