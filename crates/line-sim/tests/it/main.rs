//! Integration tests: the simulator served on a real port, driven with reqwest.

mod common;
mod content;
mod control;
mod events;
mod media_check;
mod misc;
mod oauth;
mod push;
mod reply;
mod webhook;
