//! The JSON API (`/api/v1`): conversations and their messages.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use desk_core::{BrandFilter, BrandId, ConversationId, ConversationState, OutgoingText};
use desk_store::{Conversation, ConversationFilter};
use serde::Deserialize;

use crate::error::ApiError;
use crate::http::auth::ApiOperator;
use crate::service::send;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list_conversations))
        .route("/conversations/{id}", get(show_conversation))
        .route(
            "/conversations/{id}/messages",
            get(list_messages).post(send_message),
        )
}

/// Query of `GET /conversations`.
#[derive(Debug, Deserialize)]
struct ListParams {
    brand_id: Option<String>,
    state: Option<String>,
    limit: Option<i64>,
}

pub(crate) fn parse_field<T: std::str::FromStr>(field: &str, value: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e: T::Err| ApiError::bad_request(field, format!("`{value}` is not valid: {e}")))
}

/// Reads a JSON body; a malformed one is a 400 naming `field` (the body's one field, or
/// `body`).
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    field: &str,
    body: &[u8],
) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(field, e.to_string()))
}

impl ApiOperator {
    /// The conversation, if this operator may read and act on it: admins any, supervisors
    /// their brand's, operators their departments'. Otherwise 403 saying why.
    pub(crate) async fn conversation(
        &self,
        state: &AppState,
        id: &str,
    ) -> Result<Conversation, ApiError> {
        let id: ConversationId = parse_field("id", id)?;
        let conversation = state.store.conversation(id).await?;
        self.access()
            .conversation(conversation.brand_id, conversation.department_id)?;
        Ok(conversation)
    }
}

/// `GET /conversations?brand_id=&state=&limit=`: most recently active first.
#[tracing::instrument(skip_all, fields(operator = %op.0.id))]
async fn list_conversations(
    State(state): State<AppState>,
    op: ApiOperator,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Conversation>>, ApiError> {
    let brand_id = params
        .brand_id
        .as_deref()
        .map(|b| parse_field::<BrandId>("brand_id", b))
        .transpose()?;
    let brand_id = match op.access().brand_filter(brand_id)? {
        BrandFilter::Any => None,
        BrandFilter::Only(b) => Some(b),
        BrandFilter::None => return Ok(Json(Vec::new())),
    };
    let filter = ConversationFilter {
        brand_id,
        state: params
            .state
            .as_deref()
            .map(|s| parse_field::<ConversationState>("state", s))
            .transpose()?,
        // Operators see the chats of their departments only.
        member_of: op.access().department_filter().map(|_| op.id()),
        limit: params.limit.unwrap_or(100),
    };
    Ok(Json(state.store.list_conversations(&filter).await?))
}

/// `GET /conversations/{id}`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, conversation = %id))]
async fn show_conversation(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    Ok(Json(op.conversation(&state, &id).await?))
}

/// `GET /conversations/{id}/messages`: oldest first.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, conversation = %id))]
async fn list_messages(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Vec<super::media::MessageWithMedia>>, ApiError> {
    let conversation = op.conversation(&state, &id).await?;
    let messages = state.store.list_messages(conversation.id).await?;
    Ok(Json(
        super::media::with_media(&state, conversation.id, messages).await?,
    ))
}

/// Body of `POST /conversations/{id}/messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    text: String,
    quote_token: Option<String>,
}

/// `POST /conversations/{id}/messages` `{"text": "…", "quote_token": "…"}`: queues the message
/// (202, status `pending`); it turns `sent` or `failed` once LINE answers.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, conversation = %id))]
async fn send_message(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let conversation = op.conversation(&state, &id).await?;
    let body: SendBody = json_body("body", &body)?;
    let text =
        OutgoingText::parse(body.text).map_err(|e| ApiError::bad_request("text", e.to_string()))?;
    if !conversation.state.accepts_replies() {
        return Err(ApiError::Conflict(desk_store::CHAT_COMPLETED.into()));
    }
    let message = send::queue_text(
        &state,
        conversation.channel_id,
        conversation.id,
        op.0.id,
        text,
        body.quote_token,
        state.clock.now_ms(),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(message)))
}
