//! `LineClient` against a tiny in-process axum server playing LINE.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use line_api::client::{
    ChatMode, Content, MarkAsReadMode, QuotaKind, SentMessage, TranscodingStatus,
};
use line_api::message::Message;
use line_api::{LineClient, LineError};
use serde_json::{Value, json};

const TOKEN: &str = "channel-token-123";

/// One request the mock received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    fn assert_bearer(&self) {
        assert_eq!(
            self.header("authorization"),
            Some("Bearer channel-token-123")
        );
    }
}

type Responder = dyn Fn(&Seen) -> Response + Send + Sync;

struct MockState {
    respond: Box<Responder>,
    seen: Mutex<Vec<Seen>>,
}

struct MockLine {
    client: LineClient,
    state: Arc<MockState>,
}

impl MockLine {
    /// The only request received; panics if there were none or several.
    fn only_request(&self) -> Seen {
        let seen = self.state.seen.lock().expect("lock");
        assert_eq!(seen.len(), 1, "expected exactly one request, got {seen:?}");
        seen[0].clone()
    }

    /// The only request received, checked to be `method path` with the channel token.
    fn only_authed_request(&self, method: Method, path: &str) -> Seen {
        let seen = self.only_request();
        assert_eq!(seen.method, method);
        assert_eq!(seen.path, path);
        seen.assert_bearer();
        seen
    }
}

async fn handle(State(state): State<Arc<MockState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("read request body");
    let seen = Seen {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
    };
    let response = (state.respond)(&seen);
    state.seen.lock().expect("lock").push(seen);
    response
}

/// Starts a mock LINE answering every request with `respond`. The client's API base is the
/// server root (given with a trailing slash, which must be trimmed); its data base is `/data`
/// on the same server, so tests can tell which host a call went to.
async fn mock_line(respond: impl Fn(&Seen) -> Response + Send + Sync + 'static) -> MockLine {
    let state = Arc::new(MockState {
        respond: Box::new(respond),
        seen: Mutex::new(Vec::new()),
    });
    let app = Router::new().fallback(handle).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    let base = format!("http://{addr}");
    let client = LineClient::new(
        reqwest::Client::new(),
        format!("{base}/"),
        format!("{base}/data"),
    );
    MockLine { client, state }
}

fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> Response {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).expect("response")
}

fn json_response(status: u16, headers: &[(&str, &str)], body: Value) -> Response {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    respond(status, &all, body.to_string())
}

/// A mock that always gives the same answer, whatever the request.
async fn fixed(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: impl Into<Body> + Clone + Send + Sync + 'static,
) -> MockLine {
    mock_line(move |_| respond(status, headers, body.clone())).await
}

/// A mock that always answers `status` with the JSON `body` (plus `headers`).
async fn fixed_json(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: Value,
) -> MockLine {
    mock_line(move |_| json_response(status, headers, body.clone())).await
}

/// A mock that always answers 200 with the JSON `body`.
async fn ok_json(body: Value) -> MockLine {
    fixed_json(200, &[], body).await
}

/// A mock that always answers `status` with the JSON `body` and an `x-line-request-id`.
async fn failing(status: u16, body: Value) -> MockLine {
    fixed_json(status, &[("x-line-request-id", "req-1")], body).await
}

/// Pushes one text message with a fresh retry key, expecting LINE to refuse it.
async fn push_err(mock: &MockLine, expected: &str) -> LineError {
    mock.client
        .push(TOKEN, "U1", &[Message::text("hi")], uuid::Uuid::new_v4())
        .await
        .expect_err(expected)
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(body).expect("utf-8 form");
    let mut pairs: Vec<(String, String)> = text
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("key=value");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    pairs.sort();
    pairs
}

// ---------------------------------------------------------------------------------------------
// Requests and successful answers

#[tokio::test]
async fn issue_token_posts_the_form_and_decodes_the_token() {
    let mock = ok_json(
        json!({"access_token": "W1TeHCgfH2Liwa", "expires_in": 2592000, "token_type": "Bearer"}),
    )
    .await;
    let token = mock
        .client
        .issue_token("1234567890", "s3cr3t")
        .await
        .expect("token");
    assert_eq!(token.access_token, "W1TeHCgfH2Liwa");
    assert_eq!(token.expires_in, 2_592_000);
    assert_eq!(token.token_type, "Bearer");

    let seen = mock.only_request();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/v2/oauth/accessToken");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        form_pairs(&seen.body),
        vec![
            ("client_id".to_owned(), "1234567890".to_owned()),
            ("client_secret".to_owned(), "s3cr3t".to_owned()),
            ("grant_type".to_owned(), "client_credentials".to_owned()),
        ]
    );
}

