//! What can go wrong talking to LINE, shaped so callers can decide: retry, give up, or tell a human.

use std::fmt::Write as _;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::{Deserialize, Serialize};

/// Header carrying LINE's ID for a request; quote it when contacting LINE support.
pub const REQUEST_ID_HEADER: &str = "x-line-request-id";
/// Header sent with a 409 when a push's retry key was already accepted: the earlier request's ID.
pub const ACCEPTED_REQUEST_ID_HEADER: &str = "x-line-accepted-request-id";

/// How much of an undecodable body is kept for diagnostics.
const BODY_EXCERPT_CHARS: usize = 300;

/// One entry of `details` in LINE's `ErrorResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The JSON field (e.g. `messages[0].text`) or query parameter at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

/// An error from [`LineClient`](crate::LineClient).
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The Messaging API answered with a non-2xx status.
    #[error("{}", describe_api(*status, message, details, request_id.as_deref(), accepted_request_id.as_deref(), *retry_after))]
    Api {
        status: u16,
        /// `message` of the `ErrorResponse`, or the raw body if it was not JSON.
        message: String,
        details: Vec<ErrorDetail>,
        /// `x-line-request-id`.
        request_id: Option<String>,
        /// `x-line-accepted-request-id`: sent with a 409 when the retry key was already accepted.
        accepted_request_id: Option<String>,
        /// `Retry-After`, when LINE sends one (delta-seconds form only).
        retry_after: Option<Duration>,
    },
    /// The OAuth (channel access token) endpoints answered with a non-2xx status.
    #[error("{}", describe_oauth(*status, error, description.as_deref(), request_id.as_deref()))]
    OAuth {
        status: u16,
        /// `error`, e.g. `invalid_client`, `invalid_request`.
        error: String,
        /// `error_description`.
        description: Option<String>,
        request_id: Option<String>,
    },
    /// No usable answer: connection refused, TLS failure, timeout, body cut short…
    #[error("could not talk to LINE{kind}: {source}", kind = transport_kind(.0), source = .0)]
    Transport(#[from] reqwest::Error),
    /// LINE answered 2xx but the body is not what the spec describes.
    #[error(
        "LINE answered with a {what} that does not decode ({source}); body starts: {body_excerpt:?}"
    )]
    Decode {
        what: &'static str,
        source: serde_json::Error,
        body_excerpt: String,
    },
}

impl LineError {
    /// The HTTP status LINE answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            LineError::Api { status, .. } | LineError::OAuth { status, .. } => Some(*status),
            LineError::Transport(e) => e.status().map(|s| s.as_u16()),
            LineError::Decode { .. } => None,
        }
    }

    /// `x-line-request-id` of the failed request.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            LineError::Api { request_id, .. } | LineError::OAuth { request_id, .. } => {
                request_id.as_deref()
            }
            LineError::Transport(_) | LineError::Decode { .. } => None,
        }
    }

    /// `x-line-accepted-request-id`: the request that already used this retry key.
    pub fn accepted_request_id(&self) -> Option<&str> {
        match self {
            LineError::Api {
                accepted_request_id,
                ..
            } => accepted_request_id.as_deref(),
            _ => None,
        }
    }

    /// How long LINE asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LineError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The `message` of a Messaging API error.
    pub fn api_message(&self) -> Option<&str> {
        match self {
            LineError::Api { message, .. } => Some(message),
            _ => None,
        }
    }

    /// 409 Conflict: for a push, the retry key was already accepted, so the messages were sent
    /// (see [`accepted_request_id`](Self::accepted_request_id)). Do not send again.
    pub fn is_conflict(&self) -> bool {
        self.api_status() == Some(409)
    }

    /// 429 because the channel used up its monthly message quota. Retrying will not help before
    /// the month ends or the plan changes.
    pub fn is_monthly_limit(&self) -> bool {
        match self {
            LineError::Api {
                status: 429,
                message,
                ..
            } => message.to_ascii_lowercase().contains("monthly limit"),
            _ => false,
        }
    }

    /// Worth trying again later (with the same retry key for pushes): transport failures,
    /// rate limiting (429 other than the monthly limit) and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            // A builder error (e.g. a token that is not a valid header value) fails the same way again.
            LineError::Transport(e) => !e.is_builder(),
            LineError::Api { status: 429, .. } => !self.is_monthly_limit(),
            LineError::Api { status, .. } | LineError::OAuth { status, .. } => {
                (500..=599).contains(status)
            }
            LineError::Decode { .. } => false,
        }
    }

    /// 400 "Invalid reply token": the reply token expired or was used; push instead.
    pub fn is_invalid_reply_token(&self) -> bool {
        match self {
            LineError::Api {
                status: 400,
                message,
                ..
            } => message.trim().eq_ignore_ascii_case("invalid reply token"),
            _ => false,
        }
    }

    /// 401: the channel access token is invalid, expired or revoked.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            LineError::Api { status: 401, .. } | LineError::OAuth { status: 401, .. }
        )
    }

    /// OAuth `invalid_client`: the channel ID or channel secret is wrong.
    pub fn is_invalid_client(&self) -> bool {
        matches!(self, LineError::OAuth { error, .. } if error == "invalid_client")
    }

    fn api_status(&self) -> Option<u16> {
        match self {
            LineError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Builds [`LineError::Api`] from a non-2xx Messaging API answer.
    pub(crate) fn from_api_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct ErrorResponse {
            message: String,
            #[serde(default)]
            details: Vec<ErrorDetail>,
        }
        let (message, details) = match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(r) => (r.message, r.details),
            Err(_) => (raw_text(status, body), Vec::new()),
        };
        LineError::Api {
            status,
            message,
            details,
            request_id: header(headers, REQUEST_ID_HEADER),
            accepted_request_id: header(headers, ACCEPTED_REQUEST_ID_HEADER),
            retry_after: header(headers, RETRY_AFTER.as_str())
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs),
        }
    }

    /// Builds [`LineError::OAuth`] from a non-2xx channel access token API answer.
    pub(crate) fn from_oauth_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct ErrorResponse {
            error: String,
            #[serde(default)]
            error_description: Option<String>,
        }
        let (error, description) = match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(r) => (r.error, r.error_description),
            Err(_) => (raw_text(status, body), None),
        };
        LineError::OAuth {
            status,
            error,
            description,
            request_id: header(headers, REQUEST_ID_HEADER),
        }
    }

    /// Builds [`LineError::Decode`] for a 2xx body that is not the expected `what`.
    pub(crate) fn decode(what: &'static str, source: serde_json::Error, body: &[u8]) -> Self {
        LineError::Decode {
            what,
            source,
            body_excerpt: excerpt(body),
        }
    }
}

