//! Bot info and user profiles: `GET /v2/bot/info`, `GET /v2/bot/profile/{userId}`, and the
//! group/room member profile endpoints.

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use super::{Auth, LinePath};
use crate::error::ApiError;
use crate::model::SimUser;
use crate::sim::LineSim;

/// `GET /v2/bot/info` → `BotInfoResponse`.
pub(crate) async fn info(State(sim): State<LineSim>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let st = sim.lock();
    let spec = &auth.channel(&st)?.spec;
    let mut m = Map::new();
    m.insert("userId".into(), json!(spec.bot_user_id));
    m.insert("basicId".into(), json!(spec.basic_id));
    m.insert("displayName".into(), json!(spec.display_name));
    if let Some(p) = &spec.picture_url {
        m.insert("pictureUrl".into(), json!(p));
    }
    m.insert("chatMode".into(), json!(spec.chat_mode.as_str()));
    m.insert(
        "markAsReadMode".into(),
        json!(spec.chat_mode.mark_as_read_mode()),
    );
    Ok(Json(Value::Object(m)))
}

fn member_profile(user: &SimUser) -> Value {
    let mut m = Map::new();
    m.insert("displayName".into(), json!(user.display_name));
    m.insert("userId".into(), json!(user.user_id));
    if let Some(p) = &user.picture_url {
        m.insert("pictureUrl".into(), json!(p));
    }
    Value::Object(m)
}

/// `GET /v2/bot/profile/{userId}` → `UserProfileResponse`; 404 for unknown users and users who
/// blocked the account. Slowed and failed by the injected faults, like the send APIs.
pub(crate) async fn profile(
    State(sim): State<LineSim>,
    auth: Auth,
    LinePath(user_id): LinePath<String>,
) -> Result<Json<Value>, ApiError> {
    super::send::injected_faults(&sim).await?;
    let st = sim.lock();
    let user = st
        .channels
        .get(&auth.channel_id)
        .and_then(|ch| ch.users.get(&user_id))
        .filter(|u| !u.blocked)
        .ok_or_else(ApiError::not_found)?;
    let mut profile = member_profile(&user.user);
    if let Value::Object(m) = &mut profile {
        if let Some(s) = &user.user.status_message {
            m.insert("statusMessage".into(), json!(s));
        }
        if let Some(l) = &user.user.language {
            m.insert("language".into(), json!(l));
        }
    }
    Ok(Json(profile))
}

/// `GET /v2/bot/group/{groupId}/member/{userId}` → `GroupUserProfileResponse`, and
/// `GET /v2/bot/room/{roomId}/member/{userId}` → `RoomUserProfileResponse`: one handler, as the
/// sim keeps groups and rooms in one map and both answers have the same shape. Slowed and
/// failed by the injected faults, like the user profile.
pub(crate) async fn chat_member(
    State(sim): State<LineSim>,
    auth: Auth,
    LinePath((chat_id, user_id)): LinePath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    super::send::injected_faults(&sim).await?;
    let st = sim.lock();
    let ch = auth.channel(&st)?;
    let is_member = ch.chats.get(&chat_id).is_some_and(|m| m.contains(&user_id));
    let user = ch
        .users
        .get(&user_id)
        .filter(|_| is_member)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(member_profile(&user.user)))
}
