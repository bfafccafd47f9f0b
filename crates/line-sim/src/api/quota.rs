//! `GET /v2/bot/message/quota` and `GET /v2/bot/message/quota/consumption`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::Auth;
use crate::clock;
use crate::error::ApiError;
use crate::sim::LineSim;

/// `MessageQuotaResponse`: `{"type": "limited", "value": N}` or `{"type": "none"}`.
pub(crate) async fn quota(State(sim): State<LineSim>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let st = sim.lock();
    let ch = auth.channel(&st)?;
    Ok(Json(match ch.quota {
        Some(n) => json!({ "type": "limited", "value": n }),
        None => json!({ "type": "none" }),
    }))
}

/// `QuotaConsumptionResponse`: messages counted by delivered pushes this calendar month.
pub(crate) async fn consumption(
    State(sim): State<LineSim>,
    auth: Auth,
) -> Result<Json<Value>, ApiError> {
    let st = sim.lock();
    let used = auth.channel(&st)?.usage_this_month(clock::now_ms());
    Ok(Json(json!({ "totalUsage": used })))
}
