//! The chatbot's API: a channel's bot configuration (`/channels/{id}/bot`), and operators
//! taking a chat from the bot or giving it back.
//!
//! Operators see bot chats in their list (`GET /conversations?state=bot`) but cannot write
//! into them (the lifecycle refuses with "take it over first"); `take-over` opens the chat
//! for them, `hand-back` returns it to the bot.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Json;
use axum::routing::{get, post};
use desk_core::lifecycle::Command;
use desk_store::Conversation;

use crate::error::ApiError;
use crate::http::api::json_body;
use crate::http::auth::ApiOperator;
use crate::http::channels::managed_channel;
use crate::http::lifecycle::act;
use crate::service::bot_config::{self, BotUpdate, BotView};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/channels/{id}/bot", get(show).put(update))
        .route("/conversations/{id}/take-over", post(take_over))
        .route("/conversations/{id}/hand-back", post(hand_back))
}

/// `GET /channels/{id}/bot`: mode, rules, external URL, idle settings, reply/push counts and
/// external bot failures.
#[tracing::instrument(skip_all, fields(operator = %op.id(), channel = %id))]
async fn show(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<BotView>, ApiError> {
    let channel = managed_channel(&state, &op, &id).await?.id;
    Ok(Json(bot_config::show(&state, channel).await?))
}

/// `PUT /channels/{id}/bot`: replaces the configuration; a bad value answers 400 naming it.
/// The answer carries `secret` once, when an external bot's signing secret was issued.
#[tracing::instrument(skip_all, fields(operator = %op.id(), channel = %id))]
async fn update(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<BotView>, ApiError> {
    let channel = managed_channel(&state, &op, &id).await?.id;
    let update: BotUpdate = json_body("body", &body)?;
    Ok(Json(bot_config::update(&state, channel, update).await?))
}

/// `POST /conversations/{id}/take-over`: the operator takes the chat from the bot (it opens,
/// assigned to them).
#[tracing::instrument(skip_all, fields(operator = %op.id(), conversation = %id))]
async fn take_over(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    act(&state, &op, &id, Command::TakeOver { operator: op.id() }).await
}

/// `POST /conversations/{id}/hand-back`: the chat goes (back) to the bot.
#[tracing::instrument(skip_all, fields(operator = %op.id(), conversation = %id))]
async fn hand_back(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    act(&state, &op, &id, Command::HandBack).await
}
