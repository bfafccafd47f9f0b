//! Errors: [`SimError`] for the library API, and `ApiError`, the LINE-shaped HTTP error bodies
//! the simulated endpoints answer with.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failure of a library call such as [`crate::LineSim::deliver`].
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No channel with this ID was added.
    #[error("unknown channel {0:?}")]
    UnknownChannel(String),
    /// The channel has no webhook URL.
    #[error("channel {0:?} has no webhook URL")]
    NoWebhook(String),
    /// The channel's webhook is switched off (LINE sends nothing then).
    #[error("the webhook of channel {0:?} is not active")]
    WebhookInactive(String),
    /// The webhook request failed (connection, timeout, ...).
    #[error("webhook request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The body could not be serialized.
    #[error("could not serialize the webhook body: {0}")]
    Json(#[from] serde_json::Error),
}

/// One entry of `details` in LINE's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detail {
    pub message: String,
    pub property: Option<String>,
}

impl Detail {
    pub(crate) fn new(message: impl Into<String>, property: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            property: Some(property.into()),
        }
    }

    fn to_json(&self) -> Value {
        match &self.property {
            Some(p) => json!({ "message": self.message, "property": p }),
            None => json!({ "message": self.message }),
        }
    }
}

/// An HTTP error answered by a simulated endpoint, with LINE's body shape.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    pub headers: Vec<(HeaderName, String)>,
}

/// `401` body for an unknown, expired or revoked access token.
pub(crate) const AUTH_FAILED: &str =
    "Authentication failed. Confirm that the access token in the authorization header is valid.";

/// `401` body when the header is missing or not a bearer token.
pub(crate) const AUTH_REQUIRED: &str =
    "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'";

impl ApiError {
    /// `{"message": msg}` with `status`.
    pub(crate) fn message(status: StatusCode, msg: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "message": msg.into() }),
            headers: Vec::new(),
        }
    }

    /// `400 {"message": "The request body has N error(s)", "details": [...]}`.
    pub(crate) fn invalid_body(details: &[Detail]) -> Self {
        Self::with_details(
            format!("The request body has {} error(s)", details.len()),
            details,
        )
    }

    /// `400 {"message": msg, "details": [...]}`.
    pub(crate) fn with_details(msg: String, details: &[Detail]) -> Self {
        let details: Vec<Value> = details.iter().map(Detail::to_json).collect();
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "message": msg, "details": details }),
            headers: Vec::new(),
        }
    }

    /// `404 {"message":"Not found"}`.
    pub(crate) fn not_found() -> Self {
        Self::message(StatusCode::NOT_FOUND, "Not found")
    }

    /// The OAuth endpoints' shape: `400 {"error": ..., "error_description": ...}`.
    pub(crate) fn oauth(error: &str, description: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "error": error, "error_description": description }),
            headers: Vec::new(),
        }
    }

    /// A failure injected by faults or `fail_next`, with the message LINE uses for that status.
    pub(crate) fn injected(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let msg = match status.as_u16() {
            429 => "The API rate limit has been exceeded. Try again later.",
            500 => "Internal server error",
            502 => "Bad gateway",
            503 => "Service unavailable",
            504 => "Gateway timeout",
            400 => "Bad request",
            401 => AUTH_FAILED,
            403 => "Access to this API is not available for your account",
            404 => "Not found",
            _ => status.canonical_reason().unwrap_or("Error"),
        };
        Self::message(status, msg)
    }

    /// Adds a response header.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers
            .push((HeaderName::from_static(name), value.into()));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body)).into_response();
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}