#[tokio::test]
async fn bot_info() {
    let mock = ok_json(json!({
        "userId": "Ub9952f8",
        "basicId": "@216ru",
        "displayName": "Example name",
        "pictureUrl": "https://obs.line-apps.com/x",
        "chatMode": "chat",
        "markAsReadMode": "manual"
    }))
    .await;
    let info = mock.client.bot_info(TOKEN).await.expect("bot info");
    assert_eq!(info.user_id, "Ub9952f8");
    assert_eq!(info.basic_id, "@216ru");
    assert_eq!(info.premium_id, None);
    assert_eq!(info.display_name, "Example name");
    assert_eq!(
        info.picture_url.as_deref(),
        Some("https://obs.line-apps.com/x")
    );
    assert_eq!(info.chat_mode, ChatMode::Chat);
    assert_eq!(info.mark_as_read_mode, MarkAsReadMode::Manual);

    mock.only_authed_request(Method::GET, "/v2/bot/info");
}

#[tokio::test]
async fn profiles() {
    let mock = mock_line(|seen| {
        if seen.path.starts_with("/v2/bot/profile/") {
            json_response(
                200,
                &[],
                json!({
                    "displayName": "LINE taro",
                    "userId": "U4af4980629",
                    "language": "en",
                    "pictureUrl": "https://obs.line-apps.com/p",
                    "statusMessage": "Hello, LINE!"
                }),
            )
        } else {
            json_response(
                200,
                &[],
                json!({"displayName": "LINE taro", "userId": "U4af4980629"}),
            )
        }
    })
    .await;

    let profile = mock
        .client
        .profile(TOKEN, "U4af4980629")
        .await
        .expect("profile");
    assert_eq!(profile.user_id, "U4af4980629");
    assert_eq!(profile.display_name, "LINE taro");
    assert_eq!(profile.language.as_deref(), Some("en"));
    assert_eq!(profile.status_message.as_deref(), Some("Hello, LINE!"));

    let member = mock
        .client
        .group_member_profile(TOKEN, "Cgroup1", "U4af4980629")
        .await
        .expect("group member");
    assert_eq!(member.display_name, "LINE taro");
    assert_eq!(member.picture_url, None);
    mock.client
        .room_member_profile(TOKEN, "Rroom1", "U4af4980629")
        .await
        .expect("room member");

    let seen = mock.state.seen.lock().expect("lock").clone();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v2/bot/profile/U4af4980629",
            "/v2/bot/group/Cgroup1/member/U4af4980629",
            "/v2/bot/room/Rroom1/member/U4af4980629",
        ]
    );
    for s in &seen {
        assert_eq!(s.method, Method::GET);
        s.assert_bearer();
    }
}

#[tokio::test]
async fn ids_cannot_escape_their_path_segment() {
    let mock = ok_json(json!({"displayName": "x", "userId": "y"})).await;
    mock.client
        .profile(TOKEN, "../info")
        .await
        .expect("profile");
    assert_eq!(mock.only_request().path, "/v2/bot/profile/..%2Finfo");
}

#[tokio::test]
async fn reply_sends_token_and_messages() {
    let mock = ok_json(
        json!({"sentMessages": [{"id": "461230966842064897", "quoteToken": "IStG5h1Tz7b"}]}),
    )
    .await;
    let sent = mock
        .client
        .reply(
            TOKEN,
            "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA",
            &[Message::text("Hello")],
        )
        .await
        .expect("reply");
    assert_eq!(
        sent.sent_messages,
        vec![SentMessage {
            id: "461230966842064897".into(),
            quote_token: Some("IStG5h1Tz7b".into()),
        }]
    );

    let seen = mock.only_authed_request(Method::POST, "/v2/bot/message/reply");
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("x-line-retry-key"), None);
    assert_eq!(
        seen.json(),
        json!({
            "replyToken": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA",
            "messages": [{"type": "text", "text": "Hello"}]
        })
    );
}

