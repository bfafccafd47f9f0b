//! Brands, their departments and LINE channels, a channel's account page, its share kit, and
//! the audit log (`/api/v1`). Changes need an admin or the brand's supervisor and are audited.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post, put};
use desk_core::{BrandFilter, BrandId, ChannelId, DepartmentId, Millis};
use desk_store::{Actor, AuditRecord, Brand, Channel, Department, SettingsChange};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::http::api::{json_body, parse_field};
use crate::http::auth::ApiOperator;
use crate::service::account_info::{self, AccountInfo};
use crate::service::share_kit::{QrSize, ShareKit};
use crate::service::wizard::{WebhookStatus, webhook_url};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/brands", get(list_brands).post(create_brand))
        .route("/brands/{id}", get(show_brand).patch(rename_brand))
        .route(
            "/brands/{id}/departments",
            get(list_departments).post(create_department),
        )
        .route("/brands/{id}/channels", get(list_channels))
        .route("/channels/{id}", get(show_channel).delete(remove_channel))
        .route("/channels/{id}/refresh", post(refresh_channel))
        .route("/channels/{id}/secret", put(replace_secret))
        .route("/channels/{id}/department", put(change_department))
        .route("/channels/{id}/webhook/test", post(test_webhook))
        .route("/channels/{id}/share-kit", get(share_kit))
        .route("/channels/{id}/share-kit/qr/{file}", get(share_kit_qr))
        .route("/audit", get(list_audit))
}

impl ApiOperator {
    /// This operator as the author of an audited change.
    pub(crate) fn actor(&self) -> Actor {
        Actor::Operator {
            id: self.id(),
            name: self.0.email.clone(),
        }
    }
}

/// Records a settings change made by `op` that is already committed. A failure to record is
/// logged, not returned: the change itself happened.
pub(crate) async fn audit(
    state: &AppState,
    op: &ApiOperator,
    brand: Option<BrandId>,
    action: &'static str,
    target: String,
    detail: serde_json::Value,
) {
    let change = SettingsChange {
        brand_id: brand,
        actor: op.actor(),
        action,
        target,
        detail,
    };
    if let Err(e) = state
        .store
        .record_audit(&change, state.clock.now_ms())
        .await
    {
        tracing::error!(error = %e, action, "could not record the audit entry");
    }
}

/// A brand name: trimmed, 1 to 100 characters.
fn brand_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    match name.chars().count() {
        0 => Err(ApiError::bad_request("name", "a brand needs a name")),
        1..=100 => Ok(name.to_owned()),
        _ => Err(ApiError::bad_request("name", "at most 100 characters")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

/// `GET /brands`: the brands this operator may see.
#[tracing::instrument(skip_all, fields(operator = %op.0.id))]
async fn list_brands(
    State(state): State<AppState>,
    op: ApiOperator,
) -> Result<Json<Vec<Brand>>, ApiError> {
    let filter = op.access().brand_filter(None)?;
    let brands = state.store.list_brands().await?;
    Ok(Json(
        brands
            .into_iter()
            .filter(|b| match filter {
                BrandFilter::Any => true,
                BrandFilter::Only(id) => b.id == id,
                BrandFilter::None => false,
            })
            .collect(),
    ))
}

/// `POST /brands` `{"name"}`: admins only.
#[tracing::instrument(skip_all, fields(operator = %op.0.id))]
async fn create_brand(
    State(state): State<AppState>,
    op: ApiOperator,
    body: Bytes,
) -> Result<(StatusCode, Json<Brand>), ApiError> {
    op.require_admin()?;
    let body: NameBody = json_body("body", &body)?;
    let name = brand_name(&body.name)?;
    let now = state.clock.now_ms();
    let brand = state.store.create_brand(&name, now).await?;
    let change = SettingsChange {
        brand_id: Some(brand.id),
        actor: op.actor(),
        action: "brand.created",
        target: format!("brand:{}", brand.id),
        detail: json!({"name": name}),
    };
    state.store.record_audit(&change, now).await?;
    Ok((StatusCode::CREATED, Json(brand)))
}

async fn brand_of(state: &AppState, op: &ApiOperator, id: &str) -> Result<Brand, ApiError> {
    let id: BrandId = parse_field("id", id)?;
    op.require_brand(id)?;
    Ok(state.store.brand(id).await?)
}

/// `GET /brands/{id}`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn show_brand(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Brand>, ApiError> {
    Ok(Json(brand_of(&state, &op, &id).await?))
}

/// `PATCH /brands/{id}` `{"name"}`: admins and the brand's supervisors.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn rename_brand(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Brand>, ApiError> {
    let brand = brand_of(&state, &op, &id).await?;
    op.require_manager(brand.id)?;
    let body: NameBody = json_body("body", &body)?;
    let name = brand_name(&body.name)?;
    let change = SettingsChange {
        brand_id: Some(brand.id),
        actor: op.actor(),
        action: "brand.renamed",
        target: format!("brand:{}", brand.id),
        detail: json!({"from": brand.name, "to": name}),
    };
    let renamed = state
        .store
        .rename_brand(brand.id, &name, &change, state.clock.now_ms())
        .await?;
    Ok(Json(renamed))
}

