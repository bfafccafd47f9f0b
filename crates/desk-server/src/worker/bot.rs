//! The bot worker: claims queued bot turns (each chat's oldest pending one) and answers them,
//! several chats at once. A turn is claimed with a lease longer than an answer can take; if
//! this process dies mid-turn the turn stays pending and is answered after a restart (or by
//! another instance when the lease runs out), and only one answer is written.

use std::sync::Arc;
use std::time::Duration;

use desk_core::Millis;
use desk_store::{ChannelScope, QueuedBotTurn, StoreError};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::service::bot;
use crate::state::AppState;

/// Chats answered at once: an external bot may take seconds, other chats do not wait for it.
const PARALLEL_TURNS: usize = 16;
/// Longer than a turn takes (the external bot's 5 s timeout, a contact look-up and the write),
/// so a live worker never loses its lease.
const LEASE_MS: Millis = 15_000;
/// Attempts before a turn that keeps failing is set aside (kept, with its error).
const MAX_ATTEMPTS: i32 = 10;
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Runs the worker; at cancellation, turns in flight still finish.
pub async fn run(state: AppState, cancel: CancellationToken) {
    let permits = Arc::new(Semaphore::new(PARALLEL_TURNS));
    let tasks = TaskTracker::new();
    loop {
        let free = i64::try_from(permits.available_permits()).unwrap_or(0);
        let now = state.clock.now_ms();
        let turns = if free == 0 {
            Vec::new()
        } else {
            state
                .store
                .bot_turns_claim(now, LEASE_MS, free)
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "bot turn claim failed");
                    Vec::new()
                })
        };
        for turn in turns {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                break;
            };
            let state = state.clone();
            tasks.spawn(async move {
                run_turn(&state, turn).await;
                drop(permit);
                // The chat's next turn (if any) is claimable now.
                state.bot.wake();
            });
        }
        if !super::idle(&cancel, &state.bot.wake, None, now, IDLE_POLL).await {
            break;
        }
    }
    tasks.close();
    tasks.wait().await;
}

/// Answers one turn; on failure records it, to be retried with a growing delay.
async fn run_turn(state: &AppState, turn: QueuedBotTurn) {
    let (id, attempts) = (turn.id, turn.attempts);
    let error = match answer(state, turn).await {
        Ok(()) => return,
        Err(e) => e.to_string(),
    };
    let now = state.clock.now_ms();
    let give_up = attempts >= MAX_ATTEMPTS;
    let retry_at = now + 1_000 * i64::from(attempts.clamp(1, 60));
    tracing::warn!(turn = id, error, give_up, "bot turn not answered");
    if let Err(e) = state
        .store
        .bot_turn_failed(id, &error, retry_at, give_up, now)
        .await
    {
        tracing::error!(error = %e, "could not record the bot turn failure");
    }
}

async fn answer(state: &AppState, turn: QueuedBotTurn) -> Result<(), StoreError> {
    let now = state.clock.now_ms();
    let channel = state
        .channels
        .by_id(&state.store, turn.channel_id, now)
        .await?;
    let scope = ChannelScope::from(&*channel);
    let rules = state.rules.get(&state.store, channel.id, now).await?;
    match bot::event_of(&turn, scope, rules) {
        Some(event) => bot::answer(state, &state.bot.external, event).await,
        None => state.store.bot_turn_done(turn.id, now).await.map(|_| ()),
    }
}
