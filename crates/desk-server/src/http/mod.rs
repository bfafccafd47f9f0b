//! The HTTP surface: LINE's webhook, the JSON API and health checks.

pub mod account;
mod api;
pub mod auth;
mod bot;
pub mod channels;
mod console_api;
mod event_scope;
mod events;
mod health;
mod hours;
mod lifecycle;
pub(crate) mod media;
mod operators;
mod routing;
mod webhook;
pub mod wizard;

use axum::Router;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(webhook::routes())
        .merge(media::public_routes())
        .merge(account::form_routes())
        .merge(crate::console::routes())
        .nest(
            "/api/v1",
            api::routes()
                .merge(events::routes())
                .merge(lifecycle::routes())
                .merge(bot::routes())
                .merge(hours::routes())
                .merge(routing::routes())
                .merge(media::routes())
                .merge(account::api_routes())
                .merge(operators::routes())
                .merge(channels::routes())
                .merge(wizard::routes())
                .merge(console_api::routes()),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(post(health::not_found).get(health::not_found))
        .layer(axum::middleware::map_response(
            crate::console::security::headers,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::new())
        .with_state(state)
}
