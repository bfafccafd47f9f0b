//! The api-data host: `GET /v2/bot/message/{messageId}/content` (and `/preview`,
//! `/transcoding`). Content that is still "preparing" answers 202; unsent messages 410.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::send::injected_faults;
use super::{Auth, LinePath};
use crate::error::ApiError;
use crate::sim::LineSim;
use crate::state::{Content, State as SimState};

fn lookup<'a>(
    st: &'a mut SimState,
    channel_id: &str,
    message_id: &str,
) -> Result<&'a mut Content, ApiError> {
    let content = st
        .contents
        .get_mut(message_id)
        .filter(|c| c.channel_id.as_deref().is_none_or(|c| c == channel_id))
        .ok_or_else(ApiError::not_found)?;
    if content.unsent {
        return Err(ApiError::message(StatusCode::GONE, "Gone"));
    }
    Ok(content)
}

fn blob(content_type: &str, bytes: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, bytes).into_response();
    let ct = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    resp
}

/// Which bytes a download asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rendition {
    Original,
    Preview,
}

/// `content` and `preview`: the same faults, lookup and 202-while-preparing, except that only
/// images and videos have a preview, and only fetching the original counts a 202 down.
async fn download(
    sim: &LineSim,
    auth: &Auth,
    message_id: &str,
    rendition: Rendition,
) -> Result<Response, ApiError> {
    injected_faults(sim).await?;
    let mut st = sim.lock();
    let c = lookup(&mut st, &auth.channel_id, message_id)?;
    if rendition == Rendition::Preview
        && !(c.content_type.starts_with("image/") || c.content_type.starts_with("video/"))
    {
        return Err(ApiError::not_found());
    }
    if c.preparing > 0 {
        if rendition == Rendition::Original {
            c.preparing -= 1;
        }
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    Ok(blob(&c.content_type, c.bytes.clone()))
}

/// `GET /v2/bot/message/{messageId}/content`.
pub(crate) async fn content(
    State(sim): State<LineSim>,
    auth: Auth,
    LinePath(message_id): LinePath<String>,
) -> Result<Response, ApiError> {
    download(&sim, &auth, &message_id, Rendition::Original).await
}

/// `GET /v2/bot/message/{messageId}/content/preview`: images and videos only (the sim serves
/// the original bytes as the preview).
pub(crate) async fn preview(
    State(sim): State<LineSim>,
    auth: Auth,
    LinePath(message_id): LinePath<String>,
) -> Result<Response, ApiError> {
    download(&sim, &auth, &message_id, Rendition::Preview).await
}

/// `GET /v2/bot/message/{messageId}/content/transcoding` → `{"status": "processing" | "succeeded"}`.
pub(crate) async fn transcoding(
    State(sim): State<LineSim>,
    auth: Auth,
    LinePath(message_id): LinePath<String>,
) -> Result<Response, ApiError> {
    let mut st = sim.lock();
    let c = lookup(&mut st, &auth.channel_id, &message_id)?;
    let status = if c.preparing > 0 {
        "processing"
    } else {
        "succeeded"
    };
    Ok(Json(json!({ "status": status })).into_response())
}