/// `GET /brands/{id}/departments`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn list_departments(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Vec<Department>>, ApiError> {
    let brand = brand_of(&state, &op, &id).await?;
    Ok(Json(state.store.list_departments(brand.id).await?))
}

/// `POST /brands/{id}/departments` `{"name"}`: admins and the brand's supervisors.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn create_department(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Department>), ApiError> {
    let brand = brand_of(&state, &op, &id).await?;
    op.require_manager(brand.id)?;
    let body: NameBody = json_body("body", &body)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name", "1 to 100 characters"));
    }
    let now = state.clock.now_ms();
    let department = state.store.create_department(brand.id, name, now).await?;
    let change = SettingsChange {
        brand_id: Some(brand.id),
        actor: op.actor(),
        action: "department.created",
        target: format!("department:{}", department.id),
        detail: json!({"name": name}),
    };
    state.store.record_audit(&change, now).await?;
    Ok((StatusCode::CREATED, Json(department)))
}

/// One row of a brand's channel list.
#[derive(Debug, Serialize)]
pub struct ChannelSummary {
    pub id: ChannelId,
    pub line_channel_id: String,
    pub display_name: String,
    pub picture_url: Option<String>,
    pub basic_id: Option<String>,
    pub department_id: DepartmentId,
    pub webhook_url: Option<String>,
    pub signature_failures: i64,
    pub token_expires_ms: Option<Millis>,
    pub last_event_ms: Option<Millis>,
    /// `live` (events arrive), `waiting` (none yet), `token_problem` (no valid token).
    pub status: &'static str,
}

/// The channel list of a brand, with a status each.
pub async fn channel_summaries(
    state: &AppState,
    brand: BrandId,
) -> Result<Vec<ChannelSummary>, ApiError> {
    let now = state.clock.now_ms();
    let mut out = Vec::new();
    for c in state.store.list_channels(Some(brand)).await? {
        let (_, last_event_ms) = state.store.channel_activity(c.id, 0).await?;
        let status = match (c.token_expires_ms, last_event_ms) {
            (Some(expires), _) if expires <= now => "token_problem",
            (_, Some(_)) => "live",
            (_, None) => "waiting",
        };
        out.push(ChannelSummary {
            id: c.id,
            webhook_url: webhook_url(state, &c.channel_key),
            line_channel_id: c.line_channel_id,
            display_name: c.display_name,
            picture_url: c.picture_url,
            basic_id: c.basic_id,
            department_id: c.department_id,
            signature_failures: c.signature_failures,
            token_expires_ms: c.token_expires_ms,
            last_event_ms,
            status,
        });
    }
    Ok(out)
}

/// `GET /brands/{id}/channels`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn list_channels(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Vec<ChannelSummary>>, ApiError> {
    let brand = brand_of(&state, &op, &id).await?;
    Ok(Json(channel_summaries(&state, brand.id).await?))
}

/// The live channel, if this operator may see its brand.
pub(crate) async fn channel_for(
    state: &AppState,
    op: &ApiOperator,
    id: &str,
) -> Result<Channel, ApiError> {
    let id: ChannelId = parse_field("id", id)?;
    let channel = state.store.channel(id).await?;
    op.require_brand(channel.brand_id)?;
    Ok(channel)
}

