//! Wall-clock time in unix milliseconds, the unit of every stored time.

use desk_core::Millis;

/// Now, in unix milliseconds.
pub fn now_ms() -> Millis {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Millis::try_from(now.as_millis()).unwrap_or(Millis::MAX)
}
