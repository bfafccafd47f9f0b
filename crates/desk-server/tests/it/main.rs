//! desk-server integration tests: the real server on a random port, the LINE simulator as
//! LINE, SQLite always and Postgres when `LINEDESK_TEST_POSTGRES_URL` is set.

mod api;
mod auth;
mod bot;
mod browser;
mod channels;
mod console;
mod console_bot;
mod crash;

mod events;
mod events_sse;
mod helpers;
mod lifecycle;
mod media;
mod media_samples;
mod roles;
mod routing;
mod secrets;
mod send;
mod webhook;
