//! The `/sim` control API (JSON), for `linedesk sim` and the demo; tests use the library.
//!
//! - `POST /sim/channels` — body [`ChannelSpec`] → the spec with defaults filled
//! - `GET /sim/channels` — all channel specs
//! - `PUT /sim/channels/{channel_id}/webhook` — `{"endpoint": url, "active"?: bool}`
//! - `POST /sim/channels/{channel_id}/users` — body [`SimUser`]
//! - `POST /sim/channels/{channel_id}/users/{user_id}/text` — `{"text": ...}` → sends a text
//!   event; answers the [`crate::Delivery`]
//! - `GET /sim/sent` — [`crate::SentRecord`] list; `GET /sim/requests` — request log

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::api::LinePath;
use crate::error::{ApiError, SimError};
use crate::model::{ChannelSpec, EventKind, SimUser, Source};
use crate::sim::LineSim;

pub(crate) fn router() -> Router<LineSim> {
    Router::new()
        .route("/sim/channels", post(add_channel).get(list_channels))
        .route("/sim/channels/{channel_id}/webhook", put(set_webhook))
        .route("/sim/channels/{channel_id}/users", post(add_user))
        .route(
            "/sim/channels/{channel_id}/users/{user_id}/text",
            post(send_text),
        )
        .route("/sim/sent", get(sent))
        .route("/sim/requests", get(requests))
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v)
        .map_err(|e| ApiError::message(StatusCode::BAD_REQUEST, e.body_text()))
}

fn require_channel(sim: &LineSim, channel_id: &str) -> Result<(), ApiError> {
    if sim.channel(channel_id).is_some() {
        Ok(())
    } else {
        Err(ApiError::message(
            StatusCode::NOT_FOUND,
            format!("unknown channel {channel_id:?}"),
        ))
    }
}

async fn add_channel(
    State(sim): State<LineSim>,
    body: Result<Json<ChannelSpec>, JsonRejection>,
) -> Result<Response, ApiError> {
    let spec = json_body(body)?;
    let id = spec.channel_id.clone();
    if id.is_empty() || spec.secret.is_empty() {
        return Err(ApiError::message(
            StatusCode::BAD_REQUEST,
            "channel_id and secret are required",
        ));
    }
    sim.add_channel(spec);
    let spec = sim.channel(&id);
    Ok((StatusCode::CREATED, Json(spec)).into_response())
}

async fn list_channels(State(sim): State<LineSim>) -> Json<Vec<ChannelSpec>> {
    let mut specs: Vec<ChannelSpec> = sim
        .lock()
        .channels
        .values()
        .map(|c| c.spec.clone())
        .collect();
    specs.sort_by(|a, b| a.channel_id.cmp(&b.channel_id));
    Json(specs)
}

#[derive(Deserialize)]
struct WebhookBody {
    endpoint: String,
    #[serde(default)]
    active: Option<bool>,
}

async fn set_webhook(
    State(sim): State<LineSim>,
    LinePath(channel_id): LinePath<String>,
    body: Result<Json<WebhookBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = json_body(body)?;
    require_channel(&sim, &channel_id)?;
    sim.set_webhook(&channel_id, &body.endpoint);
    if let Some(active) = body.active {
        sim.set_webhook_active(&channel_id, active);
    }
    Ok(Json(json!({})))
}

async fn add_user(
    State(sim): State<LineSim>,
    LinePath(channel_id): LinePath<String>,
    body: Result<Json<SimUser>, JsonRejection>,
) -> Result<Json<SimUser>, ApiError> {
    let user = json_body(body)?;
    require_channel(&sim, &channel_id)?;
    sim.add_user(&channel_id, user.clone());
    Ok(Json(user))
}

#[derive(Deserialize)]
struct TextBody {
    text: String,
}

async fn send_text(
    State(sim): State<LineSim>,
    LinePath((channel_id, user_id)): LinePath<(String, String)>,
    body: Result<Json<TextBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    require_channel(&sim, &channel_id)?;
    match sim
        .send(
            &channel_id,
            Source::User(user_id),
            EventKind::Text(body.text),
        )
        .await
    {
        Ok(delivery) => Ok(Json(delivery).into_response()),
        Err(e) => {
            let status = match &e {
                SimError::UnknownChannel(_) => StatusCode::NOT_FOUND,
                SimError::NoWebhook(_) | SimError::WebhookInactive(_) => StatusCode::CONFLICT,
                SimError::Http(_) | SimError::Json(_) => StatusCode::BAD_GATEWAY,
            };
            Err(ApiError::message(status, e.to_string()))
        }
    }
}

async fn sent(State(sim): State<LineSim>) -> Json<Vec<crate::model::SentRecord>> {
    Json(sim.sent())
}

async fn requests(State(sim): State<LineSim>) -> Json<Vec<crate::model::RecordedRequest>> {
    Json(sim.requests())
}
