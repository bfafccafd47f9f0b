//! Managing operators (the admin pages' JSON API). Admins manage everyone; a supervisor
//! manages their brand's operators and supervisors but never admins. Anyone who may see a
//! brand may list its operators (the transfer picker needs them). Each change is written to
//! the audit log.
//!
//! - `GET /brands/{id}/operators`
//! - `POST /brands/{id}/operators` `{"email", "name", "role", "departments": [id…], "capacity"}`
//!   → 201 `{"operator": …, "invite_path": "/invite/…", "invite_url": …, "invite_expires_ms"}`
//! - `PATCH /operators/{id}` `{"role"?, "departments"?, "capacity"?}`
//! - `POST /operators/{id}/invite`: a fresh invite link (also a password reset)
//! - `POST /operators/{id}/deactivate`: no more logins; their sessions end and their open chats
//!   go back to their departments' lines

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post};
use desk_core::{BrandId, DepartmentId, DisplayName, Email, OperatorId, Role};
use desk_store::{MAX_CAPACITY, MIN_CAPACITY, NewOperator, OperatorAccount, OperatorChange};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::http::api::{json_body, parse_field};
use crate::http::auth::{ApiOperator, over_https};
use crate::http::channels::{audit, managed_brand};
use crate::service::{accounts, routing};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/brands/{id}/operators", get(list).post(invite))
        .route("/operators/{id}", axum::routing::patch(change))
        .route("/operators/{id}/invite", post(reinvite))
        .route("/operators/{id}/deactivate", post(deactivate))
}

/// `GET /brands/{id}/operators`: the brand's operators and every admin, by name.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn list(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<Vec<OperatorAccount>>, ApiError> {
    let brand: BrandId = parse_field("id", &id)?;
    op.require_brand(brand)?;
    Ok(Json(state.store.list_operator_accounts(Some(brand)).await?))
}

/// Body of `POST /brands/{id}/operators`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
    name: String,
    role: String,
    #[serde(default)]
    departments: Vec<String>,
    capacity: Option<i64>,
}

/// Answer of an invite: the account and the one-time link to send them.
#[derive(Debug, Serialize)]
struct Invited {
    operator: OperatorAccount,
    /// Path on this server; the console joins it to its own origin.
    invite_path: String,
    /// Full link, from the public URL or the request's host.
    invite_url: String,
    invite_expires_ms: i64,
}

/// Checks a capacity from a request.
pub(crate) fn capacity(value: i64) -> Result<u32, ApiError> {
    u32::try_from(value)
        .ok()
        .filter(|c| (MIN_CAPACITY..=MAX_CAPACITY).contains(c))
        .ok_or_else(|| {
            ApiError::bad_request(
                "capacity",
                format!(
                    "capacity must be between {MIN_CAPACITY} and {MAX_CAPACITY} chats, not {value}"
                ),
            )
        })
}

/// Parses department ids and checks each belongs to `brand`.
async fn departments_of_brand(
    state: &AppState,
    brand: BrandId,
    ids: &[String],
) -> Result<Vec<DepartmentId>, ApiError> {
    let known = state.store.list_departments(brand).await?;
    let mut departments = Vec::with_capacity(ids.len());
    for id in ids {
        let department: DepartmentId = parse_field("departments", id)?;
        if !known.iter().any(|d| d.id == department) {
            return Err(ApiError::bad_request(
                "departments",
                format!("department {department} is not a department of this brand"),
            ));
        }
        if !departments.contains(&department) {
            departments.push(department);
        }
    }
    Ok(departments)
}

/// The server's own base URL for links: the public URL, else what the browser used.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = &state.public_url {
        return public.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if over_https(headers, state) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A fresh invite link for `operator`, as the answer shows it.
async fn invite_link(
    state: &AppState,
    op: &ApiOperator,
    headers: &HeaderMap,
    operator: OperatorId,
) -> Result<Invited, ApiError> {
    let (token, invite_expires_ms) = accounts::issue_invite(state, operator, op.id()).await?;
    let invite_path = format!("/invite/{token}");
    Ok(Invited {
        operator: state.store.operator_account(operator).await?,
        invite_url: format!("{}{invite_path}", base_url(state, headers)),
        invite_path,
        invite_expires_ms,
    })
}