#[tokio::test]
async fn push_sends_the_retry_key() {
    let mock = ok_json(json!({"sentMessages": [{"id": "1"}, {"id": "2"}]})).await;
    let key = uuid::Uuid::parse_str("123E4567-E89B-12D3-A456-426614174000").expect("uuid");
    let sent = mock
        .client
        .push(
            TOKEN,
            "U4af4980629",
            &[Message::text("Hi"), Message::sticker("446", "1988")],
            key,
        )
        .await
        .expect("push");
    assert_eq!(sent.sent_messages.len(), 2);
    assert_eq!(sent.sent_messages[1].quote_token, None);

    let seen = mock.only_authed_request(Method::POST, "/v2/bot/message/push");
    assert_eq!(
        seen.header("x-line-retry-key"),
        Some("123e4567-e89b-12d3-a456-426614174000")
    );
    assert_eq!(
        seen.json(),
        json!({
            "to": "U4af4980629",
            "messages": [
                {"type": "text", "text": "Hi"},
                {"type": "sticker", "packageId": "446", "stickerId": "1988"}
            ]
        })
    );
}

#[tokio::test]
async fn content_comes_from_the_data_host() {
    let mock = fixed(
        200,
        &[("content-type", "image/jpeg")],
        vec![0xFF, 0xD8, 0xFF],
    )
    .await;
    let content = mock.client.content(TOKEN, "325708").await.expect("content");
    assert_eq!(
        content,
        Content::Ready {
            content_type: Some("image/jpeg".into()),
            bytes: Bytes::from_static(&[0xFF, 0xD8, 0xFF]),
        }
    );
    mock.only_authed_request(Method::GET, "/data/v2/bot/message/325708/content");
}

#[tokio::test]
async fn content_202_is_preparing() {
    let mock = fixed(202, &[], "").await;
    let content = mock.client.content(TOKEN, "325708").await.expect("content");
    assert_eq!(content, Content::Preparing);
}

#[tokio::test]
async fn content_410_is_an_error_with_status() {
    let mock = failing(410, json!({"message": "Gone"})).await;
    let err = mock.client.content(TOKEN, "325708").await.expect_err("410");
    assert_eq!(err.status(), Some(410));
    assert!(!err.is_retryable());
    assert_eq!(err.request_id(), Some("req-1"));
}

#[tokio::test]
async fn content_transcoding() {
    let mock = ok_json(json!({"status": "processing"})).await;
    let t = mock
        .client
        .content_transcoding(TOKEN, "325708")
        .await
        .expect("transcoding");
    assert_eq!(t.status, TranscodingStatus::Processing);
    let seen = mock.only_request();
    assert_eq!(seen.path, "/data/v2/bot/message/325708/content/transcoding");
    seen.assert_bearer();
}

#[tokio::test]
async fn start_loading_accepts_202() {
    let mock = fixed_json(202, &[], json!({})).await;
    mock.client
        .start_loading(TOKEN, "U4af4980629", 20)
        .await
        .expect("loading");
    let seen = mock.only_authed_request(Method::POST, "/v2/bot/chat/loading/start");
    assert_eq!(
        seen.json(),
        json!({"chatId": "U4af4980629", "loadingSeconds": 20})
    );
}

#[tokio::test]
async fn mark_as_read_by_token() {
    let mock = fixed(200, &[], "").await;
    mock.client
        .mark_as_read(TOKEN, "nz0x74mZT2mRn")
        .await
        .expect("mark as read");
    let seen = mock.only_authed_request(Method::POST, "/v2/bot/chat/markAsRead");
    assert_eq!(seen.json(), json!({"markAsReadToken": "nz0x74mZT2mRn"}));
}

