//! The timer worker: fires due conversation deadlines (pickup → missed, missed window →
//! closed, idle → closed). Deadlines are an indexed column, never a sleeping task per chat, so
//! a million open chats cost one index read per wake-up. Each firing is a conditional update
//! (see `Store::fire_due_timer`): several instances on one database, or a restart in the middle,
//! never lose or double a close.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

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
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "timer query failed"),
        }
        let sleep = match state.store.next_deadline().await {
            Ok(Some(at)) => {
                Duration::from_millis(u64::try_from(at - state.clock.now_ms()).unwrap_or(0))
                    .min(MAX_SLEEP)
            }
            _ => MAX_SLEEP,
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = state.wake.timers.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

#[tracing::instrument(skip_all, fields(due = due.len()))]
async fn fire(state: &AppState, due: Vec<desk_store::DueConversation>, now: desk_core::Millis) {
    let mut fired = 0usize;
    for d in due {
        let rules = match state.rules.get(&state.store, d.channel_id, now).await {
            Ok(rules) => rules,
            Err(e) => {
                tracing::error!(conversation = %d.id, error = %e, "no rules for a due conversation");
                continue;
            }
        };
        match state.store.fire_due_timer(d.id, &rules, now).await {
            Ok(t) if t.changed => fired += 1,
            Ok(_) => {}
            // Another instance fired it, or a message moved the deadline: re-read next round.
            Err(desk_store::StoreError::Conflict(reason)) => {
                tracing::debug!(conversation = %d.id, %reason, "timer skipped")
            }
            Err(e) => tracing::error!(conversation = %d.id, error = %e, "timer failed"),
        }
    }
    if fired > 0 {
        // A close may have queued a closing message.
        state.wake.outbox.notify_one();
        tracing::debug!(fired, "timers fired");
    }
}
