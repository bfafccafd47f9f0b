//! Which live events an operator's stream carries. A brand's stream holds the events of all
//! its chats; an operator (role `operator`) may only follow the chats of their departments,
//! so their stream skips the others'. Events about no chat (brand-wide) always pass.
//!
//! A chat's department comes with each event (the tailer reads it with the row), so a
//! thousand operator streams cost no query per event. It is remembered per stream; an update
//! of the chat (a transfer moves it between departments) is checked again. The events of the
//! change that moves a chat away (they share its time) are still delivered, so a console sees the chat
//! leave as well as arrive; nothing after that.

use std::collections::HashMap;

use desk_core::DepartmentId;
use uuid::Uuid;

use crate::hub::Frame;

/// Chats remembered per stream before the memory starts over (bounds a long-lived stream).
const MAX_REMEMBERED: usize = 10_000;

/// Event kinds after which a chat's department may have changed.
const MAY_MOVE: &[&str] = &["conversation.updated", "timeline"];

/// The departments one operator's stream is limited to.
pub struct DepartmentScope {
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

impl DepartmentScope {
    /// A scope over these departments.
    pub fn new(departments: Vec<DepartmentId>) -> Self {
        Self {
            departments,
            chats: HashMap::new(),
        }
    }

    /// Whether the frame goes to this stream.
    pub fn allows(&mut self, frame: &Frame) -> bool {
        // The frame carries what this needs: no JSON parsing per stream per event.
        let Some(chat) = frame.conversation_id else {
            return true;
        };
        let created_ms = frame.created_ms;
        let may_move = MAY_MOVE.contains(&&*frame.kind);
        let before = self.chats.get(&chat).copied();
        let known = match before {
            Some(Known::Theirs | Known::NotTheirs) if !may_move => before,
            Some(Known::Left { at_ms }) if created_ms == at_ms => before,
            _ => None,
        };
        let now = match known {
            Some(k) => k,
            None => match (self.is_theirs(frame), before) {
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

    /// Whether the chat is in one of the departments (as read with the event). An event whose
    /// chat is unknown is not: the stream must never leak one.
    fn is_theirs(&self, frame: &Frame) -> bool {
        frame
            .department_id
            .is_some_and(|d| self.departments.contains(&DepartmentId(d)))
    }
}
