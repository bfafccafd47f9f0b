//! `POST /v2/bot/message/reply` and `POST /v2/bot/message/push`.
//!
//! Order of checks: body readable → retry key format (push) → monthly limit (push) →
//! `fail_next` `BeforeAccept` → random faults → body validation → retry key already accepted
//! (push, 409) → recipient (push) / reply token (reply) → accept (deliver) → `fail_next`
//! `AfterAccept`. Every answer after authentication is recorded as a [`SentRecord`].

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng as _;
use serde_json::{Value, json};

use super::{Auth, RETRY_KEY_HEADER, RawBody, RequestId, json_object};
use crate::clock;
use crate::error::{ApiError, Detail};
use crate::model::{FailWhen, SendApi, SentRecord};
use crate::sim::LineSim;
use crate::state::{AcceptedRetry, REPLY_TOKEN_TTL_MS, RETRY_KEY_TTL_MS, State as SimState};
use crate::validate::{self, Checker};

/// `POST /v2/bot/message/reply`.
pub(crate) async fn reply(
    State(sim): State<LineSim>,
    auth: Auth,
    RequestId(request_id): RequestId,
    RawBody(body): RawBody,
) -> Response {
    handle(
        sim,
        SendApi::Reply,
        auth.channel_id,
        request_id,
        None,
        &body,
    )
    .await
}

