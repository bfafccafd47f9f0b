//! Use cases: what the HTTP handlers and workers do, built on desk-core rules and the store.

pub mod account_info;
pub mod accounts;
pub mod bot;
pub mod bot_config;
pub mod bot_external;
pub mod channels;
pub mod inbound;
pub mod media;
pub mod members;
pub mod profiles;
pub mod routing;
pub mod rules;
pub mod send;
pub mod share_kit;
pub mod tokens;
pub mod webhook_check;
pub mod wizard;