#[tokio::test]
async fn webhook_endpoint_get_set_and_test() {
    let mock = mock_line(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/v2/bot/channel/webhook/endpoint") => json_response(
            200,
            &[],
            json!({"endpoint": "https://example.com/test", "active": true}),
        ),
        ("PUT", "/v2/bot/channel/webhook/endpoint") => respond(200, &[], ""),
        ("POST", "/v2/bot/channel/webhook/test") => json_response(
            200,
            &[],
            json!({
                "success": true,
                "timestamp": "2020-09-30T05:38:20.031Z",
                "statusCode": 200,
                "reason": "OK",
                "detail": "200"
            }),
        ),
        _ => respond(404, &[], "no such route"),
    })
    .await;

    let endpoint = mock.client.webhook_endpoint(TOKEN).await.expect("get");
    assert_eq!(endpoint.endpoint, "https://example.com/test");
    assert!(endpoint.active);

    mock.client
        .set_webhook_endpoint(TOKEN, "https://desk.example.com/webhook")
        .await
        .expect("set");

    let result = mock.client.test_webhook(TOKEN, None).await.expect("test");
    assert_eq!(result.success, Some(true));
    assert_eq!(result.timestamp, "2020-09-30T05:38:20.031Z");
    assert_eq!(result.status_code, 200);
    assert_eq!(result.reason, "OK");
    assert_eq!(result.detail, "200");
    mock.client
        .test_webhook(TOKEN, Some("https://other.example.com/hook"))
        .await
        .expect("test other");

    let seen = mock.state.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 4);
    for s in &seen {
        s.assert_bearer();
    }
    assert_eq!(
        seen[1].json(),
        json!({"endpoint": "https://desk.example.com/webhook"})
    );
    assert_eq!(seen[2].json(), json!({}));
    assert_eq!(
        seen[3].json(),
        json!({"endpoint": "https://other.example.com/hook"})
    );
}

#[tokio::test]
async fn webhook_test_without_success_field() {
    let mock = ok_json(
        json!({"timestamp": "2020-09-30T05:38:20.031Z", "statusCode": 0, "reason": "", "detail": "connection refused"}),
    )
    .await;
    let result = mock.client.test_webhook(TOKEN, None).await.expect("test");
    assert_eq!(result.success, None);
    assert_eq!(result.status_code, 0);
}

#[tokio::test]
async fn quota_and_consumption() {
    let mock = mock_line(|seen| match seen.path.as_str() {
        "/v2/bot/message/quota" => {
            json_response(200, &[], json!({"type": "limited", "value": 1000}))
        }
        "/v2/bot/message/quota/consumption" => json_response(200, &[], json!({"totalUsage": 500})),
        _ => respond(404, &[], ""),
    })
    .await;
    let quota = mock.client.quota(TOKEN).await.expect("quota");
    assert_eq!(quota.kind, QuotaKind::Limited);
    assert_eq!(quota.value, Some(1000));
    let used = mock
        .client
        .quota_consumption(TOKEN)
        .await
        .expect("consumption");
    assert_eq!(used.total_usage, 500);
}

#[tokio::test]
async fn quota_none_has_no_value() {
    let mock = ok_json(json!({"type": "none"})).await;
    let quota = mock.client.quota(TOKEN).await.expect("quota");
    assert_eq!(quota.kind, QuotaKind::None);
    assert_eq!(quota.value, None);
}

// ---------------------------------------------------------------------------------------------
// Error mapping

