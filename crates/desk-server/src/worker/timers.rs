//! The timer worker: fires due conversation deadlines (pickup → missed, missed window →
//! closed, idle → closed). Deadlines are an indexed column, never a sleeping task per chat, so
//! a million open chats cost one index read per wake-up. Each firing is a conditional update
//! (see `Store::fire_due_timer`): several instances on one database, or a restart in the middle,
//! never lose or double a close.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::service::routing;
use crate::state::AppState;

const BATCH: i64 = 500;
/// Longest sleep: deadlines set by another instance are noticed within this time.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Runs the worker.
pub async fn run(state: AppState, cancel: CancellationToken) {
    loop {
        let now = state.clock.now_ms();
        match state.store.due_conversations(now, BATCH).await {
            Ok(due) if !due.is_empty() => {
                fire(&state, due, now).await;
                if cancel.is_cancelled() {
                    return;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "timer query failed"),
        }
        let next = state.store.next_deadline().await.ok().flatten();
        if !super::idle(
            &cancel,
            &state.wake.timers,
            next,
            state.clock.now_ms(),
            MAX_SLEEP,
        )
        .await
        {
            return;
        }
    }
}

#[tracing::instrument(skip_all, fields(due = due.len()))]
async fn fire(state: &AppState, due: Vec<desk_store::DueConversation>, now: desk_core::Millis) {
    let mut batch = Vec::with_capacity(due.len());
    // A close takes a chat out of its line and frees its holder's room everywhere.
    let mut departments: Vec<desk_core::DepartmentId> = Vec::new();
    let mut holders: std::collections::BTreeSet<desk_core::OperatorId> = Default::default();
    for d in due {
        departments.push(d.department_id);
        holders.extend(d.assignee_id.map(desk_core::OperatorId));
        match state.rules.get(&state.store, d.channel_id, now).await {
            Ok(rules) => batch.push((d.id, rules)),
            Err(e) => {
                tracing::error!(conversation = %d.id, error = %e, "no rules for a due conversation")
            }
        }
    }
    // One transaction for the batch; if it fails (say, a deadlock with another instance),
    // one by one, so a single bad row holds back no other.
    let fired = match state.store.fire_due_timers(&batch, now).await {
        Ok(fired) => fired,
        Err(e) => {
            tracing::warn!(error = %e, "batch of timers failed; firing one by one");
            let mut fired = 0;
            for (id, rules) in &batch {
                match state.store.fire_due_timer(*id, rules, now).await {
                    Ok(t) => fired += usize::from(t.changed),
                    // Another instance fired it, or a message moved the deadline.
                    Err(desk_store::StoreError::Conflict(reason)) => {
                        tracing::debug!(conversation = %id, %reason, "timer skipped")
                    }
                    Err(e) => tracing::error!(conversation = %id, error = %e, "timer failed"),
                }
            }
            fired
        }
    };
    if fired > 0 {
        // Consoles see the change at once; a close may have queued a closing message.
        state.hub.nudge();
        state.wake.outbox.notify_one();
        tracing::debug!(fired, "timers fired");
        for holder in holders {
            departments.extend(routing::departments_of(state, holder).await);
        }
        routing::route(state, departments).await;
    }
}
