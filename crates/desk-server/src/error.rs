//! The HTTP API's error type: every failure becomes a JSON body that says what is wrong.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use desk_store::StoreError;
use serde_json::json;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong; `field` names the part that is.
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    /// Missing or unknown credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Nothing there.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with the state (e.g. sending into a completed chat).
    #[error("{0}")]
    Conflict(String),
    /// LINE could not be reached or answered unexpectedly; the message says what happened.
    #[error("{0}")]
    Upstream(String),
    /// Something failed on our side; details are logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A bad request naming the field.
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Upstream(_) => (StatusCode::BAD_GATEWAY, "line_unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Invalid { field, message } => ApiError::bad_request(field, message),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; see the server log".to_owned()
            }
            ApiError::BadRequest { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let field = match &self {
            ApiError::BadRequest { field, .. } => Some(field.as_str()),
            _ => None,
        };
        (
            status,
            Json(json!({"error": {"code": code, "message": message, "field": field}})),
        )
            .into_response()
    }
}
