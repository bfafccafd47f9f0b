//! The profile worker: looks at the users the inbox processor saw (see
//! [`ProfileRequests`](crate::service::profiles::ProfileRequests)), fetches the LINE profiles
//! the desk lacks or holds for too long, a few at a time, and stores each round in one
//! transaction. The look-up is here, not on the processor's path, so that messages reach the
//! consoles without waiting for it.

use desk_core::{BrandId, ChannelId};
use desk_store::ProfileUpdate;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::service::profiles;
use crate::state::AppState;

/// Profiles fetched at once.
const PARALLEL: usize = 16;

/// Runs the worker.
#[tracing::instrument(name = "profile_worker", skip_all)]
pub async fn run(state: AppState, cancel: CancellationToken) {
    let requests = &state.wake.profiles;
    loop {
        requests.give_way_to_messages().await;
        let wanted = requests.take(PARALLEL * 4, state.clock.now_ms());
        if wanted.is_empty() {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = requests.requested() => {}
            }
            continue;
        }
        refresh(&state, &wanted).await;
        requests.done(wanted.iter().map(|(_, key)| key));
    }
}

#[tracing::instrument(skip_all, fields(users = wanted.len()))]
async fn refresh(state: &AppState, wanted: &[(BrandId, (ChannelId, String))]) {
    let keys: Vec<_> = wanted.iter().map(|(_, key)| key.clone()).collect();
    let fetched = match state.store.contact_profile_times(&keys).await {
        Ok(fetched) => fetched,
        Err(e) => {
            tracing::error!(error = %e, "could not read when profiles were fetched");
            return;
        }
    };
    let now = state.clock.now_ms();
    let stale: Vec<_> = wanted
        .iter()
        .filter(|(_, key)| {
            // Not stored: the event that named the user was not applied; nothing to attach to.
            fetched
                .get(key)
                .is_some_and(|at| profiles::is_stale(*at, now))
        })
        .cloned()
        .collect();
    let updates: Vec<ProfileUpdate> = futures::stream::iter(stale)
        .map(|(brand_id, (channel_id, line_id))| async move {
            let profile = profiles::fetch(state, channel_id, &line_id).await?;
            Some(ProfileUpdate {
                brand_id,
                channel_id,
                line_id,
                profile,
            })
        })
        .buffer_unordered(PARALLEL)
        .filter_map(std::future::ready)
        .collect()
        .await;
    match profiles::store(state, &updates).await {
        Ok(()) => tracing::debug!(fetched = updates.len(), "profile round stored"),
        Err(e) => tracing::error!(error = %e, "could not store fetched profiles"),
    }
}
