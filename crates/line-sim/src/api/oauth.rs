//! Short-lived channel access tokens (`channel-access-token.yml`): issue, verify, revoke.
//! At most 30 tokens are valid per channel; issuing another revokes the oldest.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Form, FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::clock;
use crate::error::ApiError;
use crate::sim::LineSim;
use crate::state::TOKEN_LIFETIME_SECS;

const MISSING: &str = "some parameters missed or invalid";

/// LINE's answer to a missing or unreadable parameter, whichever it is.
fn missing() -> ApiError {
    ApiError::oauth("invalid_request", MISSING)
}

/// The fields of an OAuth call's form body; a body that is not a form answers [`missing`].
pub(crate) struct OAuthForm(HashMap<String, String>);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Form::from_request(req, state)
            .await
            .map(|Form(fields)| OAuthForm(fields))
            .map_err(|_| missing())
    }
}

/// A non-empty form field, or [`missing`].
fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(missing)
}

/// `POST /v2/oauth/accessToken` (form: `grant_type=client_credentials`, `client_id`,
/// `client_secret`).
pub(crate) async fn issue(
    State(sim): State<LineSim>,
    OAuthForm(form): OAuthForm,
) -> Result<Response, ApiError> {
    let grant = field(&form, "grant_type")?;
    let client_id = field(&form, "client_id")?;
    let secret = field(&form, "client_secret")?;
    if grant != "client_credentials" {
        return Err(ApiError::oauth(
            "unsupported_grant_type",
            "unsupported grant_type",
        ));
    }
    let mut st = sim.lock();
    let Some(channel) = st.channels.get(client_id) else {
        return Err(ApiError::oauth("invalid_client", "invalid client_id"));
    };
    if channel.spec.secret != secret {
        return Err(ApiError::oauth("invalid_client", "invalid client_secret"));
    }
    let Some(token) = st.issue_token(client_id, clock::now_ms()) else {
        return Err(ApiError::oauth("invalid_client", "invalid client_id"));
    };
    drop(st);
    tracing::info!(client_id, "issued channel access token");
    Ok(Json(json!({
        "access_token": token,
        "expires_in": TOKEN_LIFETIME_SECS,
        "token_type": "Bearer",
    }))
    .into_response())
}

/// `POST /v2/oauth/verify` (form: `access_token`).
pub(crate) async fn verify(
    State(sim): State<LineSim>,
    OAuthForm(form): OAuthForm,
) -> Result<Response, ApiError> {
    let token = field(&form, "access_token")?;
    let now = clock::now_ms();
    let st = sim.lock();
    let valid = st.channel_for_token(token, now);
    match (valid, st.access_tokens.get(token)) {
        (Some(channel_id), Some(t)) => {
            let expires_in = (t.issued_ms + TOKEN_LIFETIME_SECS * 1000 - now) / 1000;
            Ok(Json(json!({
                "client_id": channel_id,
                "expires_in": expires_in,
                "scope": "P CM",
            }))
            .into_response())
        }
        _ => Err(ApiError::oauth("invalid_request", "access token expired")),
    }
}

/// `POST /v2/oauth/revoke` (form: `access_token`). Revoking an unknown token is not an error.
pub(crate) async fn revoke(
    State(sim): State<LineSim>,
    OAuthForm(form): OAuthForm,
) -> Result<Response, ApiError> {
    let token = field(&form, "access_token")?;
    sim.lock().revoke_token(token);
    Ok(().into_response())
}
