//! The routing worker: routes the departments others asked for (see
//! [`RouteRequests`](crate::service::routing::RouteRequests)).

use tokio_util::sync::CancellationToken;

use crate::service::routing;
use crate::state::AppState;

/// Runs the worker.
#[tracing::instrument(name = "routing_worker", skip_all)]
pub async fn run(state: AppState, cancel: CancellationToken) {
    loop {
        let departments = state.wake.routing.take();
        if departments.is_empty() {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = state.wake.routing.requested() => {}
            }
            continue;
        }
        routing::route(&state, departments).await;
    }
}
