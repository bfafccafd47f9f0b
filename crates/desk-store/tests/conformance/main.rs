//! One conformance suite, run on both backends: every test below runs on SQLite, and on
//! Postgres when `LINEDESK_TEST_POSTGRES_URL` is set (CI sets it; an unreachable server fails).

mod bot;
mod directory;
mod inbound;
mod inbox;
mod media;
mod outbox;
mod routing;
mod support;
