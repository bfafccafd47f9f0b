//! Housekeeping: every minute, forgets what the desk no longer needs (desk-store's
//! retention), a chunk at a time with a pause between chunks, so that webhook requests and
//! the inbox processor never wait long behind a delete. It runs on its own timer, not when the
//! processor is idle: a busy desk's processor is never idle, and that is the desk whose
//! tables grow fastest.

use std::future::Future;
use std::time::Duration;

use desk_core::Millis;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// How often a round runs.
const EVERY: Duration = Duration::from_secs(60);
/// Rows one statement deletes: a few milliseconds of a writer.
const CHUNK: i64 = 2_000;
/// Between chunks, the writers are left to others.
const PAUSE: Duration = Duration::from_millis(50);
/// How long applied webhook events and answered chatbot turns are kept. While an event is
/// kept, its dedupe key drops a copy LINE redelivers; a week is meant to outlast LINE's
/// redelivery of a failed webhook.
pub const RETAIN_MS: Millis = 7 * 24 * 3_600_000;

/// Runs the worker.
pub async fn run(state: AppState, cancel: CancellationToken) {
    loop {
        round(&state, &cancel).await;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// One round: the inbox's exactly-once guards, then old chatbot turns, then old inbox events
/// (after the turns, which on Postgres reference them).
#[tracing::instrument(name = "housekeeping", skip_all)]
pub async fn round(state: &AppState, cancel: &CancellationToken) {
    let store = &state.store;
    let guards = drain(cancel, || store.forget_marked_applied(CHUNK)).await;
    let cut = match store.retention_cut(state.clock.now_ms() - RETAIN_MS).await {
        Ok(cut) => cut,
        Err(e) => {
            tracing::warn!(error = %e, "could not read what is old enough to delete");
            return;
        }
    };
    let turns = drain(cancel, || store.prune_bot_turns(cut.bot_turns_below, CHUNK)).await;
    let events = drain(cancel, || store.prune_inbox(cut.inbox_below, CHUNK)).await;
    if guards + turns + events > 0 {
        tracing::info!(guards, turns, events, "deleted what is no longer needed");
    }
}

/// Runs `chunk` until it deletes less than a full chunk (or fails, or the server stops);
/// returns the rows deleted.
async fn drain<F, Fut>(cancel: &CancellationToken, mut chunk: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, desk_store::StoreError>>,
{
    let mut total = 0;
    loop {
        match chunk().await {
            Ok(n) => {
                total += n;
                if n < CHUNK as u64 || cancel.is_cancelled() {
                    return total;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "housekeeping delete failed; next round retries");
                return total;
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
}
