//! Media over HTTP.
//!
//! Behind login (API token or console session):
//! - `POST /api/v1/conversations/{id}/attachments` (multipart, one field `file`): checks,
//!   converts and stores the file, then queues the LINE message at once (one call for the
//!   composer). 202 `{"message": …, "media": …}`; a refused file is 400 with `field: "file"`
//!   and a message naming the allowed formats and sizes, and nothing is sent.
//! - `GET /api/v1/media/{id}` (`?variant=preview|thumb`): the content for the console.
//! - `GET /api/v1/media/usage` (admins): stored bytes per brand and the retention in force.
//!
//! Public, for LINE: `GET /media/{id}/{token}`, a signed, expiring link (403 when tampered
//! with or expired). Both serve `Content-Type`, `Content-Length` and byte ranges (206/416).

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use std::collections::HashMap;

use desk_core::{ConversationId, MediaId, MediaState};
use desk_store::{Media as MediaRow, Message};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::error::ApiError;
use crate::http::api::parse_field;
use crate::http::auth::ApiOperator;
use crate::media::format::{ALLOWED, Format};
use crate::media::signing::{SignatureError, Variant};
use crate::media::upload::{self, UploadError};
use crate::service::media::queue_attachment;
use crate::state::AppState;

/// Largest request read on the upload route. Each format's own limit (20 MB at most) is
/// enforced while the body streams in; the rest of a refused upload, up to this size, is read
/// and discarded so the client gets the explanation instead of a reset connection.
const MAX_UPLOAD_BODY: usize = 64 * 1024 * 1024;

/// Routes under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/conversations/{id}/attachments",
            post(upload_attachment).layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY)),
        )
        .route("/media/usage", get(usage))
        .route("/media/accepted", get(accepted))
        .route("/media/{id}", get(show))
}

/// Public routes (for LINE).
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/media/{id}/{token}", get(public))
}

/// The `media` object of a message in the API.
#[derive(Debug, Serialize)]
pub struct MediaView {
    pub id: MediaId,
    pub kind: desk_core::MediaKind,
    pub state: MediaState,
    pub content_type: Option<String>,
    pub size_bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i64>,
    pub file_name: Option<String>,
    /// Authenticated URLs, present once the content is stored.
    pub url: Option<String>,
    pub preview_url: Option<String>,
    pub thumb_url: Option<String>,
}

impl From<&MediaRow> for MediaView {
    fn from(m: &MediaRow) -> Self {
        let ready = m.state == MediaState::Ready;
        let url = |variant: &str, key: &Option<String>| {
            (ready && key.is_some()).then(|| format!("/api/v1/media/{}{variant}", m.id))
        };
        MediaView {
            id: m.id,
            kind: m.kind,
            state: m.state,
            content_type: m.content_type.clone(),
            size_bytes: m.size_bytes,
            width: m.width,
            height: m.height,
            duration_ms: m.duration_ms,
            file_name: m.file_name.clone(),
            url: url("", &m.object_key),
            preview_url: url("?variant=preview", &m.preview_key),
            thumb_url: url("?variant=thumb", &m.thumb_key),
        }
    }
}

/// A message as the API lists it: with its attachment, if it has one.
#[derive(Debug, Serialize)]
pub struct MessageWithMedia {
    #[serde(flatten)]
    pub message: Message,
    pub media: Option<MediaView>,
}