/// The live channel, if this operator may change its settings.
pub(crate) async fn managed_channel(
    state: &AppState,
    op: &ApiOperator,
    id: &str,
) -> Result<Channel, ApiError> {
    let channel = channel_for(state, op, id).await?;
    op.require_manager(channel.brand_id)?;
    Ok(channel)
}

/// The brand `id` names, if this operator may change its settings.
pub(crate) fn managed_brand(op: &ApiOperator, id: &str) -> Result<BrandId, ApiError> {
    let brand: BrandId = parse_field("id", id)?;
    op.require_manager(brand)?;
    Ok(brand)
}

/// The department `id` names and its brand, if this operator may change that brand's
/// settings.
pub(crate) async fn managed_department(
    state: &AppState,
    op: &ApiOperator,
    id: &str,
) -> Result<(DepartmentId, BrandId), ApiError> {
    let id: DepartmentId = parse_field("id", id)?;
    let brand = state.store.department_brand(id).await?;
    op.require_manager(brand)?;
    Ok((id, brand))
}

#[derive(Debug, Deserialize)]
struct InfoParams {
    /// Ask LINE for quota and webhook state (default true).
    live: Option<bool>,
}

/// `GET /channels/{id}?live=false`: the account page's data (never the secret or token).
#[tracing::instrument(skip_all, fields(operator = %op.0.id, channel = %id))]
async fn show_channel(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    Query(params): Query<InfoParams>,
) -> Result<Json<AccountInfo>, ApiError> {
    let channel = channel_for(&state, &op, &id).await?;
    Ok(Json(
        account_info::info(&state, &channel, params.live.unwrap_or(true)).await?,
    ))
}

/// `POST /channels/{id}/refresh`: re-reads name, picture and LINE ID from LINE.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, channel = %id))]
async fn refresh_channel(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<AccountInfo>, ApiError> {
    let channel = managed_channel(&state, &op, &id).await?;
    account_info::refresh(&state, &channel).await?;
    stored_info(&state, channel.id).await
}

/// The account page's data after a change: the channel as now stored, without asking LINE.
async fn stored_info(state: &AppState, id: ChannelId) -> Result<Json<AccountInfo>, ApiError> {
    let channel = state.store.channel(id).await?;
    Ok(Json(account_info::info(state, &channel, false).await?))
}

/// No `Debug`: it holds the secret in clear.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    channel_secret: String,
}

