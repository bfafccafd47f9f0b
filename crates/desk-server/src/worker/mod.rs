//! Background loops. Each runs until its cancellation token fires.

pub mod inbox;
pub mod outbox;
pub mod timers;
