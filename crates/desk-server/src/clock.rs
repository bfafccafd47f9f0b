//! Wall-clock time in unix milliseconds, the unit of every stored time, behind a [`Clock`]
//! that tests can move forward: timers of 15 minutes to a month are tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use desk_core::Millis;

/// Now, in unix milliseconds.
pub fn now_ms() -> Millis {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Millis::try_from(now.as_millis()).unwrap_or(Millis::MAX)
}

/// The server's clock: the system clock plus an offset that only tests change.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Now, as the server sees it.
    pub fn now_ms(&self) -> Millis {
        now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock forward (tests).
    pub fn advance(&self, by: Millis) {
        self.offset_ms.fetch_add(by, Ordering::Relaxed);
    }
}
