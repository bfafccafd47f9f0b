//! Time as unix milliseconds: what both stores keep, and what LINE's `timestamp` uses.

/// Unix time in milliseconds.
pub type Millis = i64;

/// One second, in [`Millis`].
pub const SECOND: Millis = 1_000;
/// One minute, in [`Millis`].
pub const MINUTE: Millis = 60 * SECOND;
/// One hour, in [`Millis`].
pub const HOUR: Millis = 60 * MINUTE;
