//! `POST /v2/bot/chat/loading/start` (loading animation in one-to-one chats) and
//! `POST /v2/bot/chat/markAsRead` (by `markAsReadToken`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Auth, JsonObject};
use crate::error::{ApiError, Detail};
use crate::sim::LineSim;

/// Default `loadingSeconds`.
const DEFAULT_LOADING_SECONDS: u32 = 20;

/// `POST /v2/bot/chat/loading/start` → `202 {}`. `chatId` must be a user who is a friend;
/// `loadingSeconds` (default 20) a multiple of 5 from 5 to 60.
pub(crate) async fn loading_start(
    State(sim): State<LineSim>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let mut details = Vec::new();
    let chat_id = match body.get("chatId") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            details.push(Detail::new("May not be empty", "chatId"));
            None
        }
        Some(_) => {
            details.push(Detail::new("Must be a string", "chatId"));
            None
        }
    };
    let seconds = match body.get("loadingSeconds") {
        None | Some(Value::Null) => Some(DEFAULT_LOADING_SECONDS),
        Some(v) => match v.as_u64() {
            Some(n) if (5..=60).contains(&n) && n % 5 == 0 => u32::try_from(n).ok(),
            _ => {
                details.push(Detail::new(
                    "Must be a multiple of 5 between 5 and 60",
                    "loadingSeconds",
                ));
                None
            }
        },
    };
    if !details.is_empty() {
        return Err(ApiError::invalid_body(&details));
    }
    let (Some(chat_id), Some(seconds)) = (chat_id, seconds) else {
        return Err(ApiError::invalid_body(&details));
    };
    let mut st = sim.lock();
    let is_friend = st
        .channels
        .get(&auth.channel_id)
        .and_then(|ch| ch.users.get(&chat_id))
        .is_some_and(|u| !u.blocked);
    if !is_friend {
        return Err(ApiError::invalid_body(&[Detail::new(
            "Invalid chat ID",
            "chatId",
        )]));
    }
    st.loading.push((chat_id, seconds));
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}

/// `POST /v2/bot/chat/markAsRead` → `200 {}`; the token must have come to this channel in a
/// webhook.
pub(crate) async fn mark_as_read(
    State(sim): State<LineSim>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let token = match body.get("markAsReadToken") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(ApiError::invalid_body(&[Detail::new(
                "May not be empty",
                "markAsReadToken",
            )]));
        }
    };
    let mut st = sim.lock();
    let ok = st
        .read_tokens
        .get(&token)
        .is_some_and(|c| *c == auth.channel_id);
    if !ok {
        return Err(ApiError::invalid_body(&[Detail::new(
            "Invalid markAsReadToken",
            "markAsReadToken",
        )]));
    }
    st.read_marks.push(token);
    Ok(Json(json!({})).into_response())
}
