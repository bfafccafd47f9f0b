//! JSON endpoints behind the console: chat lists with unread counts, marking read, the typing
//! signal (LINE's loading animation), stickers, retrying a failed send, notes on contacts and
//! canned responses. Every route checks the caller's access like the rest of the API.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::{delete, get, post, put};
use desk_core::{BrandId, ContactId, DepartmentId, MessageId, MessageKind};
use desk_store::{
    CannedInput, CannedResponse, ChatList, ChatListItem, ContactNote, ListCounts, ListScope,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::console::{courtesy, stickers};
use crate::error::ApiError;
use crate::http::api::{json_body, parse_field};
use crate::http::auth::ApiOperator;
use crate::http::channels::managed_brand;
use crate::state::AppState;

/// Longest note or canned response, in characters.
const MAX_NOTE_CHARS: usize = 2_000;
/// Longest canned response title, in characters.
const MAX_TITLE_CHARS: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/brands/{id}/chat-lists/{list}", get(chat_list))
        .route("/conversations/{id}/read", post(mark_read))
        .route("/conversations/{id}/typing", post(typing))
        .route("/conversations/{id}/stickers", post(send_sticker))
        .route("/messages/{id}/retry", post(retry))
        .route("/contacts/{id}/notes", get(list_notes).post(add_note))
        .route("/contacts/{id}/notes/{note}", delete(delete_note))
        .route(
            "/brands/{id}/canned-responses",
            get(list_canned).post(create_canned),
        )
        .route(
            "/brands/{id}/canned-responses/{response}",
            put(update_canned).delete(delete_canned),
        )
}

/// Answer of `GET /brands/{id}/chat-lists/{list}`.
#[derive(Debug, Serialize)]
struct ChatListAnswer {
    counts: ListCounts,
    chats: Vec<ChatListItem>,
}

/// Query of `GET /brands/{id}/chat-lists/{list}`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<i64>,
}

