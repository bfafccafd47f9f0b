//! The HTTP surface: LINE's webhook, the JSON API and health checks.

mod api;
pub mod auth;
mod events;
mod health;
mod hours;
mod lifecycle;
mod routing;
mod webhook;

use axum::Router;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(webhook::routes())
        .nest(
            "/api/v1",
            api::routes()
                .merge(events::routes())
                .merge(lifecycle::routes())
                .merge(hours::routes())
                .merge(routing::routes()),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(post(health::not_found).get(health::not_found))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::new())
        .with_state(state)
}
