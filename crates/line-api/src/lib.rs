//! LINE Messaging API wire types, webhook signature verification and a typed async client.
//!
//! This crate knows LINE and nothing about linedesk: the desk and the simulator both speak through it.

pub mod client;
pub mod error;
pub mod message;
mod open_enum;
pub mod signature;
pub mod webhook;

pub use client::LineClient;
pub use error::LineError;