/// `GET /brands/{id}/chat-lists/{mine|waiting|missed|open|completed}?limit=`: one list with
/// the caller's unread counts, and how many chats each list holds.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id, list = %list))]
async fn chat_list(
    State(state): State<AppState>,
    op: ApiOperator,
    Path((id, list)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> Result<Json<ChatListAnswer>, ApiError> {
    let brand: BrandId = parse_field("id", &id)?;
    op.require_brand(brand)?;
    let list: ChatList = parse_field("list", &list)?;
    let scope = ListScope {
        brand,
        operator: op.id(),
        own_departments_only: op.access().department_filter().is_some(),
    };
    Ok(Json(ChatListAnswer {
        counts: state.store.chat_list_counts(scope).await?,
        chats: state
            .store
            .chat_list(scope, list, query.limit.unwrap_or(100))
            .await?,
    }))
}

/// `POST /conversations/{id}/read`: the caller has read the chat's messages (unread counts),
/// and LINE shows the user their messages as read.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, conversation = %id))]
async fn mark_read(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let conversation = op.conversation(&state, &id).await?;
    state.store.mark_read(op.id(), conversation.id).await?;
    if conversation.contact_kind == desk_core::ContactKind::User {
        courtesy::mark_as_read(&state, conversation.id, conversation.channel_id);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /conversations/{id}/typing`: the operator is typing. Starts LINE's loading animation
/// in a 1:1 chat, at most once per 20 s per chat; answers whether it did.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, conversation = %id))]
async fn typing(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let conversation = op.conversation(&state, &id).await?;
    let started = courtesy::start_loading(&state, &conversation).await;
    Ok(Json(json!({ "loading_started": started })))
}

/// Body of `POST /conversations/{id}/stickers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StickerBody {
    package_id: String,
    sticker_id: String,
    quote_token: Option<String>,
}

/// `POST /conversations/{id}/stickers` `{"package_id", "sticker_id", "quote_token"?}`: sends a
/// sticker from the sendable list (202, like text).
#[tracing::instrument(skip_all, fields(operator = %op.0.id, conversation = %id))]
async fn send_sticker(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let conversation = op.conversation(&state, &id).await?;
    let b: StickerBody = json_body("body", &bytes)?;
    if !stickers::is_sendable(&b.package_id, &b.sticker_id) {
        return Err(ApiError::bad_request(
            "sticker_id",
            format!(
                "package {} sticker {} is not on the list of stickers bots may send",
                b.package_id, b.sticker_id
            ),
        ));
    }
    let mut message = line_api::message::Message::sticker(b.package_id, b.sticker_id);
    if let Some(q) = b.quote_token {
        message = message.with_quote_token(q);
    }
    let now = state.clock.now_ms();
    let rules = state
        .rules
        .get(&state.store, conversation.channel_id, now)
        .await?;
    let stored = state
        .store
        .enqueue_message(
            conversation.id,
            op.id(),
            MessageKind::Sticker,
            serde_json::to_value(&message).map_err(|e| ApiError::Internal(e.to_string()))?,
            &rules,
            now,
        )
        .await?;
    state.wake.outbox.notify_one();
    state.hub.nudge();
    Ok((StatusCode::ACCEPTED, Json(stored)))
}

/// `POST /messages/{id}/retry`: sends a failed message again (same retry key, so LINE never
/// delivers it twice). 409 when the chat is completed or the user blocked the account.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, message = %id))]
async fn retry(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id: MessageId = parse_field("id", &id)?;
    let message = state.store.message(id).await?;
    op.conversation(&state, &message.conversation_id.to_string())
        .await?;
    state.store.retry_message(id, state.clock.now_ms()).await?;
    state.wake.outbox.notify_one();
    state.hub.nudge();
    Ok((StatusCode::ACCEPTED, Json(state.store.message(id).await?)))
}

/// The contact, if the caller may see a chat of it.
async fn contact_of(state: &AppState, op: &ApiOperator, id: &str) -> Result<ContactId, ApiError> {
    let contact: ContactId = parse_field("id", id)?;
    let chats = state.store.contact_chats(contact, 1).await?;
    let latest = chats.first().ok_or(ApiError::NotFound("contact"))?;
    op.conversation(state, &latest.id.to_string()).await?;
    Ok(contact)
}

/// `GET /contacts/{id}/notes`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, contact = %id))]
async fn list_notes(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Vec<ContactNote>>, ApiError> {
    let contact = contact_of(&state, &op, &id).await?;
    Ok(Json(state.store.contact_notes(contact).await?))
}

/// Body of `POST /contacts/{id}/notes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    body: String,
}

/// Text that must not be blank and has a length limit.
fn bounded_text(field: &str, text: &str, max: usize) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::bad_request(field, "must not be empty"));
    }
    let length = text.chars().count();
    if length > max {
        return Err(ApiError::bad_request(
            field,
            format!("is {length} characters long; at most {max} are allowed"),
        ));
    }
    Ok(text.to_owned())
}

/// `POST /contacts/{id}/notes` `{"body": "…"}` (201).
#[tracing::instrument(skip_all, fields(operator = %op.0.id, contact = %id))]
async fn add_note(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let contact = contact_of(&state, &op, &id).await?;
    let b: NoteBody = json_body("body", &bytes)?;
    let text = bounded_text("body", &b.body, MAX_NOTE_CHARS)?;
    let note = state
        .store
        .add_contact_note(contact, op.id(), &text, state.clock.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// `DELETE /contacts/{id}/notes/{note}`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, contact = %id))]
async fn delete_note(
    State(state): State<AppState>,
    op: ApiOperator,
    Path((id, note)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let contact = contact_of(&state, &op, &id).await?;
    let note: Uuid = parse_field("note", &note)?;
    state.store.delete_contact_note(contact, note).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /brands/{id}/canned-responses`.
#[derive(Debug, Deserialize)]
struct CannedQuery {
    department_id: Option<String>,
}

/// `GET /brands/{id}/canned-responses?department_id=`: all of the brand's, or those for one
/// department (including the brand-wide ones).
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn list_canned(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    Query(query): Query<CannedQuery>,
) -> Result<Json<Vec<CannedResponse>>, ApiError> {
    let brand: BrandId = parse_field("id", &id)?;
    op.require_brand(brand)?;
    let department = query
        .department_id
        .as_deref()
        .map(|d| parse_field::<DepartmentId>("department_id", d))
        .transpose()?;
    Ok(Json(state.store.canned_responses(brand, department).await?))
}

/// Body of a canned response: `department_id` null means every department.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CannedBody {
    title: String,
    body: String,
    department_id: Option<String>,
}

impl CannedBody {
    fn parse(bytes: &Bytes) -> Result<CannedInput, ApiError> {
        let b: CannedBody = json_body("body", bytes)?;
        let body_text = b.body.trim_end();
        if body_text.trim().is_empty() {
            return Err(ApiError::bad_request("body", "must not be empty"));
        }
        // A canned response is sent as one text message: LINE's limit applies.
        desk_core::OutgoingText::parse(body_text)
            .map_err(|e| ApiError::bad_request("body", e.to_string()))?;
        Ok(CannedInput {
            title: bounded_text("title", &b.title, MAX_TITLE_CHARS)?,
            body: body_text.to_owned(),
            department_id: b
                .department_id
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| parse_field::<DepartmentId>("department_id", d))
                .transpose()?,
        })
    }
}

/// `POST /brands/{id}/canned-responses` (201). Managers of the brand only.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn create_canned(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let brand = managed_brand(&op, &id)?;
    let input = CannedBody::parse(&bytes)?;
    let created = state
        .store
        .create_canned_response(brand, &input, state.clock.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `PUT /brands/{id}/canned-responses/{response}`. Managers of the brand only.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn update_canned(
    State(state): State<AppState>,
    op: ApiOperator,
    Path((id, response)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Json<CannedResponse>, ApiError> {
    let brand = managed_brand(&op, &id)?;
    let response: Uuid = parse_field("response", &response)?;
    let input = CannedBody::parse(&bytes)?;
    Ok(Json(
        state
            .store
            .update_canned_response(brand, response, &input, state.clock.now_ms())
            .await?,
    ))
}

/// `DELETE /brands/{id}/canned-responses/{response}`. Managers of the brand only.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn delete_canned(
    State(state): State<AppState>,
    op: ApiOperator,
    Path((id, response)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let brand = managed_brand(&op, &id)?;
    let response: Uuid = parse_field("response", &response)?;
    state.store.delete_canned_response(brand, response).await?;
    Ok(StatusCode::NO_CONTENT)
}
