//! Routing after a change: whatever can change a department's line or an operator's room
//! (a new chat, an accept, close or transfer, a timer close, presence or capacity) calls
//! [`route`] with the departments concerned, and the store routes each (desk-core's
//! `Router` decides). A routing failure is logged, never the caller's failure: the change
//! itself is committed, and the next change routes again.

use std::collections::BTreeSet;

use desk_core::lifecycle::{Command, TransferTarget};
use desk_core::{DepartmentId, OperatorId};
use desk_store::StoreError;

use crate::state::AppState;

/// Routes each of `departments` once; nudges consoles when anything was routed.
pub async fn route(state: &AppState, departments: impl IntoIterator<Item = DepartmentId>) {
    let departments: BTreeSet<DepartmentId> = departments.into_iter().collect();
    let mut routed = false;
    // In id order, so two instances routing overlapping sets lock departments alike.
    for department in departments {
        match state.store.may_route(department).await {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => tracing::warn!(%department, error = %e, "routing pre-check failed; routing"),
        }
        match state
            .store
            .route_department(department, state.clock.now_ms())
            .await
        {
            Ok(decisions) => {
                if !decisions.is_empty() {
                    tracing::debug!(%department, ?decisions, "routed");
                }
                routed |= !decisions.is_empty();
            }
            Err(e) => tracing::error!(%department, error = %e, "routing failed"),
        }
    }
    if routed {
        state.hub.nudge();
    }
}

/// The departments an operator serves (empty, with the error logged, if they cannot be read).
pub async fn departments_of(state: &AppState, operator: OperatorId) -> Vec<DepartmentId> {
    match state.store.departments_of(operator).await {
        Ok(departments) => departments,
        Err(e) => {
            tracing::error!(%operator, error = %e, "could not read the operator's departments");
            Vec::new()
        }
    }
}

/// An operator leaves for good (deactivated): each chat they had open goes back to its
/// department's line, unassigned, and routing offers it to whoever is online there (their
/// offers are withdrawn as from anyone offline). A chat that changed meanwhile (closed,
/// transferred) is left as it is. A chat whose channel rules cannot be read is skipped, and
/// the first such error returned once the others are back: deactivating again returns it.
pub async fn return_chats_of(state: &AppState, operator: OperatorId) -> Result<(), StoreError> {
    let now = state.clock.now_ms();
    let mut departments = departments_of(state, operator).await;
    let mut failed = None;
    for (chat, channel, department) in state.store.open_chats_of(operator).await? {
        let rules = match state.rules.get(&state.store, channel, now).await {
            Ok(rules) => rules,
            Err(e) => {
                tracing::warn!(%chat, error = %e, "chat not returned: its channel's rules cannot be read");
                failed.get_or_insert(e);
                continue;
            }
        };
        let back = Command::Transfer {
            to: TransferTarget::Department(department),
            note: None,
        };
        match state.store.command(chat, back, &rules, now).await {
            Ok(_) => departments.push(department),
            Err(e) => tracing::warn!(%chat, error = %e, "chat not returned to its department"),
        }
    }
    state.hub.nudge();
    state.wake.timers.notify_one();
    route(state, departments).await;
    failed.map_or(Ok(()), Err)
}

/// Routes every department an operator serves (their room changed).
pub async fn route_operator(state: &AppState, operator: OperatorId) {
    let departments = departments_of(state, operator).await;
    route(state, departments).await;
}

/// Departments waiting to be routed by the routing worker, off the caller's path: the inbox
/// processor hands new chats over and goes on with the next batch (routing a department is a
/// transaction of its own, and a burst of new chats touches many departments). Requests for
/// one department made while it waits collapse into one pass.
#[derive(Debug, Default)]
pub struct RouteRequests {
    pending: std::sync::Mutex<BTreeSet<DepartmentId>>,
    wake: tokio::sync::Notify,
}

impl RouteRequests {
    /// Asks for these departments to be routed soon.
    pub fn request(&self, departments: impl IntoIterator<Item = DepartmentId>) {
        self.lock().extend(departments);
        self.wake.notify_one();
    }

    /// What was asked for since the last call.
    pub fn take(&self) -> BTreeSet<DepartmentId> {
        std::mem::take(&mut *self.lock())
    }

    /// Resolves when something was asked for (a request made before the wait counts).
    pub async fn requested(&self) {
        self.wake.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<DepartmentId>> {
        // A panic while holding it cannot leave the set half-changed.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
