//! A department's business hours: when they are set, the channel option "postpone idle close
//! outside business hours" moves an idle deadline that falls while the team is away.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Json;
use axum::routing::put;
use desk_core::BusinessHours;

use crate::error::ApiError;
use crate::http::api::json_body;
use crate::http::auth::ApiOperator;
use crate::http::channels::{audit, managed_department};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/departments/{id}/hours", put(set_hours))
}

/// `PUT /departments/{id}/hours` with `{"time_zone": "Asia/Tokyo", "weekly": {"monday":
/// [{"start": 540, "end": 1080}], …}}` (minutes after midnight), or `null` to clear. Admins and
/// the brand's supervisors;
/// an invalid schedule answers 400 saying what is wrong.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, department = %id))]
async fn set_hours(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Option<BusinessHours>>, ApiError> {
    let (department, brand) = managed_department(&state, &op, &id).await?;
    let hours: Option<BusinessHours> = json_body("hours", &body)?;
    state
        .store
        .set_business_hours(department, hours.as_ref())
        .await?;
    audit(
        &state,
        &op,
        Some(brand),
        "department.hours_changed",
        format!("department:{department}"),
        serde_json::json!({"hours": hours}),
    )
    .await;
    state.rules.invalidate();
    Ok(Json(hours))
}