/// `POST /v2/bot/message/push` (optional `X-Line-Retry-Key`).
pub(crate) async fn push(
    State(sim): State<LineSim>,
    auth: Auth,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Response {
    let retry_key = headers
        .get(RETRY_KEY_HEADER)
        .map(|v| v.to_str().map(str::to_owned).unwrap_or_default());
    handle(
        sim,
        SendApi::Push,
        auth.channel_id,
        request_id,
        retry_key,
        &body,
    )
    .await
}

async fn handle(
    sim: LineSim,
    api: SendApi,
    channel_id: String,
    request_id: String,
    retry_key: Option<String>,
    body: &[u8],
) -> Response {
    injected_latency(&sim).await;
    let mut rec = SentRecord {
        api,
        channel_id,
        to: String::new(),
        messages: Vec::new(),
        retry_key,
        status: 0,
        delivered: false,
        at_ms: clock::now_ms(),
    };
    let mut st = sim.lock();
    let outcome = decide(&mut st, &mut rec, &request_id, body);
    let response = match outcome {
        Ok(ok) => {
            rec.status = 200;
            (StatusCode::OK, Json(ok)).into_response()
        }
        Err(err) => {
            rec.status = err.status.as_u16();
            err.into_response()
        }
    };
    tracing::info!(
        api = ?rec.api,
        to = %rec.to,
        status = rec.status,
        delivered = rec.delivered,
        "send request answered"
    );
    st.sent.push(rec);
    response
}

fn is_uuid(key: &str) -> bool {
    key.len() == 36 && uuid::Uuid::try_parse(key).is_ok()
}

/// Decides the answer; fills `rec` (recipient, messages, delivered) along the way.
fn decide(
    st: &mut SimState,
    rec: &mut SentRecord,
    request_id: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let now = rec.at_ms;
    let api = rec.api;
    let channel_id = rec.channel_id.clone();
    let body = json_object(body)?;
    if let Some(Value::Array(msgs)) = body.get("messages") {
        rec.messages = msgs.clone();
    }
    let reply_token = body
        .get("replyToken")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match api {
        SendApi::Push => {
            rec.to = body
                .get("to")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
        }
        SendApi::Reply => {
            if let Some(t) = reply_token
                .as_deref()
                .and_then(|t| st.reply_tokens.get(t))
                .filter(|t| t.channel_id == channel_id)
            {
                rec.to = t.to.clone();
            }
        }
    }

    // Header.
    if let Some(key) = &rec.retry_key
        && !is_uuid(key)
    {
        return Err(ApiError::with_details(
            "The request header has 1 error(s)".into(),
            &[Detail::new("Must be a UUID", "X-Line-Retry-Key")],
        ));
    }

    // Server-side refusals before the request is looked at.
    if api == SendApi::Push {
        let over_quota = st
            .channels
            .get(&channel_id)
            .is_some_and(|ch| ch.quota.is_some_and(|q| ch.usage_this_month(now) >= q));
        if st.faults.monthly_limit || over_quota {
            return Err(ApiError::message(
                StatusCode::TOO_MANY_REQUESTS,
                "You have reached your monthly limit.",
            ));
        }
    }
    if let Some(status) = st.take_failure(api, FailWhen::BeforeAccept) {
        return Err(ApiError::injected(status));
    }
    if let Some(status) = random_fault(st) {
        return Err(ApiError::injected(status));
    }

    // Body.
    let quote_ok = |q: &str| st.quote_tokens.get(q).is_some_and(|c| *c == channel_id);
    let mut check = Checker::new(&quote_ok);
    match api {
        SendApi::Push => {
            check.required_str(&body, "to", "");
        }
        SendApi::Reply => {
            check.required_str(&body, "replyToken", "");
        }
    }
    check.messages(&body);
    check.notification_disabled(&body);
    if !check.details.is_empty() {
        return Err(ApiError::invalid_body(&check.details));
    }
    let messages = rec.messages.clone();

    // Recipient.
    let (delivered, units) = match api {
        SendApi::Push => {
            if let Some(key) = rec.retry_key.clone()
                && let Some(ch) = st.channels.get_mut(&channel_id)
            {
                ch.retry_keys
                    .retain(|_, a| now - a.at_ms < RETRY_KEY_TTL_MS);
                if let Some(accepted) = ch.retry_keys.get(&key) {
                    return Err(ApiError {
                        status: StatusCode::CONFLICT,
                        body: json!({
                            "message": "The retry key is already accepted",
                            "sentMessages": accepted.sent_messages,
                        }),
                        headers: Vec::new(),
                    }
                    .header("x-line-accepted-request-id", accepted.request_id.clone()));
                }
            }
            let ch = st.channels.get(&channel_id);
            let target = ch.and_then(|ch| {
                if let Some(u) = ch.users.get(&rec.to) {
                    Some((!u.blocked, 1u64))
                } else {
                    ch.chats
                        .get(&rec.to)
                        .map(|members| (true, (members.len() as u64).max(1)))
                }
            });
            target.ok_or_else(|| {
                ApiError::message(StatusCode::BAD_REQUEST, "Failed to send messages")
            })?
        }
        SendApi::Reply => {
            let token = reply_token.unwrap_or_default();
            let valid = st.reply_tokens.get(&token).is_some_and(|t| {
                t.channel_id == channel_id && !t.used && now - t.issued_ms < REPLY_TOKEN_TTL_MS
            });
            if !valid {
                return Err(ApiError::message(
                    StatusCode::BAD_REQUEST,
                    "Invalid reply token",
                ));
            }
            if let Some(t) = st.reply_tokens.get_mut(&token) {
                t.used = true;
            }
            let blocked = st
                .channels
                .get(&channel_id)
                .and_then(|ch| ch.users.get(&rec.to))
                .is_some_and(|u| u.blocked);
            (!blocked, 0)
        }
    };

    // Accept.
    let sent_messages: Vec<Value> = messages
        .iter()
        .map(|m| {
            let id = st.message_id();
            let ty = m.get("type").and_then(Value::as_str).unwrap_or_default();
            if validate::is_quotable(ty) {
                let qt = st.quote_token(&channel_id);
                json!({ "id": id, "quoteToken": qt })
            } else {
                json!({ "id": id })
            }
        })
        .collect();
    if let Some(ch) = st.channels.get_mut(&channel_id) {
        if delivered && units > 0 {
            ch.usage.push((now, units));
        }
        if let Some(key) = &rec.retry_key {
            ch.retry_keys.insert(
                key.clone(),
                AcceptedRetry {
                    at_ms: now,
                    request_id: request_id.to_owned(),
                    sent_messages: sent_messages.clone(),
                },
            );
        }
    }
    rec.delivered = delivered;
    if let Some(status) = st.take_failure(api, FailWhen::AfterAccept) {
        return Err(ApiError::injected(status));
    }
    Ok(json!({ "sentMessages": sent_messages }))
}

/// Waits out the injected latency, if any (the state lock is not held meanwhile).
async fn injected_latency(sim: &LineSim) {
    let latency = sim.lock().faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

/// The injected latency and random faults, for the APIs other than sending (content,
/// profiles): they have no `fail_next` and no retry keys.
pub(crate) async fn injected_faults(sim: &LineSim) -> Result<(), ApiError> {
    injected_latency(sim).await;
    match random_fault(&sim.lock()) {
        Some(status) => Err(ApiError::injected(status)),
        None => Ok(()),
    }
}

/// Rolls the random 429/500 faults.
fn random_fault(st: &SimState) -> Option<u16> {
    let f = &st.faults;
    if f.rate_429 <= 0.0 && f.rate_500 <= 0.0 {
        return None;
    }
    let roll: f64 = rand::rng().random();
    if roll < f.rate_429 {
        Some(429)
    } else if roll < f.rate_429 + f.rate_500 {
        Some(500)
    } else {
        None
    }
}
