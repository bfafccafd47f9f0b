//! Background loops. Each runs until its cancellation token fires.

use std::time::Duration;

use desk_core::Millis;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub mod bot;
pub mod housekeeping;
pub mod inbox;
pub mod media;
pub mod members;
pub mod outbox;
pub mod profiles;
pub mod routing;
pub mod timers;

/// Waits until the next due time (`None`: nothing is scheduled), a nudge, or at most `max`;
/// returns false when the worker should stop.
async fn idle(
    cancel: &CancellationToken,
    wake: &Notify,
    next_due: Option<Millis>,
    now: Millis,
    max: Duration,
) -> bool {
    let sleep = match next_due {
        Some(at) => Duration::from_millis(u64::try_from(at - now).unwrap_or(0)).min(max),
        None => max,
    };
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = wake.notified() => true,
        _ = tokio::time::sleep(sleep) => true,
    }
}