/// `POST /brands/{id}/operators`: adds an operator who sets their password through the
/// returned invite link. Admins get no brand: they serve all of them.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn invite(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let brand = managed_brand(&op, &id)?;
    let body: InviteBody = json_body("body", &body)?;
    let email =
        Email::parse(&body.email).map_err(|e| ApiError::bad_request("email", e.to_string()))?;
    let name =
        DisplayName::parse(&body.name).map_err(|e| ApiError::bad_request("name", e.to_string()))?;
    let role: Role = parse_field("role", &body.role)?;
    let account_brand = (role != Role::Admin).then_some(brand);
    op.access().grant(role, account_brand)?;
    let departments = departments_of_brand(&state, brand, &body.departments).await?;
    let capacity = body.capacity.map(capacity).transpose()?;
    let operator = state
        .store
        .create_invited_operator(
            &NewOperator {
                brand_id: account_brand,
                email: email.as_str().to_owned(),
                display_name: name.as_str().to_owned(),
                role,
                password_hash: None,
            },
            &departments,
            capacity,
            state.clock.now_ms(),
        )
        .await?;
    let invited = invite_link(&state, &op, &headers, operator.id).await?;
    audit(
        &state,
        &op,
        Some(brand),
        "operator.invited",
        format!("operator:{}", operator.id),
        json!({"email": email.as_str(), "role": role, "departments": departments, "capacity": capacity}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(invited)))
}

/// The operator `id` names, if the caller may manage them.
async fn managed(
    state: &AppState,
    op: &ApiOperator,
    id: &str,
) -> Result<OperatorAccount, ApiError> {
    let id: OperatorId = parse_field("id", id)?;
    let account = state.store.operator_account(id).await?;
    op.access().manage_operator(
        account.operator.role,
        account.operator.brand_id.map(BrandId),
    )?;
    Ok(account)
}

/// Body of `PATCH /operators/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    role: Option<String>,
    departments: Option<Vec<String>>,
    capacity: Option<i64>,
}

/// `PATCH /operators/{id}` `{"role"?, "departments"?, "capacity"?}`: nobody changes their own
/// role (so the last admin cannot demote themself by accident).
#[tracing::instrument(skip_all, fields(operator = %op.0.id, target = %id))]
async fn change(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<OperatorAccount>, ApiError> {
    let account = managed(&state, &op, &id).await?;
    let target = account.operator.id;
    let brand = account.operator.brand_id.map(BrandId);
    let body: ChangeBody = json_body("body", &body)?;
    let role = body
        .role
        .as_deref()
        .map(|r| parse_field::<Role>("role", r))
        .transpose()?;
    if let Some(role) = role {
        if target == op.id() && role != account.operator.role {
            return Err(ApiError::Forbidden("you cannot change your own role"));
        }
        op.access().grant(role, brand)?;
    }
    let departments = match (&body.departments, brand) {
        (Some(ids), Some(brand)) => Some(departments_of_brand(&state, brand, ids).await?),
        (Some(ids), None) if ids.is_empty() => Some(Vec::new()),
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "departments",
                "this account has no brand, so it cannot join departments",
            ));
        }
        (None, _) => None,
    };
    let change = OperatorChange {
        role,
        departments,
        capacity: body.capacity.map(capacity).transpose()?,
    };
    state.store.change_operator(target, &change).await?;
    // Memberships and capacity decide who gets chats: route what changed.
    let mut touched = account.departments.clone();
    touched.extend(change.departments.iter().flatten().copied());
    routing::route(&state, touched).await;
    state.hub.nudge();
    audit(
        &state,
        &op,
        brand,
        "operator.changed",
        format!("operator:{target}"),
        json!({"role": change.role, "departments": change.departments, "capacity": change.capacity}),
    )
    .await;
    Ok(Json(state.store.operator_account(target).await?))
}

/// `POST /operators/{id}/invite`: a new one-time link for the operator to set a password (the
/// previous link stops working). Also how an admin resets a forgotten password.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, target = %id))]
async fn reinvite(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Invited>, ApiError> {
    let account = managed(&state, &op, &id).await?;
    if account.deactivated_ms.is_some() {
        return Err(ApiError::Conflict(
            "this operator is deactivated; nobody can log in as them".into(),
        ));
    }
    let target = account.operator.id;
    let invited = invite_link(&state, &op, &headers, target).await?;
    audit(
        &state,
        &op,
        account.operator.brand_id.map(BrandId),
        "operator.reinvited",
        format!("operator:{target}"),
        json!({}),
    )
    .await;
    Ok(Json(invited))
}

/// `POST /operators/{id}/deactivate`: they cannot log in or use API tokens any more, their
/// sessions end, they go offline, and the chats they had open go back to their departments'
/// lines for someone else. Nobody deactivates themself.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, target = %id))]
async fn deactivate(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<OperatorAccount>, ApiError> {
    let account = managed(&state, &op, &id).await?;
    let target = account.operator.id;
    if target == op.id() {
        return Err(ApiError::Forbidden(
            "you cannot deactivate your own account",
        ));
    }
    state
        .store
        .deactivate_operator(target, state.clock.now_ms())
        .await?;
    routing::return_chats_of(&state, target).await?;
    audit(
        &state,
        &op,
        account.operator.brand_id.map(BrandId),
        "operator.deactivated",
        format!("operator:{target}"),
        json!({}),
    )
    .await;
    Ok(Json(state.store.operator_account(target).await?))
}
