//! The member worker: looks up the group and room members whose messages were stored without
//! their writer's name (see [`MemberNames`](crate::service::members::MemberNames)), a few at
//! a time, and names those messages in one transaction per round.

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::service::members;
use crate::state::AppState;

/// Members looked up at once.
const PARALLEL: usize = 8;

/// Runs the worker.
#[tracing::instrument(name = "member_worker", skip_all)]
pub async fn run(state: AppState, cancel: CancellationToken) {
    loop {
        let wanted = state.members.take(PARALLEL * 4);
        if wanted.is_empty() {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = state.members.requested() => {}
            }
            continue;
        }
        round(&state, wanted).await;
    }
}

#[tracing::instrument(skip_all, fields(members = wanted.len()))]
async fn round(state: &AppState, wanted: Vec<(members::Key, members::Wanted)>) {
    let now = state.clock.now_ms();
    let names: Vec<_> = futures::stream::iter(wanted)
        .map(|(key, wanted)| async move {
            let name = match state.members.cached(&key, now) {
                Some(known) => known,
                None => {
                    let name = members::fetch(state, &key, wanted.group, now).await;
                    state.members.remember(key.clone(), name.clone(), now);
                    name
                }
            };
            Some(members::stored(&key, wanted, name?))
        })
        .buffer_unordered(PARALLEL)
        .filter_map(std::future::ready)
        .collect()
        .await;
    match state.store.set_member_names(&names, now).await {
        Ok(()) if names.is_empty() => {}
        Ok(()) => state.hub.nudge(),
        Err(e) => tracing::error!(error = %e, "could not name the members' messages"),
    }
}
