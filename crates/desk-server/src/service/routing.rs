//! Routing after a change: whatever can change a department's line or an operator's room
//! (a new chat, an accept, close or transfer, a timer close, presence or capacity) calls
//! [`route`] with the departments concerned, and the store routes each (desk-core's
//! `Router` decides). A routing failure is logged, never the caller's failure: the change
//! itself is committed, and the next change routes again.

use std::collections::BTreeSet;

use desk_core::{DepartmentId, OperatorId};

use crate::state::AppState;

/// Routes each of `departments` once; nudges consoles when anything was routed.
pub async fn route(state: &AppState, departments: impl IntoIterator<Item = DepartmentId>) {
    let departments: BTreeSet<DepartmentId> = departments.into_iter().collect();
    let mut routed = false;
    // In id order, so two instances routing overlapping sets lock departments alike.
    for department in departments {
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

/// Routes every department an operator serves (their room changed).
pub async fn route_operator(state: &AppState, operator: OperatorId) {
    let departments = departments_of(state, operator).await;
    route(state, departments).await;
}
