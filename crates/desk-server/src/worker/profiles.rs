//! The profile worker: fetches the LINE profiles asked for (see
//! [`ProfileRequests`](crate::service::profiles::ProfileRequests)), a few at a time, and stores
//! each round in one transaction.

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
        let wanted = requests.take(PARALLEL * 4, state.clock.now_ms());
        if wanted.is_empty() {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = requests.requested() => {}
            }
            continue;
        }
        let keys: Vec<_> = wanted.iter().map(|(_, key)| key.clone()).collect();
        refresh(&state, wanted).await;
        requests.done(&keys);
    }
}

#[tracing::instrument(skip_all, fields(profiles = wanted.len()))]
async fn refresh(state: &AppState, wanted: Vec<(BrandId, (ChannelId, String))>) {
    let updates: Vec<ProfileUpdate> = futures::stream::iter(wanted)
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
    if let Err(e) = profiles::store(state, &updates).await {
        tracing::error!(error = %e, "could not store fetched profiles");
    }
}