/// `PUT /channels/{id}/secret` `{"channel_secret"}`: checked with LINE, then replaces the
/// secret; the old one verifies webhooks for one more hour. Answers 204 (the secret is
/// never sent back).
#[tracing::instrument(skip_all, fields(operator = %op.0.id, channel = %id))]
async fn replace_secret(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let channel = managed_channel(&state, &op, &id).await?;
    let body: SecretBody = json_body("body", &body)?;
    account_info::replace_secret(&state, &channel, &body.channel_secret, op.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentBody {
    department_id: String,
}

/// `PUT /channels/{id}/department` `{"department_id"}`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, channel = %id))]
async fn change_department(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<AccountInfo>, ApiError> {
    let channel = managed_channel(&state, &op, &id).await?;
    let body: DepartmentBody = json_body("body", &body)?;
    let department = parse_field("department_id", &body.department_id)?;
    account_info::change_department(&state, &channel, department, op.actor()).await?;
    stored_info(&state, channel.id).await
}

/// The webhook test in words, as answered by the API.
#[derive(Debug, Serialize)]
pub struct WebhookTestView {
    #[serde(flatten)]
    pub status: WebhookStatus,
    pub ok: bool,
    pub message: String,
    pub inactive_message: Option<&'static str>,
}

impl From<WebhookStatus> for WebhookTestView {
    fn from(status: WebhookStatus) -> Self {
        let inactive = status.outcome.is_ok() && status.active == Some(false);
        WebhookTestView {
            ok: status.outcome.is_ok() && status.active == Some(true),
            message: status.outcome.message(),
            inactive_message: inactive.then_some(crate::service::webhook_check::INACTIVE),
            status,
        }
    }
}

/// `POST /channels/{id}/webhook/test`: sets the webhook URL again and runs LINE's test.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, channel = %id))]
async fn test_webhook(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<WebhookTestView>, ApiError> {
    let channel = managed_channel(&state, &op, &id).await?;
    Ok(Json(
        account_info::test_webhook(&state, &channel).await?.into(),
    ))
}

#[derive(Debug, Deserialize)]
struct RemoveParams {
    /// The LINE channel ID, typed again to confirm.
    confirm: Option<String>,
}

/// `DELETE /channels/{id}?confirm=<LINE channel ID>`: stops ingest (the webhook URL answers
/// 404), keeps chats and messages.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, channel = %id))]
async fn remove_channel(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    Query(params): Query<RemoveParams>,
) -> Result<StatusCode, ApiError> {
    let channel = managed_channel(&state, &op, &id).await?;
    if params.confirm.as_deref().map(str::trim) != Some(channel.line_channel_id.as_str()) {
        return Err(ApiError::bad_request(
            "confirm",
            "type the channel's LINE Channel ID to confirm the removal",
        ));
    }
    account_info::remove(&state, &channel, op.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The share kit as the API describes it.
#[derive(Debug, Serialize)]
pub struct ShareKitView {
    pub add_friend_url: String,
    pub line_id: String,
    pub html_snippet: String,
    /// Download paths per size: `{"s": {"svg": …, "png": …}, …}`.
    pub qr: serde_json::Value,
}

pub(crate) fn kit_of(channel: &Channel) -> Result<ShareKit, ApiError> {
    ShareKit::new(channel.basic_id.as_deref()).map_err(|e| ApiError::Conflict(e.to_string()))
}

/// `GET /channels/{id}/share-kit`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, channel = %id))]
async fn share_kit(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<ShareKitView>, ApiError> {
    let channel = channel_for(&state, &op, &id).await?;
    let kit = kit_of(&channel)?;
    let mut qr = serde_json::Map::new();
    for size in QrSize::ALL {
        let base = format!("/api/v1/channels/{}/share-kit/qr", channel.id);
        qr.insert(
            size.as_str().into(),
            json!({
                "svg": format!("{base}/qr-{}.svg", size.as_str()),
                "png": format!("{base}/qr-{}.png", size.as_str()),
            }),
        );
    }
    Ok(Json(ShareKitView {
        add_friend_url: kit.add_friend_url().to_owned(),
        line_id: kit.line_id().to_owned(),
        html_snippet: kit.html_snippet("Add friend on LINE"),
        qr: qr.into(),
    }))
}

/// A QR file `qr-{s|m|l}.{svg|png}`, as a download.
pub(crate) fn qr_file(channel: &Channel, file: &str) -> Result<Response, ApiError> {
    let bad = || ApiError::bad_request("file", "expected qr-s.svg, qr-m.png, qr-l.svg …");
    let (stem, ext) = file.rsplit_once('.').ok_or_else(bad)?;
    let size = stem
        .strip_prefix("qr-")
        .and_then(QrSize::parse)
        .ok_or_else(bad)?;
    let kit = kit_of(channel)?;
    let name = format!(
        "line-{}-qr-{}.{ext}",
        kit.line_id().trim_start_matches('@'),
        size.as_str()
    );
    let disposition = format!("attachment; filename=\"{name}\"");
    let (content_type, bytes) = match ext {
        "svg" => ("image/svg+xml", kit.svg(size).into_bytes()),
        "png" => (
            "image/png",
            kit.png(size)
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        ),
        _ => return Err(bad()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /channels/{id}/share-kit/qr/qr-{s|m|l}.{svg|png}`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, channel = %id))]
async fn share_kit_qr(
    State(state): State<AppState>,
    op: ApiOperator,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let channel = channel_for(&state, &op, &id).await?;
    qr_file(&channel, &file)
}

#[derive(Debug, Deserialize)]
struct AuditParams {
    brand_id: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /audit?brand_id=&before=&limit=`: newest first. Admins see everything; a supervisor
/// sees their brand's.
#[tracing::instrument(skip_all, fields(operator = %op.0.id))]
async fn list_audit(
    State(state): State<AppState>,
    op: ApiOperator,
    Query(params): Query<AuditParams>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let brand = params
        .brand_id
        .as_deref()
        .map(|b| parse_field::<BrandId>("brand_id", b))
        .transpose()?;
    match brand {
        Some(b) => op.require_manager(b)?,
        None => op.require_admin()?,
    }
    Ok(Json(
        state
            .store
            .list_audit(brand, params.before, params.limit.unwrap_or(100))
            .await?,
    ))
}
