//! The simulated LINE HTTP API: routing, the per-request middleware (request ID, tracing span,
//! request log), bearer-token authentication and LINE-shaped extractor rejections.
//!
//! One module per area: [`oauth`] (channel access tokens), [`bot`] (bot info, profiles),
//! [`send`] (reply, push), [`content`] (api-data host), [`quota`], [`chat`] (loading
//! animation, mark as read) and [`webhook`] (endpoint settings and test).

mod bot;
mod chat;
mod content;
mod oauth;
mod quota;
mod send;
mod webhook;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument as _;

use crate::clock;
use crate::error::{AUTH_FAILED, AUTH_REQUIRED, ApiError, Detail};
use crate::ids;
use crate::model::RecordedRequest;
use crate::sim::LineSim;
use crate::state::{Channel, State as SimState};

/// Response header carrying the request ID on every answer.
pub(crate) const REQUEST_ID_HEADER: &str = "x-line-request-id";
/// Request header of push retry keys.
pub(crate) const RETRY_KEY_HEADER: &str = "x-line-retry-key";

/// Builds the whole router for `sim`.
pub(crate) fn router(sim: LineSim) -> Router {
    Router::new()
        .route("/v2/oauth/accessToken", post(oauth::issue))
        .route("/v2/oauth/verify", post(oauth::verify))
        .route("/v2/oauth/revoke", post(oauth::revoke))
        .route("/v2/bot/info", get(bot::info))
        .route("/v2/bot/profile/{user_id}", get(bot::profile))
        .route(
            "/v2/bot/group/{group_id}/member/{user_id}",
            get(bot::chat_member),
        )
        .route(
            "/v2/bot/room/{room_id}/member/{user_id}",
            get(bot::chat_member),
        )
        .route("/v2/bot/message/reply", post(send::reply))
        .route("/v2/bot/message/push", post(send::push))
        .route(
            "/v2/bot/message/{message_id}/content",
            get(content::content),
        )
        .route(
            "/v2/bot/message/{message_id}/content/preview",
            get(content::preview),
        )
        .route(
            "/v2/bot/message/{message_id}/content/transcoding",
            get(content::transcoding),
        )
        .route("/v2/bot/message/quota", get(quota::quota))
        .route("/v2/bot/message/quota/consumption", get(quota::consumption))
        .route("/v2/bot/chat/loading/start", post(chat::loading_start))
        .route("/v2/bot/chat/markAsRead", post(chat::mark_as_read))
        .route(
            "/v2/bot/channel/webhook/endpoint",
            get(webhook::get_endpoint).put(webhook::put_endpoint),
        )
        .route("/v2/bot/channel/webhook/test", post(webhook::test))
        .merge(crate::control::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(sim.clone(), observe))
        .with_state(sim)
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::message(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// The request ID of the current request (also sent back as `x-line-request-id`).
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(ids::request_id())))
    }
}

/// Per request: assigns the request ID, opens a tracing span, sets `x-line-request-id`, and
/// logs LINE-endpoint calls for [`LineSim::requests`].
async fn observe(State(sim): State<LineSim>, mut req: Request, next: Next) -> Response {
    let request_id = ids::request_id();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let retry_key = req
        .headers()
        .get(RETRY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let span = tracing::info_span!(
        "line_sim.request",
        %method,
        %path,
        request_id = %request_id,
        status = tracing::field::Empty,
    );
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    span.record("status", status);
    span.in_scope(|| tracing::debug!("answered"));
    if !resp.headers().contains_key(REQUEST_ID_HEADER)
        && let Ok(v) = HeaderValue::from_str(&request_id)
    {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    if !(path == "/sim" || path.starts_with("/sim/")) {
        sim.lock().requests.push(RecordedRequest {
            method,
            path,
            status,
            retry_key,
        });
    }
    resp
}

/// The channel identified by a valid `Authorization: Bearer` channel access token.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    pub channel_id: String,
}

impl Auth {
    /// The authenticated channel in `st`. The token was valid when the request arrived, but the
    /// state lock was let go since, so a missing channel still answers LINE's 404.
    pub(crate) fn channel<'s>(&self, st: &'s SimState) -> Result<&'s Channel, ApiError> {
        st.channels
            .get(&self.channel_id)
            .ok_or_else(ApiError::not_found)
    }

    /// [`Auth::channel`], to change.
    pub(crate) fn channel_mut<'s>(
        &self,
        st: &'s mut SimState,
    ) -> Result<&'s mut Channel, ApiError> {
        st.channels
            .get_mut(&self.channel_id)
            .ok_or_else(ApiError::not_found)
    }
}

impl FromRequestParts<LineSim> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, sim: &LineSim) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let token = value.and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
                .filter(|t| !t.is_empty())
        });
        let Some(token) = token else {
            return Err(ApiError::message(StatusCode::UNAUTHORIZED, AUTH_REQUIRED));
        };
        let channel = sim.lock().channel_for_token(token, clock::now_ms());
        match channel {
            Some(channel_id) => Ok(Auth { channel_id }),
            None => Err(ApiError::message(StatusCode::UNAUTHORIZED, AUTH_FAILED)),
        }
    }
}

/// The raw request body; a failure to read it answers in LINE's shape.
pub(crate) struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| ApiError::message(e.status(), e.body_text()))
    }
}

/// A request body that must be a JSON object (see [`json_object`]). Reply and push read
/// [`RawBody`] instead, as they record a request before looking at its JSON, and so does the
/// webhook test, whose body may be empty.
pub(crate) struct JsonObject(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let RawBody(body) = RawBody::from_request(req, state).await?;
        json_object(&body).map(JsonObject)
    }
}

/// Path parameters; a failure to decode them answers in LINE's shape.
pub(crate) struct LinePath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for LinePath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| LinePath(v))
            .map_err(|_| ApiError::not_found())
    }
}

/// Parses a JSON request body that must be an object, answering LINE-style 400s otherwise.
pub(crate) fn json_object(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ApiError::invalid_body(&[Detail {
            message: "The request body must be a JSON object".into(),
            property: None,
        }])),
        Err(e) => Err(ApiError::invalid_body(&[Detail {
            message: format!("Invalid JSON: {e}"),
            property: None,
        }])),
    }
}
