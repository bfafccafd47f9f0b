//! `/healthz` (the process answers) and `/readyz` (it can serve: the database answers).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// Liveness.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers. Also reports ffmpeg, which only some attachments need
/// (its absence does not make the server unready).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let ffmpeg = match state.media.ffmpeg() {
        Some(f) => f.version.clone(),
        None => {
            "missing: ogg audio and video attachments are refused until ffmpeg is installed".into()
        }
    };
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"database": "ok", "ffmpeg": ffmpeg})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"database": e.to_string(), "ffmpeg": ffmpeg})),
        ),
    }
}

/// Unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("page")
}
