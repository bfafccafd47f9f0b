//! Webhook settings: `GET`/`PUT /v2/bot/channel/webhook/endpoint` and
//! `POST /v2/bot/channel/webhook/test`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Auth, JsonObject, RawBody, json_object};
use crate::error::{ApiError, Detail};
use crate::sim::LineSim;
use crate::validate::{is_acceptable_url, utf16_len};
use crate::webhook_out;

/// Checks `endpoint` of a request body: optional (when `required` is false), otherwise a
/// HTTPS URL (HTTP to localhost allowed) of at most 500 characters.
fn endpoint_of(body: &Value, required: bool) -> Result<Option<String>, ApiError> {
    match body.get("endpoint") {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) if s.is_empty() && !required => Ok(None),
        None | Some(Value::Null) => Err(ApiError::invalid_body(&[Detail::new(
            "May not be empty",
            "endpoint",
        )])),
        Some(Value::String(s)) if utf16_len(s) > 500 => {
            Err(ApiError::invalid_body(&[Detail::new(
                "Length must be between 0 and 500",
                "endpoint",
            )]))
        }
        Some(Value::String(s)) if is_acceptable_url(s) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::message(
            StatusCode::BAD_REQUEST,
            "Invalid webhook endpoint URL",
        )),
    }
}

/// `GET /v2/bot/channel/webhook/endpoint` → `{"endpoint", "active"}` (`""`/`false` when unset).
pub(crate) async fn get_endpoint(
    State(sim): State<LineSim>,
    auth: Auth,
) -> Result<Json<Value>, ApiError> {
    let st = sim.lock();
    let ch = auth.channel(&st)?;
    Ok(Json(match &ch.webhook_url {
        Some(url) => json!({ "endpoint": url, "active": ch.webhook_active }),
        None => json!({ "endpoint": "", "active": false }),
    }))
}

/// `PUT /v2/bot/channel/webhook/endpoint` (`{"endpoint": url}`) → `200 {}`.
pub(crate) async fn put_endpoint(
    State(sim): State<LineSim>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let endpoint = endpoint_of(&body, true)?;
    auth.channel_mut(&mut sim.lock())?.webhook_url = endpoint;
    Ok(Json(json!({})).into_response())
}

/// `POST /v2/bot/channel/webhook/test` (optional `{"endpoint": url}`, else the stored URL) →
/// `TestWebhookEndpointResponse`. Sends a signed `{"destination", "events": []}`.
pub(crate) async fn test(
    State(sim): State<LineSim>,
    auth: Auth,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let requested = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        endpoint_of(&json_object(&body)?, false)?
    };
    let (url, secret, bot_user_id, timeout) = {
        let st = sim.lock();
        let ch = auth.channel(&st)?;
        let url = requested
            .or_else(|| ch.webhook_url.clone())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                ApiError::message(StatusCode::BAD_REQUEST, "The webhook URL is not set")
            })?;
        (
            url,
            ch.spec.secret.clone(),
            ch.spec.bot_user_id.clone(),
            st.webhook_test_timeout,
        )
    };
    let result = webhook_out::test(sim.http(), &url, &secret, &bot_user_id, timeout).await;
    tracing::info!(%url, result = %result, "webhook test");
    Ok(Json(result).into_response())
}
