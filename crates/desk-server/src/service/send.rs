//! Sending to LINE: an operator's message is queued in the outbox; the sender delivers it with
//! the free reply token when one is fresh, otherwise by push with a retry key that stays the
//! same across retries, so LINE never delivers it twice.

use desk_core::{
    ChannelId, ConversationId, MessageKind, Millis, OperatorId, OutgoingText, RetryPolicy,
    SendRoute, SentVia,
};
use desk_store::{Message, OutboxJob, SendOutcome, StoreError};
use line_api::LineError;
use line_api::message::Message as LineMessage;

use crate::state::AppState;

/// Queues an operator's text into a conversation of `channel`. `quote_token` quotes a user
/// message.
pub async fn queue_text(
    state: &AppState,
    channel: ChannelId,
    conversation: ConversationId,
    operator: OperatorId,
    text: OutgoingText,
    quote_token: Option<String>,
    now: Millis,
) -> Result<Message, StoreError> {
    let mut message = LineMessage::text(text.as_str());
    if let Some(q) = quote_token {
        message = message.with_quote_token(q);
    }
    let body = serde_json::to_value(&message).unwrap_or_default();
    let rules = state.rules.get(&state.store, channel, now).await?;
    let stored = state
        .store
        .enqueue_message(conversation, operator, MessageKind::Text, body, &rules, now)
        .await?;
    state.wake.outbox.notify_one();
    state.hub.nudge();
    Ok(stored)
}

/// Delivers one claimed job and decides its outcome. Never fails: every failure is an outcome.
#[tracing::instrument(skip_all, fields(outbox_id = %job.id, conversation = %job.conversation_id, attempt = job.attempts))]
pub async fn deliver(
    state: &AppState,
    job: &OutboxJob,
    policy: &RetryPolicy,
    now: Millis,
) -> SendOutcome {
    let messages: Vec<LineMessage> = match serde_json::from_value(job.payload.0.clone()) {
        Ok(m) => m,
        Err(e) => {
            return SendOutcome::Failed {
                reason: format!("stored message cannot be sent: {e}"),
            };
        }
    };
    let token = match state
        .tokens
        .get(&state.store, &state.line, job.channel_id, now)
        .await
    {
        Ok(token) => token,
        Err(e) => return retry_or_fail(policy, job, e.to_string(), now),
    };

    if let Some(outcome) = try_reply(state, job, &token, &messages, now).await {
        return outcome;
    }

    match state
        .line
        .push(&token, &job.to_line_id, &messages, job.id.0)
        .await
    {
        Ok(sent) => accepted(SentVia::Push, sent),
        // LINE already accepted this retry key: an earlier attempt got through.
        Err(e) if e.is_conflict() => SendOutcome::Sent {
            via: SentVia::Push,
            line_message_id: None,
            quote_token: None,
        },
        Err(e) => push_failure(state, job, policy, e, now).await,
    }
}

/// Uses the conversation's reply token if it is fresh and we win it. `None`: push instead.
async fn try_reply(
    state: &AppState,
    job: &OutboxJob,
    token: &str,
    messages: &[LineMessage],
    now: Millis,
) -> Option<SendOutcome> {
    let reply_token = state
        .store
        .reply_token(job.conversation_id)
        .await
        .ok()
        .flatten();
    let SendRoute::Reply(reply_token) = SendRoute::choose(reply_token.as_ref(), now) else {
        return None;
    };
    // The token is single-use: take it first, so two senders never both try it.
    if !state
        .store
        .take_reply_token(job.conversation_id, &reply_token)
        .await
        .unwrap_or(false)
    {
        return None;
    }
    match state.line.reply(token, &reply_token, messages).await {
        Ok(sent) => Some(accepted(SentVia::Reply, sent)),
        Err(e) => {
            // Expired or rejected token, or an unknown outcome: fall back to push. After a
            // transport error the reply may have arrived anyway; reply has no retry key, so
            // that rare case can show the message twice. Losing it would be worse.
            tracing::info!(error = %e, "reply failed; pushing instead");
            None
        }
    }
}

async fn push_failure(
    state: &AppState,
    job: &OutboxJob,
    policy: &RetryPolicy,
    e: LineError,
    now: Millis,
) -> SendOutcome {
    if e.is_monthly_limit() {
        tracing::warn!(channel = %job.channel_id, "monthly message limit reached");
        return SendOutcome::Failed {
            reason: "LINE: You have reached your monthly limit.".into(),
        };
    }
    if e.is_unauthorized() {
        let _ = state.tokens.invalidate(&state.store, job.channel_id).await;
        return retry_or_fail(policy, job, e.to_string(), now);
    }
    if e.is_retryable() {
        return retry_or_fail(policy, job, e.to_string(), now);
    }
    SendOutcome::Failed {
        reason: e.to_string(),
    }
}

fn retry_or_fail(policy: &RetryPolicy, job: &OutboxJob, error: String, now: Millis) -> SendOutcome {
    let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
    if policy.may_retry(attempts) {
        let delay = policy.delay(attempts, rand::random::<f64>());
        SendOutcome::Retry {
            next_attempt_ms: now + delay,
            error,
        }
    } else {
        SendOutcome::Failed {
            reason: format!("gave up after {attempts} attempts: {error}"),
        }
    }
}

/// LINE accepted the send: keep the id and quote token of the (first) message it created.
fn accepted(via: SentVia, response: line_api::client::SendResponse) -> SendOutcome {
    let first = response.sent_messages.into_iter().next();
    SendOutcome::Sent {
        via,
        line_message_id: first.as_ref().map(|m| m.id.clone()),
        quote_token: first.and_then(|m| m.quote_token),
    }
}
