//! Operator actions on a conversation (accept, close, transfer) and the per-channel
//! auto-close settings. Every action goes through desk-core's lifecycle in the store; a
//! refused action answers 409 with the reason (e.g. "this chat is completed").

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Json;
use axum::routing::{get, post};
use desk_core::lifecycle::{Command, TransferTarget};
use desk_core::{ChannelSettings, DepartmentId, OperatorId};
use desk_store::{Channel, Conversation};
use serde::Deserialize;

use crate::error::ApiError;
use crate::http::api::{json_body, parse_field};
use crate::http::auth::{ApiOperator, access_of};
use crate::http::channels::{audit, channel_for, managed_channel};
use crate::service::routing;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/conversations/{id}/accept", post(accept))
        .route("/conversations/{id}/close", post(close))
        .route("/conversations/{id}/transfer", post(transfer))
        .route(
            "/channels/{id}/settings",
            get(show_settings).put(update_settings),
        )
}

/// Runs `command` on the conversation the operator may see; answers the conversation after.
pub(super) async fn act(
    state: &AppState,
    op: &ApiOperator,
    id: &str,
    command: Command,
) -> Result<Json<Conversation>, ApiError> {
    let conversation = op.conversation(state, id).await?;
    let now = state.clock.now_ms();
    let rules = state
        .rules
        .get(&state.store, conversation.channel_id, now)
        .await?;
    state
        .store
        .command(conversation.id, command, &rules, now)
        .await?;
    // Consoles see it at once; a close can queue a closing message; a state change can move
    // the next deadline.
    state.hub.nudge();
    state.wake.outbox.notify_one();
    state.wake.timers.notify_one();
    let after = state.store.conversation(conversation.id).await?;
    // The chat left (or joined) a line, and its former holder may have room now in every
    // department they serve.
    let mut departments = vec![conversation.department_id, after.department_id];
    if let Some(previous) = conversation.assignee_id {
        departments.extend(routing::departments_of(state, OperatorId(previous)).await);
    }
    routing::route(state, departments).await;
    Ok(Json(state.store.conversation(conversation.id).await?))
}

/// `POST /conversations/{id}/accept`: pick up a waiting or missed chat.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, conversation = %id))]
async fn accept(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    act(&state, &op, &id, Command::Accept { operator: op.0.id }).await
}

/// `POST /conversations/{id}/close`: complete the chat.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, conversation = %id))]
async fn close(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    act(&state, &op, &id, Command::Close { operator: op.0.id }).await
}

/// Body of `POST /conversations/{id}/transfer`: exactly one of the two targets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    operator_id: Option<String>,
    department_id: Option<String>,
    note: Option<String>,
}

/// `POST /conversations/{id}/transfer` `{"operator_id"|"department_id": …, "note": …}`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, conversation = %id))]
async fn transfer(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Conversation>, ApiError> {
    let body: TransferBody = json_body("body", &body)?;
    let to = match (body.operator_id, body.department_id) {
        (Some(o), None) => TransferTarget::Operator(parse_field::<OperatorId>("operator_id", &o)?),
        (None, Some(d)) => {
            TransferTarget::Department(parse_field::<DepartmentId>("department_id", &d)?)
        }
        _ => {
            return Err(ApiError::bad_request(
                "body",
                "give exactly one of `operator_id` and `department_id`",
            ));
        }
    };
    let conversation = op.conversation(&state, &id).await?;
    transfer_target_allowed(&state, &conversation, to).await?;
    act(
        &state,
        &op,
        &id,
        Command::Transfer {
            to,
            note: body.note,
        },
    )
    .await
}

/// A chat stays in its brand: a department target must be of that brand, an operator target
/// active and allowed to handle the chat (same brand; an operator must be in its department).
async fn transfer_target_allowed(
    state: &AppState,
    conversation: &Conversation,
    to: TransferTarget,
) -> Result<(), ApiError> {
    match to {
        TransferTarget::Department(department) => {
            if state.store.department_brand(department).await? != conversation.brand_id {
                return Err(ApiError::bad_request(
                    "department_id",
                    "that department belongs to another brand",
                ));
            }
        }
        TransferTarget::Operator(operator) => {
            let target = state.store.operator_account(operator).await?;
            let access = access_of(state, &target.operator).await?;
            if target.deactivated_ms.is_some()
                || access
                    .conversation(conversation.brand_id, conversation.department_id)
                    .is_err()
            {
                return Err(ApiError::bad_request(
                    "operator_id",
                    "that operator cannot take chats of this brand and department",
                ));
            }
        }
    }
    Ok(())
}

/// `GET /channels/{id}/settings`: auto-close and chatbot timing.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, channel = %id))]
async fn show_settings(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<ChannelSettings>, ApiError> {
    let channel = channel_for(&state, &op, &id).await?;
    Ok(Json(state.store.chat_rules(channel.id).await?.settings))
}

/// `PUT /channels/{id}/settings`: validated as a whole; an invalid value answers 400 naming it
/// (e.g. "missed_window: …"). `bot_enabled` follows the chatbot's configuration (see
/// [`crate::service::bot_config::channel_settings`]). Admins and the brand's supervisors.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, channel = %id))]
async fn update_settings(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ChannelSettings>, ApiError> {
    let Channel {
        id: channel,
        brand_id: brand,
        ..
    } = managed_channel(&state, &op, &id).await?;
    let settings = crate::service::bot_config::channel_settings(&state, channel, &body).await?;
    state.store.set_channel_settings(channel, &settings).await?;
    audit(
        &state,
        &op,
        Some(brand),
        "channel.settings_changed",
        format!("channel:{channel}"),
        serde_json::json!({"settings": settings}),
    )
    .await;
    state.rules.invalidate();
    Ok(Json(settings))
}
