//! `line-sim`: a fake LINE Platform for linedesk's tests and demo.
//!
//! It serves the part of the Messaging API the desk uses, shaped as LINE's official OpenAPI
//! files say (paths, field names, status codes, `{"message", "details"}` error bodies): channel
//! access tokens, bot info and profiles, reply and push (with retry keys), content download,
//! quota, loading animation, mark-as-read and the webhook settings/test. It also plays the LINE
//! side of webhooks: [`LineSim::event`] builds event objects per `webhook.yml` and
//! [`LineSim::deliver`] signs and POSTs them to the desk.
//!
//! Tests drive it through the library ([`LineSim`]) and inspect what the desk did with
//! [`LineSim::sent`], [`LineSim::requests`] and friends; faults can be injected with
//! [`LineSim::set_faults`] and [`LineSim::fail_next`]. `linedesk sim` runs it standalone with
//! [`run`] and a small JSON control API under `/sim`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use line_sim::{ChannelSpec, EventKind, LineSim, Source};
//! let sim = LineSim::new();
//! sim.add_channel(ChannelSpec::new("1234567890", "secret"));
//! sim.spawn().await?;
//! sim.set_webhook("1234567890", "http://127.0.0.1:8080/webhook");
//! sim.send("1234567890", Source::User("U0123".into()), EventKind::Text("hi".into())).await?;
//! # Ok(()) }
//! ```

mod api;
mod clock;
mod control;
mod error;
mod events;
pub mod ids;
pub mod load;
mod media_check;
mod model;
mod sim;
mod state;
mod validate;
mod webhook_out;

use std::future::Future;
use std::net::SocketAddr;

pub use error::SimError;
pub use media_check::MediaVerdict;
pub use model::{
    ChannelSpec, ChatMode, DeliverOpts, Delivery, EventKind, FailWhen, Faults, RecordedRequest,
    SendApi, SentRecord, SimUser, Source,
};
pub use sim::LineSim;

/// Serves a simulator with `channels` on `addr` until `shutdown` completes (for `linedesk sim`).
pub async fn run(
    addr: SocketAddr,
    channels: Vec<ChannelSpec>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sim = LineSim::new();
    for spec in channels {
        sim.add_channel(spec);
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    sim.set_base_url(format!("http://{local}"));
    tracing::info!(addr = %local, "line-sim serving");
    axum::serve(listener, sim.router())
        .with_graceful_shutdown(shutdown)
        .await
}
