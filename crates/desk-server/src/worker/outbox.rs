//! The sender: claims due outbox jobs and delivers them to LINE.

use std::time::Duration;

use desk_core::{Millis, RetryPolicy};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::service::send;
use crate::state::AppState;

const BATCH: i64 = 32;
/// Longer than a send can take (timeouts included), so a live sender never loses its lease.
const LEASE_MS: Millis = 120_000;
const PARALLEL_SENDS: usize = 8;
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Runs the sender.
pub async fn run(state: AppState, cancel: CancellationToken) {
    let policy = RetryPolicy::default();
    loop {
        let now = state.clock.now_ms();
        let jobs = match state.store.outbox_claim(now, LEASE_MS, BATCH).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, "outbox claim failed");
                Vec::new()
            }
        };
        let busy = !jobs.is_empty();
        futures::stream::iter(jobs)
            .for_each_concurrent(PARALLEL_SENDS, |job| {
                let (state, policy) = (&state, &policy);
                async move {
                    let outcome = send::deliver(state, &job, policy, state.clock.now_ms()).await;
                    if let Err(e) = state.store.outbox_finish(&job, &outcome, state.clock.now_ms()).await {
                        // The lease runs out and the job is retried with the same retry key.
                        tracing::error!(outbox_id = %job.id, error = %e, "could not record the send outcome");
                    }
                    state.hub.nudge();
                }
            })
            .await;
        if busy {
            if cancel.is_cancelled() {
                return;
            }
            continue;
        }
        let next = state.store.outbox_next_due().await.ok().flatten();
        if !super::idle(
            &cancel,
            &state.wake.outbox,
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
