mod client;
mod webhook;
