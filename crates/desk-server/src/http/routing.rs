//! Routing settings: an operator's presence and capacity, a department's routing mode. Each
//! change routes the departments concerned at once (see `service::routing`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Json;
use axum::routing::put;
use desk_core::{BrandId, DepartmentId, OperatorId, Presence, RoutingMode};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::http::api::{json_body, parse_field};
use crate::http::auth::ApiOperator;
use crate::http::channels::{audit, managed_department};
use crate::http::operators::capacity;
use crate::service::routing;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/operators/{id}/presence", put(set_presence))
        .route("/operators/{id}/capacity", put(set_capacity))
        .route("/departments/{id}/routing", put(set_routing))
}

/// Body of `PUT /operators/{id}/presence`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresenceBody {
    presence: String,
}

/// Answer of `PUT /operators/{id}/presence`.
#[derive(Debug, Serialize)]
struct PresenceAnswer {
    operator_id: OperatorId,
    presence: Presence,
}

/// `PUT /operators/{id}/presence` `{"presence": "online"|"away"|"offline"}`: the operator
/// themself, an admin, or a supervisor of their brand.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, target = %id))]
async fn set_presence(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<PresenceAnswer>, ApiError> {
    let id: OperatorId = parse_field("id", &id)?;
    if id != op.id() {
        let target = state.store.operator(id).await?;
        op.access()
            .presence_of(id, target.role, target.brand_id.map(BrandId))?;
    }
    let b: PresenceBody = json_body("presence", &bytes)?;
    let presence: Presence = parse_field("presence", &b.presence)?;
    state.store.set_presence(id, presence).await?;
    state.hub.nudge();
    routing::route_operator(&state, id).await;
    Ok(Json(PresenceAnswer {
        operator_id: id,
        presence,
    }))
}

/// Body of `PUT /operators/{id}/capacity`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapacityBody {
    capacity: i64,
}

/// Answer of `PUT /operators/{id}/capacity`.
#[derive(Debug, Serialize)]
struct CapacityAnswer {
    operator_id: OperatorId,
    capacity: u32,
}

/// `PUT /operators/{id}/capacity` `{"capacity": n}` (1 to 50). Admins and supervisors of the
/// operator's brand.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, target = %id))]
async fn set_capacity(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<CapacityAnswer>, ApiError> {
    let id: OperatorId = parse_field("id", &id)?;
    let target = state.store.operator(id).await?;
    op.access()
        .manage_operator(target.role, target.brand_id.map(BrandId))?;
    let b: CapacityBody = json_body("capacity", &bytes)?;
    let capacity = capacity(b.capacity)?;
    state.store.set_capacity(id, capacity).await?;
    audit(
        &state,
        &op,
        target.brand_id.map(BrandId),
        "operator.capacity_changed",
        format!("operator:{id}"),
        serde_json::json!({"capacity": capacity}),
    )
    .await;
    state.hub.nudge();
    routing::route_operator(&state, id).await;
    Ok(Json(CapacityAnswer {
        operator_id: id,
        capacity,
    }))
}

/// Body of `PUT /departments/{id}/routing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingBody {
    mode: String,
}

/// Answer of `PUT /departments/{id}/routing`.
#[derive(Debug, Serialize)]
struct RoutingAnswer {
    department_id: DepartmentId,
    mode: RoutingMode,
}

/// `PUT /departments/{id}/routing` `{"mode": "notify_all"|"round_robin"|"last_attender_first"}`.
/// Admins and the brand's supervisors.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, department = %id))]
async fn set_routing(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<RoutingAnswer>, ApiError> {
    let (id, brand) = managed_department(&state, &op, &id).await?;
    let b: RoutingBody = json_body("mode", &bytes)?;
    let mode: RoutingMode = parse_field("mode", &b.mode)?;
    state.store.set_routing_mode(id, mode).await?;
    audit(
        &state,
        &op,
        Some(brand),
        "department.routing_changed",
        format!("department:{id}"),
        serde_json::json!({"mode": mode}),
    )
    .await;
    state.hub.nudge();
    routing::route(&state, [id]).await;
    Ok(Json(RoutingAnswer {
        department_id: id,
        mode,
    }))
}
