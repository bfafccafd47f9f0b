//! Outgoing webhooks: the signed `POST` of `{"destination", "events"}` to the desk, and the
//! `POST /v2/bot/channel/webhook/test` probe with its result object.

use std::time::Duration;

use serde_json::{Value, json};

use crate::clock;

/// `User-Agent` LINE's webhook requests carry.
const USER_AGENT: &str = "LineBotWebhook/2.0";

/// Timeout of an ordinary webhook delivery.
pub(crate) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The webhook body, serialized compactly. With `redelivery`, every event object gets
/// `deliveryContext.isRedelivery = true`.
pub(crate) fn body(
    destination: &str,
    mut events: Vec<Value>,
    redelivery: bool,
) -> Result<Vec<u8>, serde_json::Error> {
    if redelivery {
        for ev in &mut events {
            if let Value::Object(m) = ev {
                match m.get_mut("deliveryContext") {
                    Some(Value::Object(dc)) => {
                        dc.insert("isRedelivery".into(), Value::Bool(true));
                    }
                    _ => {
                        m.insert("deliveryContext".into(), json!({ "isRedelivery": true }));
                    }
                }
            }
        }
    }
    serde_json::to_vec(&json!({ "destination": destination, "events": events }))
}

/// POSTs `body` with `x-line-signature: signature`.
pub(crate) async fn post(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    signature: &str,
    timeout: Duration,
) -> Result<reqwest::Response, reqwest::Error> {
    http.post(url)
        .timeout(timeout)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .header(line_api::signature::SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
}

/// Runs the webhook test against `url` and returns `TestWebhookEndpointResponse`.
///
/// `reason` is one of `OK`, `ERROR_STATUS_CODE`, `COULD_NOT_CONNECT`, `REQUEST_TIMEOUT`,
/// `UNCLASSIFIED` (the values LINE documents; `messaging-api.yml` only shows `OK`).
/// `statusCode` is 0 when no response was received.
pub(crate) async fn test(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    bot_user_id: &str,
    timeout: Duration,
) -> Value {
    let started = clock::now_ms();
    let sent = std::time::Instant::now();
    let outcome = match body(bot_user_id, Vec::new(), false) {
        Ok(b) => {
            let sig = line_api::signature::sign(secret, &b);
            post(http, url, b, &sig, timeout).await
        }
        Err(e) => {
            return result(
                started,
                false,
                0,
                "UNCLASSIFIED",
                &format!("could not build body: {e}"),
            );
        }
    };
    // An answer later than the limit is a timeout too: the client's timer only ticks in
    // milliseconds, so a fast local answer could otherwise beat a sub-millisecond limit.
    let timed_out = match &outcome {
        Ok(_) => sent.elapsed() > timeout,
        Err(e) => e.is_timeout(),
    };
    match outcome {
        _ if timed_out => result(
            started,
            false,
            0,
            "REQUEST_TIMEOUT",
            &format!("no response within {} ms", timeout.as_millis()),
        ),
        Ok(resp) => {
            let status = resp.status();
            let code = i32::from(status.as_u16());
            if status.is_success() {
                result(started, true, code, "OK", &code.to_string())
            } else {
                result(
                    started,
                    false,
                    code,
                    "ERROR_STATUS_CODE",
                    format!("{} {}", code, status.canonical_reason().unwrap_or("")).trim_end(),
                )
            }
        }
        // Before `is_connect`: a failed TLS handshake is also a connect error.
        Err(e) if is_tls_failure(&e) => result(
            started,
            false,
            0,
            "COULD_NOT_CONNECT",
            &format!("TLS handshake with {url} failed: {}", error_chain(&e)),
        ),
        Err(e) if e.is_connect() => result(
            started,
            false,
            0,
            "COULD_NOT_CONNECT",
            &format!("could not connect to {url}"),
        ),
        Err(e) => result(started, false, 0, "UNCLASSIFIED", &e.to_string()),
    }
}

/// The error and its sources, as one line.
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Whether the request failed in the TLS handshake (bad certificate, or no TLS at all).
fn is_tls_failure(e: &reqwest::Error) -> bool {
    let chain = error_chain(e).to_ascii_lowercase();
    ["certificate", "handshake", "tls", "ssl", "corrupt message"]
        .iter()
        .any(|w| chain.contains(w))
}

fn result(started_ms: i64, success: bool, status: i32, reason: &str, detail: &str) -> Value {
    json!({
        "success": success,
        "timestamp": clock::rfc3339_ms(started_ms),
        "statusCode": status,
        "reason": reason,
        "detail": detail,
    })
}
