//! `POST /line/webhook/{channel_key}`: verify, parse, store durably, then answer 200.
//! LINE waits about two seconds, so nothing slow happens here: the inbox processor does the rest.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use desk_store::NewInboxEvent;
use line_api::signature::{SIGNATURE_HEADER, verify};
use line_api::webhook::parse_body;

use crate::crypto::Purpose;
use crate::state::AppState;

/// LINE's bodies are a few KB; 1 MiB leaves room for large batches and stops abuse.
pub const MAX_BODY: usize = 1 << 20;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/line/webhook/{channel_key}",
        post(receive).layer(DefaultBodyLimit::max(MAX_BODY)),
    )
}

fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

/// Receives a webhook request.
#[tracing::instrument(skip_all, fields(channel_key = %key, events))]
async fn receive(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.clock.now_ms();
    let channel = match state.channels.by_key(&state.store, &key, now).await {
        Ok(Some(channel)) => channel,
        // Not live: perhaps a channel being connected (its wizard answers LINE's test).
        Ok(None) => return crate::http::wizard::probe(&state, &key, &headers, &body).await,
        Err(e) => {
            tracing::error!(error = %e, "channel lookup failed");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable; LINE will redeliver",
            );
        }
    };

    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    // The current secret, and the previous one during its grace period after a rotation.
    let verified = signature.is_some_and(|sig| {
        channel.verifying_secrets(now).any(|sealed| {
            match state.cipher.open(Purpose::ChannelSecret, sealed) {
                Ok(secret) => verify(secret.expose(), &body, sig),
                Err(e) => {
                    tracing::error!(channel = %channel.id, error = %e, "cannot open the channel secret");
                    false
                }
            }
        })
    });
    if !verified {
        let reason = if signature.is_some() {
            "signature does not match"
        } else {
            "x-line-signature header missing"
        };
        tracing::warn!(channel = %channel.id, reason, "webhook refused");
        if let Err(e) = state.store.record_signature_failure(channel.id).await {
            tracing::error!(error = %e, "could not count the signature failure");
        }
        return plain(
            StatusCode::UNAUTHORIZED,
            format!("invalid signature: {reason}"),
        );
    }

    let parsed = match parse_body(&body) {
        Ok(parsed) => parsed,
        Err(e) => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!("malformed webhook body: {e}"),
            );
        }
    };
    tracing::Span::current().record("events", parsed.events.len());
    if let Some(bot) = &channel.bot_user_id
        && *bot != parsed.destination
    {
        tracing::warn!(destination = %parsed.destination, expected = %bot, "webhook destination differs from the channel's bot");
    }

    let events: Vec<NewInboxEvent> = parsed
        .events
        .iter()
        .map(|e| NewInboxEvent {
            channel_id: channel.id,
            dedupe_key: e.dedupe_key(),
            chat_key: e.event.chat_key(),
            event_type: e.event.event_type().to_owned(),
            event_ms: e.event.timestamp,
            raw: e.raw.get().to_owned(),
        })
        .collect();
    if events.is_empty() {
        // LINE's connectivity check ("Verify" in the console, and the webhook test).
        return plain(StatusCode::OK, "");
    }
    match state.store.inbox_append(events, now).await {
        Ok(_) => {
            state.wake.inbox.notify_one();
            plain(StatusCode::OK, "")
        }
        Err(e) => {
            // Not stored, so not acknowledged: LINE redelivers (when redelivery is on).
            tracing::error!(error = %e, "inbox append failed");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable; LINE will redeliver",
            )
        }
    }
}