/// What kind of transport failure, for operators reading `Display` without the source chain.
fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        " (timed out)"
    } else if e.is_connect() {
        " (connection failed)"
    } else if e.is_builder() {
        " (invalid request)"
    } else {
        ""
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The first few hundred characters of a body, lossily decoded.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    match trimmed.char_indices().nth(BODY_EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

/// A non-JSON error body as a message; the status' reason phrase if the body is empty.
fn raw_text(status: u16, body: &[u8]) -> String {
    let text = excerpt(body);
    if text.is_empty() {
        reason(status).unwrap_or("(empty body)").to_owned()
    } else {
        text
    }
}

fn reason(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
}

fn status_line(out: &mut String, status: u16) {
    let _ = write!(out, "LINE answered {status}");
    if let Some(reason) = reason(status) {
        let _ = write!(out, " {reason}");
    }
}

fn describe_api(
    status: u16,
    message: &str,
    details: &[ErrorDetail],
    request_id: Option<&str>,
    accepted_request_id: Option<&str>,
    retry_after: Option<Duration>,
) -> String {
    let mut out = String::new();
    status_line(&mut out, status);
    let _ = write!(out, ": {message}");
    let details: Vec<String> = details
        .iter()
        .filter_map(|d| match (d.property.as_deref(), d.message.as_deref()) {
            (Some(p), Some(m)) => Some(format!("{p}: {m}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
            (None, None) => None,
        })
        .collect();
    if !details.is_empty() {
        let _ = write!(out, " ({})", details.join("; "));
    }
    if let Some(after) = retry_after {
        let _ = write!(out, " [retry after {}s]", after.as_secs());
    }
    if let Some(id) = accepted_request_id {
        let _ = write!(out, " [accepted request id {id}]");
    }
    if let Some(id) = request_id {
        let _ = write!(out, " [request id {id}]");
    }
    out
}

fn describe_oauth(
    status: u16,
    error: &str,
    description: Option<&str>,
    request_id: Option<&str>,
) -> String {
    let mut out = String::new();
    status_line(&mut out, status);
    let _ = write!(out, ": {error}");
    if let Some(d) = description {
        let _ = write!(out, " ({d})");
    }
    if let Some(id) = request_id {
        let _ = write!(out, " [request id {id}]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    #[test]
    fn display_matches_the_operator_format() {
        let body = br#"{"message":"The request body has 1 error(s)","details":[{"message":"May not be empty","property":"messages[0].text"}]}"#;
        let e = LineError::from_api_response(400, &headers(&[("x-line-request-id", "abc")]), body);
        assert_eq!(
            e.to_string(),
            "LINE answered 400 Bad Request: The request body has 1 error(s) (messages[0].text: May not be empty) [request id abc]"
        );
    }

    #[test]
    fn non_json_body_is_kept_as_message() {
        let e = LineError::from_api_response(502, &HeaderMap::new(), b"<html>Bad Gateway</html>\n");
        assert_eq!(e.api_message(), Some("<html>Bad Gateway</html>"));
        assert!(e.is_retryable());
        let empty = LineError::from_api_response(503, &HeaderMap::new(), b"");
        assert_eq!(
            empty.to_string(),
            "LINE answered 503 Service Unavailable: Service Unavailable"
        );
    }

    #[test]
    fn monthly_limit_and_rate_limit() {
        let monthly = LineError::from_api_response(
            429,
            &HeaderMap::new(),
            br#"{"message":"You have reached your monthly limit."}"#,
        );
        assert!(monthly.is_monthly_limit());
        assert!(!monthly.is_retryable());
        let rate = LineError::from_api_response(
            429,
            &headers(&[("retry-after", "7")]),
            br#"{"message":"The API rate limit has been exceeded. Try again later."}"#,
        );
        assert!(!rate.is_monthly_limit());
        assert!(rate.is_retryable());
        assert_eq!(rate.retry_after(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn stays_small_enough_to_return() {
        // clippy::result_large_err fires at 128 bytes, in every crate that returns a LineError.
        assert!(std::mem::size_of::<LineError>() <= 128);
    }

    #[test]
    fn excerpt_is_char_safe() {
        let long = "é".repeat(BODY_EXCERPT_CHARS + 10);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), BODY_EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn oauth_display() {
        let e = LineError::from_oauth_response(
            400,
            &HeaderMap::new(),
            br#"{"error":"invalid_client","error_description":"invalid client_id or client_secret"}"#,
        );
        assert!(e.is_invalid_client());
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "LINE answered 400 Bad Request: invalid_client (invalid client_id or client_secret)"
        );
    }
}