/// Pairs a conversation's messages with their attachments (one query for all).
pub async fn with_media(
    state: &AppState,
    conversation: ConversationId,
    messages: Vec<Message>,
) -> Result<Vec<MessageWithMedia>, ApiError> {
    let mut media: HashMap<Uuid, MediaView> = state
        .store
        .conversation_media(conversation)
        .await?
        .iter()
        .filter_map(|m| Some((m.message_id?, MediaView::from(m))))
        .collect();
    Ok(messages
        .into_iter()
        .map(|message| MessageWithMedia {
            media: media.remove(&message.id.0),
            message,
        })
        .collect())
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        if e.is_input() {
            ApiError::bad_request("file", e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

/// `POST /conversations/{id}/attachments`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, conversation = %id))]
async fn upload_attachment(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Result<Response, ApiError> {
    let conversation = op.conversation(&state, &id).await?;
    if !conversation.state.accepts_replies() {
        return Err(ApiError::Conflict(desk_store::CHAT_COMPLETED.into()));
    }
    let started = std::time::Instant::now();
    let received = loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request("file", e.body_text()))?
            .ok_or_else(|| {
                ApiError::bad_request(
                    "file",
                    "send the attachment as a multipart field named `file`",
                )
            })?;
        if field.name() == Some("file") {
            match upload::receive(&state.media, field).await {
                Ok(received) => break received,
                Err(e) => {
                    // Discard what the client is still sending (bounded by the body limit).
                    while let Ok(Some(_)) = multipart.next_field().await {}
                    return Err(e.into());
                }
            }
        }
    };
    let format = received.format;
    let prepared = upload::prepare(&state.media, received, MediaId::new()).await?;
    let message = queue_attachment(
        &state,
        &conversation,
        op.0.id,
        &prepared,
        state.clock.now_ms(),
    )
    .await?;
    tracing::info!(
        ?format,
        elapsed_ms = started.elapsed().as_millis(),
        "attachment queued"
    );
    let media = state.store.media(prepared.id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"message": message, "media": MediaView::from(&media)})),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct ShowParams {
    variant: Option<String>,
}

/// `GET /media/{id}?variant=`: for operators who may see the media's conversation.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, media = %id))]
async fn show(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    Query(params): Query<ShowParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id: MediaId = parse_field("id", &id)?;
    let variant = Variant::from_query(params.variant.as_deref()).ok_or_else(|| {
        ApiError::bad_request("variant", "use `original` (default), `preview` or `thumb`")
    })?;
    let media = state.store.media(id).await?;
    match media.message_id {
        Some(message) => {
            let message = state.store.message(desk_core::MessageId(message)).await?;
            op.conversation(&state, &message.conversation_id.to_string())
                .await?;
        }
        None => op.require_brand(media.brand_id)?,
    }
    serve(&state, &media, variant, &headers, Privacy::Console).await
}

/// `GET /media/accepted`: what the composer may offer. Formats that need ffmpeg are
/// `available: false` while it is missing, with the reason.
async fn accepted(State(state): State<AppState>, _op: ApiOperator) -> Json<serde_json::Value> {
    let ffmpeg = state.media.ffmpeg().is_some();
    let formats: Vec<serde_json::Value> = Format::ALL
        .iter()
        .map(|f| {
            json!({
                "extension": f.extension(),
                "kind": f.kind(),
                "name": f.name(),
                "max_bytes": f.max_bytes(),
                "available": ffmpeg || !f.needs_ffmpeg(),
            })
        })
        .collect();
    Json(json!({
        "formats": formats,
        "ffmpeg": ffmpeg,
        "unavailable_reason": (!ffmpeg).then_some("ffmpeg is not installed on the server: ogg audio and video cannot be sent"),
        "summary": ALLOWED,
    }))
}

/// `GET /media/usage`: admins only.
#[tracing::instrument(skip_all, fields(operator = %op.0.id))]
async fn usage(
    State(state): State<AppState>,
    op: ApiOperator,
) -> Result<Json<serde_json::Value>, ApiError> {
    op.require_admin()?;
    let brands = state.store.media_usage().await?;
    let retention_days = state.media.retention().map(|d| d.as_secs() / 86_400);
    Ok(Json(
        json!({"brands": brands, "retention_days": retention_days}),
    ))
}

/// `GET /media/{id}/{token}`: LINE's way in.
#[tracing::instrument(skip_all, fields(media = %id))]
async fn public(
    State(state): State<AppState>,
    Path((id, token)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id: MediaId = id
        .parse()
        .map_err(|_| ApiError::Forbidden(SignatureError::Malformed.as_str()))?;
    let now = state.clock.now_ms() / 1000;
    let variant = state
        .media
        .signer()
        .verify(id, &token, now)
        .map_err(|e| ApiError::Forbidden(e.as_str()))?;
    let media = state.store.media(id).await?;
    serve(&state, &media, variant, &headers, Privacy::Public).await
}

/// Who a response is for: shared caches may keep LINE's signed copies, never the console's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Privacy {
    Public,
    Console,
}

/// Streams a stored object, honouring a single `Range: bytes=…`.
async fn serve(
    state: &AppState,
    media: &MediaRow,
    variant: Variant,
    headers: &HeaderMap,
    privacy: Privacy,
) -> Result<Response, ApiError> {
    if media.state != MediaState::Ready {
        return Err(ApiError::NotFound("stored content"));
    }
    let (key, content_type) = match variant {
        Variant::Original => (media.object_key.as_deref(), media.content_type.as_deref()),
        Variant::Preview => (media.preview_key.as_deref(), Some("image/jpeg")),
        Variant::Thumb => (media.thumb_key.as_deref(), Some("image/jpeg")),
    };
    let key = key.ok_or(ApiError::NotFound("media variant"))?;
    let objects = state.media.objects();
    let total = objects
        .size(key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(spec) => match parse_range(spec, total) {
            RangeSpec::Satisfiable(r) => Some(r),
            RangeSpec::Ignored => None,
            RangeSpec::Unsatisfiable => {
                return Ok((
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{total}"))],
                )
                    .into_response());
            }
        },
    };
    let fetched = objects
        .get(key, range.clone())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut response = Response::new(Body::from_stream(fetched.stream));
    let h = response.headers_mut();
    let content_type = content_type.unwrap_or("application/octet-stream");
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(fetched.range.end - fetched.range.start),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // User content on our origin: never let a browser guess a type (e.g. HTML) from it.
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(match privacy {
            Privacy::Public => "public, max-age=86400",
            Privacy::Console => "private, max-age=3600",
        }),
    );
    if media.kind == desk_core::MediaKind::File && variant == Variant::Original {
        let name = media.file_name.as_deref().unwrap_or("file");
        h.insert(header::CONTENT_DISPOSITION, attachment_disposition(name));
    }
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let value = format!(
            "bytes {}-{}/{}",
            fetched.range.start,
            fetched.range.end.saturating_sub(1),
            fetched.total
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

/// `attachment; filename*=UTF-8''…`: the user's file name, percent-encoded.
fn attachment_disposition(name: &str) -> HeaderValue {
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}"))
        .unwrap_or(HeaderValue::from_static("attachment"))
}

/// What a `Range` header asks of an object of `total` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeSpec {
    Satisfiable(std::ops::Range<u64>),
    /// Not a single byte range we serve (several ranges, other units): send it all.
    Ignored,
    Unsatisfiable,
}

