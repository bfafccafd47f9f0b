//! Calling an external bot: the desk POSTs each event of a bot-held chat to the configured
//! URL and turns the answer into a bot turn.
//!
//! # The contract
//!
//! **Request.** `POST {url}` with `Content-Type: application/json` and
//! `X-Linedesk-Signature: base64(HMAC-SHA256(secret, raw body))`, where `secret` is the
//! channel's bot secret (shown once when the external bot is configured). Verify the
//! signature over the exact bytes received before trusting the body.
//!
//! ```json
//! {
//!   "version": 1,
//!   "idempotency_key": "1234",
//!   "webhook_event_id": "01FZ74A0TDDPYRVKNK77XKC3ZR",
//!   "channel_id": "0190…",
//!   "conversation_id": "0190…",
//!   "new_chat": true,
//!   "user": {"line_user_id": "U4af4980629…", "display_name": "Aiko", "language": "ja"},
//!   "event": {"type": "message", "message": {"type": "text", "id": "4689…", "text": "hello"}}
//! }
//! ```
//! `event` is one of `{"type": "message", "message": <LINE message object as received>}`,
//! `{"type": "postback", "postback": {"data": "…", "params": {…}}}` and `{"type": "follow"}`;
//! `conversation_id` is `null` for a follow before any chat. `display_name` and `language`
//! are `null` when LINE gave no profile.
//!
//! **Repeats.** Each event is a durable bot turn: if the desk stops (or crashes) after
//! posting it and before storing the answer, it posts the same event again after the restart,
//! with the same `idempotency_key` (one per event, never reused; `webhook_event_id` is LINE's
//! id of the event, `null` for events LINE sent without one). The desk sends at most one of
//! the answers to the user, but a bot that acts on the side (books, orders, charges) should
//! do that once per `idempotency_key` and answer a repeat as it answered the first time.
//!
//! **Answer.** Within 5 seconds, status 2xx, a JSON body as described in
//! [`desk_core::bot::external`]: `messages` (text, sticker, image), `quick_replies`,
//! `handoff` (`{}` or `{"department_id": "…"}`) or `close`. `{}` (or an empty body with
//! 204) says nothing and keeps the chat with the bot.
//!
//! **Failures.** A timeout, a connection error, a non-2xx status or an answer that is not
//! valid is logged for the channel (`GET /api/v1/channels/{id}/bot`) and the chat is handed
//! to the channel's department: the user is never left talking to a broken bot.

use std::time::Duration;

use desk_core::bot::BotReply;
use desk_core::bot::external::{ExternalAnswer, ExternalUrl};
use serde_json::{Value, json};

use crate::service::bot::{BotEvent, Incoming};
use crate::state::AppState;

/// How long the external bot has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-linedesk-signature";
/// Largest answer read; anything longer is not a chat answer.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Why an external bot call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no answer within {} seconds", TIMEOUT.as_secs())]
    Timeout,
    #[error("request failed: {0}")]
    Http(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("answer refused: {0}")]
    Answer(String),
    #[error("the signing secret cannot be used: {0}")]
    Secret(String),
}

impl CallError {
    /// The failure's kind, as logged per channel.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout => "timeout",
            CallError::Http(_) => "http",
            CallError::Status(_) => "status",
            CallError::Answer(_) => "answer",
            CallError::Secret(_) => "secret",
        }
    }
}

/// Makes external bot calls, with a client of its own: no redirects (the admin chose this
/// URL, not wherever it points), and [`TIMEOUT`] for the whole call.
#[derive(Clone)]
pub struct ExternalCall {
    http: reqwest::Client,
}

impl ExternalCall {
    /// The client for external bot calls.
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "linedesk/",
                env!("CARGO_PKG_VERSION"),
                " (chatbot)"
            ))
            .build()?;
        Ok(Self { http })
    }

    /// Sends `event` to the bot at `url`, signed with `secret`, and checks the answer.
    #[tracing::instrument(skip_all, fields(url = url.as_str()))]
    pub async fn call(
        &self,
        state: &AppState,
        url: &ExternalUrl,
        secret: &str,
        event: &BotEvent,
    ) -> Result<BotReply, CallError> {
        let contact = super::profiles::contact_with_profile(state, event.scope, &event.line_id)
            .await
            .ok()
            .flatten();
        let body = request_body(event, contact.as_ref());
        let body = serde_json::to_vec(&body).map_err(|e| CallError::Http(e.to_string()))?;
        let mut response = self
            .http
            .post(url.as_str())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, line_api::signature::sign(secret, &body))
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(CallError::Status(status.as_u16()));
        }
        let mut body = Vec::new();
        // Read in chunks, so an endless answer stops at the limit instead of filling memory.
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(CallError::Answer(format!(
                    "the answer is longer than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        parse_answer(&body)
    }
}

fn transport(e: reqwest::Error) -> CallError {
    if e.is_timeout() {
        CallError::Timeout
    } else {
        CallError::Http(e.to_string())
    }
}

/// The request body (see the module documentation).
fn request_body(event: &BotEvent, contact: Option<&desk_store::Contact>) -> Value {
    let event_json = match &event.incoming {
        Incoming::Follow => json!({"type": "follow"}),
        Incoming::Message(message) => json!({"type": "message", "message": message}),
        Incoming::Postback { data, params } => {
            json!({"type": "postback", "postback": {"data": data, "params": params}})
        }
    };
    json!({
        "version": 1,
        "idempotency_key": event.turn.to_string(),
        "webhook_event_id": event.webhook_event_id,
        "channel_id": event.scope.channel_id,
        "conversation_id": event.conversation,
        "new_chat": event.opened,
        "user": {
            "line_user_id": event.line_id,
            "display_name": contact.and_then(|c| c.display_name.as_deref()),
            "language": contact.and_then(|c| c.language.as_deref()),
        },
        "event": event_json,
    })
}

/// An answer body: empty means `{}`.
fn parse_answer(bytes: &[u8]) -> Result<BotReply, CallError> {
    let answer: ExternalAnswer = if bytes.iter().all(u8::is_ascii_whitespace) {
        ExternalAnswer::default()
    } else {
        serde_json::from_slice(bytes).map_err(|e| CallError::Answer(e.to_string()))?
    };
    answer
        .into_reply()
        .map_err(|e| CallError::Answer(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use desk_core::bot::After;

    #[test]
    fn answers_parse_or_name_the_problem() {
        assert_eq!(parse_answer(b"").map(|r| r.then).ok(), Some(After::Stay));
        assert_eq!(
            parse_answer(br#"{"close": true}"#).map(|r| r.then).ok(),
            Some(After::Close)
        );
        let err = parse_answer(b"<html>").expect_err("not json");
        assert_eq!(err.kind(), "answer");
        let err = parse_answer(br#"{"messages": [{"type": "text", "text": ""}]}"#)
            .expect_err("empty text");
        assert_eq!(
            err.to_string(),
            "answer refused: messages[0].text: text is empty"
        );
    }
}