#[tokio::test]
async fn bad_request_with_details() {
    let mock = failing(
        400,
        json!({
            "message": "The request body has 1 error(s)",
            "details": [{"message": "May not be empty", "property": "messages[0].text"}]
        }),
    )
    .await;
    let err = mock
        .client
        .reply(TOKEN, "rt", &[Message::text("")])
        .await
        .expect_err("400");
    match &err {
        LineError::Api {
            status,
            message,
            details,
            request_id,
            ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(message, "The request body has 1 error(s)");
            assert_eq!(details.len(), 1);
            assert_eq!(details[0].property.as_deref(), Some("messages[0].text"));
            assert_eq!(details[0].message.as_deref(), Some("May not be empty"));
            assert_eq!(request_id.as_deref(), Some("req-1"));
        }
        other => panic!("expected Api, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "LINE answered 400 Bad Request: The request body has 1 error(s) (messages[0].text: May not be empty) [request id req-1]"
    );
    assert!(!err.is_retryable());
    assert!(!err.is_invalid_reply_token());
    assert!(!err.is_unauthorized());
}

#[tokio::test]
async fn invalid_reply_token() {
    let mock = failing(400, json!({"message": "Invalid reply token"})).await;
    let err = mock
        .client
        .reply(TOKEN, "expired", &[Message::text("hi")])
        .await
        .expect_err("400");
    assert!(err.is_invalid_reply_token());
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn unauthorized() {
    let mock = failing(
        401,
        json!({"message": "Authentication failed. Confirm that the access token in the authorization header is valid."}),
    )
    .await;
    let err = mock.client.bot_info(TOKEN).await.expect_err("401");
    assert!(err.is_unauthorized());
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(401));
}

#[tokio::test]
async fn conflict_on_retry_key() {
    let mock = fixed_json(
        409,
        &[
            ("x-line-request-id", "req-2"),
            ("x-line-accepted-request-id", "req-1"),
        ],
        json!({
            "message": "The retry key is already accepted",
            "sentMessages": [{"id": "461230966842064897", "quoteToken": "IStG5h1Tz7b"}]
        }),
    )
    .await;
    let err = push_err(&mock, "409").await;
    assert!(err.is_conflict());
    assert!(!err.is_retryable());
    assert_eq!(err.request_id(), Some("req-2"));
    assert_eq!(err.accepted_request_id(), Some("req-1"));
    assert_eq!(
        err.to_string(),
        "LINE answered 409 Conflict: The retry key is already accepted [accepted request id req-1] [request id req-2]"
    );
}

#[tokio::test]
async fn monthly_limit_is_not_retryable() {
    let mock = failing(
        429,
        json!({"message": "You have reached your monthly limit."}),
    )
    .await;
    let err = push_err(&mock, "429").await;
    assert!(err.is_monthly_limit());
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn rate_limit_is_retryable() {
    let mock = fixed_json(
        429,
        &[("retry-after", "30")],
        json!({"message": "The API rate limit has been exceeded. Try again later."}),
    )
    .await;
    let err = push_err(&mock, "429").await;
    assert!(!err.is_monthly_limit());
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn server_error_is_retryable() {
    let mock = failing(
        500,
        json!({"message": "An error occurred in the internal server"}),
    )
    .await;
    let err = mock.client.quota(TOKEN).await.expect_err("500");
    assert_eq!(err.status(), Some(500));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn non_json_error_body_is_kept() {
    let mock = fixed(
        502,
        &[("content-type", "text/html")],
        "<html><body>502 Bad Gateway</body></html>",
    )
    .await;
    let err = mock.client.bot_info(TOKEN).await.expect_err("502");
    assert_eq!(err.status(), Some(502));
    assert!(err.is_retryable());
    assert_eq!(
        err.api_message(),
        Some("<html><body>502 Bad Gateway</body></html>")
    );
    assert_eq!(
        err.to_string(),
        "LINE answered 502 Bad Gateway: <html><body>502 Bad Gateway</body></html>"
    );
}

#[tokio::test]
async fn oauth_invalid_client() {
    let mock = failing(
        400,
        json!({"error": "invalid_client", "error_description": "invalid client_id or client_secret"}),
    )
    .await;
    let err = mock
        .client
        .issue_token("1234567890", "wrong")
        .await
        .expect_err("400");
    assert!(err.is_invalid_client());
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(400));
    match &err {
        LineError::OAuth {
            error, description, ..
        } => {
            assert_eq!(error, "invalid_client");
            assert_eq!(
                description.as_deref(),
                Some("invalid client_id or client_secret")
            );
        }
        other => panic!("expected OAuth, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "LINE answered 400 Bad Request: invalid_client (invalid client_id or client_secret) [request id req-1]"
    );
    // The secret never shows up in what an operator might see.
    assert!(!format!("{err} {err:?}").contains("wrong"));
}

#[tokio::test]
async fn undecodable_success_body() {
    let mock = fixed(
        200,
        &[("content-type", "application/json")],
        "{\"userId\": 42}",
    )
    .await;
    let err = mock.client.bot_info(TOKEN).await.expect_err("decode");
    match &err {
        LineError::Decode {
            what, body_excerpt, ..
        } => {
            assert_eq!(*what, "bot info");
            assert_eq!(body_excerpt, "{\"userId\": 42}");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    assert_eq!(err.status(), None);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_a_retryable_transport_error() {
    // Bind then drop a listener to get a port nobody listens on.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let base = format!("http://{addr}");
    let client = LineClient::new(reqwest::Client::new(), base.clone(), base);
    let err = client.bot_info(TOKEN).await.expect_err("refused");
    assert!(matches!(err, LineError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(err.status(), None);
    assert!(
        err.to_string()
            .starts_with("could not talk to LINE (connection failed): "),
        "{err}"
    );
    assert!(!format!("{err:?}").contains(TOKEN));
}