fn parse_range(spec: &str, total: u64) -> RangeSpec {
    let Some(ranges) = spec.trim().strip_prefix("bytes=") else {
        return RangeSpec::Ignored;
    };
    if ranges.contains(',') {
        return RangeSpec::Ignored;
    }
    let Some((start, end)) = ranges.trim().split_once('-') else {
        return RangeSpec::Ignored;
    };
    let parsed = match (start.trim(), end.trim()) {
        ("", "") => return RangeSpec::Ignored,
        // The last `n` bytes.
        ("", n) => match n.parse::<u64>() {
            Ok(0) => return RangeSpec::Unsatisfiable,
            Ok(n) => Some(total.saturating_sub(n)..total),
            Err(_) => return RangeSpec::Ignored,
        },
        (s, "") => s.parse::<u64>().ok().map(|s| s..total),
        (s, e) => match (s.parse::<u64>(), e.parse::<u64>()) {
            (Ok(s), Ok(e)) if s <= e => Some(s..(e + 1).min(total)),
            (Ok(_), Ok(_)) => return RangeSpec::Ignored,
            _ => return RangeSpec::Ignored,
        },
    };
    match parsed {
        Some(r) if r.start < total && r.start < r.end => RangeSpec::Satisfiable(r),
        Some(_) => RangeSpec::Unsatisfiable,
        None => RangeSpec::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(
            parse_range("bytes=0-99", 1000),
            RangeSpec::Satisfiable(0..100)
        );
        assert_eq!(
            parse_range("bytes=900-", 1000),
            RangeSpec::Satisfiable(900..1000)
        );
        assert_eq!(
            parse_range("bytes=-100", 1000),
            RangeSpec::Satisfiable(900..1000)
        );
        assert_eq!(
            parse_range("bytes=990-2000", 1000),
            RangeSpec::Satisfiable(990..1000)
        );
        assert_eq!(parse_range("bytes=1000-", 1000), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-9", 1000), RangeSpec::Ignored);
        assert_eq!(parse_range("items=0-1", 1000), RangeSpec::Ignored);
        assert_eq!(parse_range("bytes=5-1", 1000), RangeSpec::Ignored);
    }

    #[test]
    fn file_names_are_encoded() {
        assert_eq!(
            attachment_disposition("見積 1.pdf"),
            "attachment; filename*=UTF-8''%E8%A6%8B%E7%A9%8D%201.pdf"
        );
    }
}
