//! Short-lived channel access tokens (`channel-access-token.yml`): issue, verify, revoke.
//! At most 30 tokens are valid per channel; issuing another revokes the oldest.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::clock;
use crate::error::ApiError;
use crate::sim::LineSim;
use crate::state::TOKEN_LIFETIME_SECS;

type FormBody = Result<Form<HashMap<String, String>>, FormRejection>;

const MISSING: &str = "some parameters missed or invalid";

fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    form.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// `POST /v2/oauth/accessToken` (form: `grant_type=client_credentials`, `client_id`,
/// `client_secret`).
pub(crate) async fn issue(
    State(sim): State<LineSim>,
    form: FormBody,
) -> Result<Response, ApiError> {
    let Ok(Form(form)) = form else {
        return Err(ApiError::oauth("invalid_request", MISSING));
    };
    let (Some(grant), Some(client_id), Some(secret)) = (
        field(&form, "grant_type"),
        field(&form, "client_id"),
        field(&form, "client_secret"),
    ) else {
        return Err(ApiError::oauth("invalid_request", MISSING));
    };
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
    form: FormBody,
) -> Result<Response, ApiError> {
    let Ok(Form(form)) = form else {
        return Err(ApiError::oauth("invalid_request", MISSING));
    };
    let Some(token) = field(&form, "access_token") else {
        return Err(ApiError::oauth("invalid_request", MISSING));
    };
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
    form: FormBody,
) -> Result<Response, ApiError> {
    let Ok(Form(form)) = form else {
        return Err(ApiError::oauth("invalid_request", MISSING));
    };
    let Some(token) = field(&form, "access_token") else {
        return Err(ApiError::oauth("invalid_request", MISSING));
    };
    sim.lock().revoke_token(token);
    Ok(().into_response())
}
