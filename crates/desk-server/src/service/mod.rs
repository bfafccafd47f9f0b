//! Use cases: what the HTTP handlers and workers do, built on desk-core rules and the store.

pub mod channels;
pub mod inbound;
pub mod members;
pub mod routing;
pub mod rules;
pub mod send;
pub mod tokens;
