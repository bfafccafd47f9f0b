//! A typed async client for the parts of the LINE Messaging API the desk uses.
//!
//! Paths, hosts, field names and status codes follow LINE's `messaging-api.yml` and
//! `channel-access-token.yml`. The client holds no credentials: every call takes the channel
//! access token, and tokens, secrets, reply tokens and mark-as-read tokens are never logged.
//!
//! Timeouts are the caller's business: configure them on the `reqwest::Client` passed to
//! [`LineClient::new`].

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{LineError, REQUEST_ID_HEADER};
use crate::message::Message;
use crate::open_enum::string_enum;

/// The Messaging API host.
pub const DEFAULT_API_BASE: &str = "https://api.line.me";
/// The host serving message content (images, video, audio, files sent by users).
pub const DEFAULT_DATA_BASE: &str = "https://api-data.line.me";
/// Header making a push idempotent: LINE answers 409 to a second request with the same key.
pub const RETRY_KEY_HEADER: &str = "X-Line-Retry-Key";

/// Talks to LINE. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct LineClient {
    http: reqwest::Client,
    api_base: String,
    data_base: String,
}

/// Which LINE host a call goes to.
#[derive(Clone, Copy, Debug)]
enum Host {
    Api,
    Data,
}

/// Which error body a failing endpoint sends.
#[derive(Clone, Copy, Debug)]
enum ErrorShape {
    /// Messaging API `ErrorResponse`: `message`, `details`.
    Messaging,
    /// Channel access token `ErrorResponse`: `error`, `error_description`.
    OAuth,
}

/// A successful (2xx) answer, body read in full.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl LineClient {
    /// `api_base` and `data_base` are origins such as [`DEFAULT_API_BASE`] and
    /// [`DEFAULT_DATA_BASE`] (a path prefix is allowed, e.g. for a simulator); a trailing
    /// slash is dropped.
    pub fn new(
        http: reqwest::Client,
        api_base: impl Into<String>,
        data_base: impl Into<String>,
    ) -> Self {
        fn trim(base: String) -> String {
            match base.strip_suffix('/') {
                Some(trimmed) => trimmed.to_owned(),
                None => base,
            }
        }
        LineClient {
            http,
            api_base: trim(api_base.into()),
            data_base: trim(data_base.into()),
        }
    }

    /// A client for the real LINE hosts.
    pub fn production(http: reqwest::Client) -> Self {
        Self::new(http, DEFAULT_API_BASE, DEFAULT_DATA_BASE)
    }

    /// The Messaging API base this client calls.
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The content base this client calls.
    pub fn data_base(&self) -> &str {
        &self.data_base
    }

    /// Issues a short-lived (30-day) channel access token:
    /// `POST /v2/oauth/accessToken`, form `grant_type=client_credentials&client_id&client_secret`.
    /// Failures are [`LineError::OAuth`] (`invalid_client` for a wrong ID or secret).
    #[tracing::instrument(skip_all, fields(channel_id = %channel_id))]
    pub async fn issue_token(
        &self,
        channel_id: &str,
        channel_secret: &str,
    ) -> Result<IssuedToken, LineError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", channel_id),
            ("client_secret", channel_secret),
        ];
        let request = self
            .http
            .post(self.url(Host::Api, "/v2/oauth/accessToken"))
            .form(&form);
        let answer = self.execute(request, ErrorShape::OAuth).await?;
        decode("channel access token", &answer.body)
    }

    /// `GET /v2/bot/info`.
    #[tracing::instrument(skip_all)]
    pub async fn bot_info(&self, token: &str) -> Result<BotInfo, LineError> {
        self.get_json(Host::Api, "/v2/bot/info", token, "bot info")
            .await
    }

    /// `GET /v2/bot/profile/{userId}`: a user who is a friend of the account.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn profile(&self, token: &str, user_id: &str) -> Result<UserProfile, LineError> {
        let path = format!("/v2/bot/profile/{}", segment(user_id));
        self.get_json(Host::Api, &path, token, "user profile").await
    }

    /// `GET /v2/bot/group/{groupId}/member/{userId}`.
    #[tracing::instrument(skip_all, fields(group_id = %group_id, user_id = %user_id))]
    pub async fn group_member_profile(
        &self,
        token: &str,
        group_id: &str,
        user_id: &str,
    ) -> Result<MemberProfile, LineError> {
        self.member_profile(token, "group", group_id, user_id, "group member profile")
            .await
    }

    /// `GET /v2/bot/room/{roomId}/member/{userId}`.
    #[tracing::instrument(skip_all, fields(room_id = %room_id, user_id = %user_id))]
    pub async fn room_member_profile(
        &self,
        token: &str,
        room_id: &str,
        user_id: &str,
    ) -> Result<MemberProfile, LineError> {
        self.member_profile(token, "room", room_id, user_id, "room member profile")
            .await
    }

    /// `POST /v2/bot/message/reply`. `messages` must hold 1 to
    /// [`MAX_MESSAGES_PER_REQUEST`](crate::message::MAX_MESSAGES_PER_REQUEST) messages (LINE
    /// checks). An expired or used reply token fails with
    /// [`is_invalid_reply_token`](LineError::is_invalid_reply_token).
    #[tracing::instrument(skip_all, fields(messages = messages.len()))]
    pub async fn reply(
        &self,
        token: &str,
        reply_token: &str,
        messages: &[Message],
    ) -> Result<SendResponse, LineError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ReplyMessageRequest<'a> {
            reply_token: &'a str,
            messages: &'a [Message],
        }
        let request = self
            .authed(Method::POST, Host::Api, "/v2/bot/message/reply", token)
            .json(&ReplyMessageRequest {
                reply_token,
                messages,
            });
        self.json(request, "reply response").await
    }

    /// `POST /v2/bot/message/push` with `X-Line-Retry-Key: retry_key`. Reuse the same key when
    /// retrying the same push: if LINE already accepted it, the retry fails with
    /// [`is_conflict`](LineError::is_conflict) and the messages are not sent twice.
    #[tracing::instrument(skip_all, fields(to = %to, messages = messages.len(), retry_key = %retry_key))]
    pub async fn push(
        &self,
        token: &str,
        to: &str,
        messages: &[Message],
        retry_key: uuid::Uuid,
    ) -> Result<SendResponse, LineError> {
        #[derive(Serialize)]
        struct PushMessageRequest<'a> {
            to: &'a str,
            messages: &'a [Message],
        }
        let request = self
            .authed(Method::POST, Host::Api, "/v2/bot/message/push", token)
            .header(RETRY_KEY_HEADER, retry_key.as_hyphenated().to_string())
            .json(&PushMessageRequest { to, messages });
        self.json(request, "push response").await
    }

    /// `GET {data_base}/v2/bot/message/{messageId}/content`: what a user sent (image, video,
    /// audio, file). [`Content::Preparing`] on 202 (video or audio still being prepared; see
    /// [`content_transcoding`](Self::content_transcoding)). Content LINE no longer keeps fails
    /// with `status() == Some(410)` or 404.
    #[tracing::instrument(skip_all, fields(message_id = %message_id))]
    pub async fn content(&self, token: &str, message_id: &str) -> Result<Content, LineError> {
        let path = format!("/v2/bot/message/{}/content", segment(message_id));
        let request = self.authed(Method::GET, Host::Data, &path, token);
        let answer = self.execute(request, ErrorShape::Messaging).await?;
        if answer.status == StatusCode::ACCEPTED {
            return Ok(Content::Preparing);
        }
        Ok(Content::Ready {
            content_type: answer
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            bytes: answer.body,
        })
    }

    /// `GET {data_base}/v2/bot/message/{messageId}/content/transcoding`: whether a video or
    /// audio is ready to download.
    #[tracing::instrument(skip_all, fields(message_id = %message_id))]
    pub async fn content_transcoding(
        &self,
        token: &str,
        message_id: &str,
    ) -> Result<ContentTranscoding, LineError> {
        let path = format!(
            "/v2/bot/message/{}/content/transcoding",
            segment(message_id)
        );
        self.get_json(Host::Data, &path, token, "transcoding status")
            .await
    }

    /// `POST /v2/bot/chat/loading/start`: shows the typing indicator in a one-on-one chat.
    /// `chat_id` is the user ID. The spec allows `loading_seconds` of 5 to 60 in steps of 5
    /// (LINE's default when omitted is 20); other values are sent as given and LINE answers 400.
    #[tracing::instrument(skip_all, fields(chat_id = %chat_id, loading_seconds = loading_seconds))]
    pub async fn start_loading(
        &self,
        token: &str,
        chat_id: &str,
        loading_seconds: u32,
    ) -> Result<(), LineError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ShowLoadingAnimationRequest<'a> {
            chat_id: &'a str,
            loading_seconds: u32,
        }
        let request = self
            .authed(Method::POST, Host::Api, "/v2/bot/chat/loading/start", token)
            .json(&ShowLoadingAnimationRequest {
                chat_id,
                loading_seconds,
            });
        self.unit(request).await
    }

    /// `POST /v2/bot/chat/markAsRead` with the `markAsReadToken` from a webhook message event.
    #[tracing::instrument(skip_all)]
    pub async fn mark_as_read(
        &self,
        token: &str,
        mark_as_read_token: &str,
    ) -> Result<(), LineError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct MarkMessagesAsReadByTokenRequest<'a> {
            mark_as_read_token: &'a str,
        }
        let request = self
            .authed(Method::POST, Host::Api, "/v2/bot/chat/markAsRead", token)
            .json(&MarkMessagesAsReadByTokenRequest { mark_as_read_token });
        self.unit(request).await
    }

    /// `GET /v2/bot/channel/webhook/endpoint`.
    #[tracing::instrument(skip_all)]
    pub async fn webhook_endpoint(&self, token: &str) -> Result<WebhookEndpoint, LineError> {
        self.get_json(
            Host::Api,
            "/v2/bot/channel/webhook/endpoint",
            token,
            "webhook endpoint",
        )
        .await
    }

    /// `PUT /v2/bot/channel/webhook/endpoint`.
    #[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
    pub async fn set_webhook_endpoint(&self, token: &str, endpoint: &str) -> Result<(), LineError> {
        let request = self
            .authed(
                Method::PUT,
                Host::Api,
                "/v2/bot/channel/webhook/endpoint",
                token,
            )
            .json(&WebhookEndpointRequest {
                endpoint: Some(endpoint),
            });
        self.unit(request).await
    }

    /// `POST /v2/bot/channel/webhook/test`: LINE sends a test event to `endpoint`, or to the
    /// configured webhook URL when `None`.
    #[tracing::instrument(skip_all, fields(endpoint = endpoint.unwrap_or("(configured)")))]
    pub async fn test_webhook(
        &self,
        token: &str,
        endpoint: Option<&str>,
    ) -> Result<WebhookTestResult, LineError> {
        let request = self
            .authed(
                Method::POST,
                Host::Api,
                "/v2/bot/channel/webhook/test",
                token,
            )
            .json(&WebhookEndpointRequest { endpoint });
        self.json(request, "webhook test result").await
    }

    /// `GET /v2/bot/message/quota`: this month's message target limit.
    #[tracing::instrument(skip_all)]
    pub async fn quota(&self, token: &str) -> Result<Quota, LineError> {
        self.get_json(Host::Api, "/v2/bot/message/quota", token, "message quota")
            .await
    }

    /// `GET /v2/bot/message/quota/consumption`: messages sent this month.
    #[tracing::instrument(skip_all)]
    pub async fn quota_consumption(&self, token: &str) -> Result<QuotaConsumption, LineError> {
        self.get_json(
            Host::Api,
            "/v2/bot/message/quota/consumption",
            token,
            "quota consumption",
        )
        .await
    }

    /// `GET /v2/bot/{chat_kind}/{chatId}/member/{userId}`: group and room members differ only
    /// in the path and in what a decode error calls the body.
    async fn member_profile(
        &self,
        token: &str,
        chat_kind: &str,
        chat_id: &str,
        user_id: &str,
        what: &'static str,
    ) -> Result<MemberProfile, LineError> {
        let path = format!(
            "/v2/bot/{chat_kind}/{}/member/{}",
            segment(chat_id),
            segment(user_id)
        );
        self.get_json(Host::Api, &path, token, what).await
    }

    fn url(&self, host: Host, path: &str) -> String {
        let base = match host {
            Host::Api => &self.api_base,
            Host::Data => &self.data_base,
        };
        format!("{base}{path}")
    }

    fn authed(&self, method: Method, host: Host, path: &str, token: &str) -> RequestBuilder {
        // `bearer_auth` marks the header sensitive, so it is redacted from reqwest's Debug output.
        self.http
            .request(method, self.url(host, path))
            .bearer_auth(token)
    }

    /// Sends, reads the whole body, and turns a non-2xx answer into a [`LineError`].
    async fn execute(
        &self,
        request: RequestBuilder,
        shape: ErrorShape,
    ) -> Result<Answer, LineError> {
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let request_id = headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::debug!(status = status.as_u16(), request_id, "LINE answered");
        if status.is_success() {
            let body = response.bytes().await?;
            return Ok(Answer {
                status,
                headers,
                body,
            });
        }
        // The status and headers already say what happened: a body cut short still makes an API error.
        let body = response.bytes().await.unwrap_or_default();
        let error = match shape {
            ErrorShape::Messaging => LineError::from_api_response(status.as_u16(), &headers, &body),
            ErrorShape::OAuth => LineError::from_oauth_response(status.as_u16(), &headers, &body),
        };
        tracing::debug!(error = %error, "LINE call failed");
        Err(error)
    }

    /// A Messaging API call answering JSON.
    async fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        what: &'static str,
    ) -> Result<T, LineError> {
        let answer = self.execute(request, ErrorShape::Messaging).await?;
        decode(what, &answer.body)
    }

    /// An authenticated Messaging API `GET` answering JSON.
    async fn get_json<T: DeserializeOwned>(
        &self,
        host: Host,
        path: &str,
        token: &str,
        what: &'static str,
    ) -> Result<T, LineError> {
        self.json(self.authed(Method::GET, host, path, token), what)
            .await
    }

    /// A Messaging API call whose 2xx body carries nothing of use.
    async fn unit(&self, request: RequestBuilder) -> Result<(), LineError> {
        self.execute(request, ErrorShape::Messaging).await.map(drop)
    }
}

fn decode<T: DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, LineError> {
    serde_json::from_slice(body).map_err(|e| LineError::decode(what, e, body))
}

/// Percent-encodes an ID for use as one path segment, so an ID can never change the path.
/// LINE IDs are alphanumeric, so this is normally a no-op.
fn segment(id: &str) -> Cow<'_, str> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if id.bytes().all(unreserved) {
        return Cow::Borrowed(id);
    }
    let mut out = String::with_capacity(id.len() * 3);
    for b in id.bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

/// `SetWebhookEndpointRequest` / `TestWebhookEndpointRequest`.
#[derive(Serialize)]
struct WebhookEndpointRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<&'a str>,
}

/// `string_enum!` plus `Display` and `From<Self> for String`, which the client's enums have
/// always offered callers (the webhook enums never did, so they stay without).
macro_rules! open_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        string_enum! {
            $(#[$meta])*
            pub enum $name { $($(#[$vmeta])* $variant = $wire,)+ }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                match v {
                    $name::Unknown(other) => other,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// `IssueShortLivedChannelAccessTokenResponse` (snake_case on the wire, as OAuth does).
/// `Debug` redacts the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub access_token: String,
    /// Seconds until the token expires, counted from issue (30 days for this endpoint).
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// `BotInfoResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotInfo {
    pub user_id: String,
    /// `@` followed by the basic ID.
    pub basic_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premium_id: Option<String>,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture_url: Option<String>,
    pub chat_mode: ChatMode,
    pub mark_as_read_mode: MarkAsReadMode,
}

open_enum! {
    /// `chatMode`: whether chat is on in the LINE Official Account Manager.
    pub enum ChatMode {
        /// Chat is "On".
        Chat = "chat",
        /// Chat is "Off".
        Bot = "bot",
    }
}

open_enum! {
    /// `markAsReadMode`: whether messages are marked read automatically.
    pub enum MarkAsReadMode {
        Auto = "auto",
        Manual = "manual",
    }
}

/// `UserProfileResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProfile {
    pub user_id: String,
    pub display_name: String,
    /// Absent if the user has no profile image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture_url: Option<String>,
    /// Absent if the user has no status message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// BCP 47 tag; absent until the user consents to the LINE Privacy Policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// `GroupUserProfileResponse` / `RoomUserProfileResponse` (identical shapes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberProfile {
    pub user_id: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture_url: Option<String>,
}

/// `ReplyMessageResponse` / `PushMessageResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendResponse {
    /// One entry per message sent, in request order.
    #[serde(default)]
    pub sent_messages: Vec<SentMessage>,
}

/// `SentMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMessage {
    pub id: String,
    /// Present only for message types that can be quoted (text, sticker…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_token: Option<String>,
}

/// What [`LineClient::content`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// The content, with its `Content-Type` if LINE sent one.
    Ready {
        content_type: Option<String>,
        bytes: Bytes,
    },
    /// 202 Accepted: LINE is still preparing the video or audio; ask again later.
    Preparing,
}

/// `GetMessageContentTranscodingResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentTranscoding {
    pub status: TranscodingStatus,
}

open_enum! {
    /// Preparation status of a video or audio.
    pub enum TranscodingStatus {
        /// Still preparing.
        Processing = "processing",
        /// Ready: [`LineClient::content`] will return it.
        Succeeded = "succeeded",
        /// Preparation failed: the content cannot be fetched.
        Failed = "failed",
    }
}

/// `GetWebhookEndpointResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    pub endpoint: String,
    /// Whether LINE sends webhook events to `endpoint`.
    pub active: bool,
}

/// `TestWebhookEndpointResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTestResult {
    /// Whether LINE reached the webhook and got a 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// RFC 3339 date-time of the test, e.g. `2020-09-30T05:38:20.031Z`.
    pub timestamp: String,
    /// The webhook's HTTP status; zero or negative if no response came back.
    pub status_code: i32,
    /// e.g. `OK`.
    pub reason: String,
    pub detail: String,
}

/// `MessageQuotaResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    #[serde(rename = "type")]
    pub kind: QuotaKind,
    /// The monthly target limit; present when `kind` is [`QuotaKind::Limited`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
}

open_enum! {
    /// `QuotaType`: whether a monthly target limit is set.
    pub enum QuotaKind {
        None = "none",
        Limited = "limited",
    }
}

/// `QuotaConsumptionResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaConsumption {
    pub total_usage: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_one_trailing_slash() {
        let c = LineClient::new(
            reqwest::Client::new(),
            "https://api.line.me/",
            "https://api-data.line.me",
        );
        assert_eq!(c.api_base(), "https://api.line.me");
        assert_eq!(c.data_base(), "https://api-data.line.me");
        assert_eq!(c.url(Host::Data, "/x"), "https://api-data.line.me/x");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("U4af4980629"), "U4af4980629");
        assert_eq!(segment("a/../b?c"), "a%2F..%2Fb%3Fc");
    }

    #[test]
    fn open_enums_keep_unknown_values() {
        let m: ChatMode = serde_json::from_str(r#""chat""#).expect("decode");
        assert_eq!(m, ChatMode::Chat);
        let u: MarkAsReadMode = serde_json::from_str(r#""sometimes""#).expect("decode");
        assert_eq!(u, MarkAsReadMode::Unknown("sometimes".into()));
        assert_eq!(serde_json::to_string(&u).expect("encode"), r#""sometimes""#);
        assert_eq!(
            serde_json::to_string(&QuotaKind::None).expect("encode"),
            r#""none""#
        );
        assert_eq!(TranscodingStatus::Succeeded.to_string(), "succeeded");
    }

    #[test]
    fn issued_token_debug_redacts() {
        let t = IssuedToken {
            access_token: "sekrit".into(),
            expires_in: 2_592_000,
            token_type: "Bearer".into(),
        };
        assert!(!format!("{t:?}").contains("sekrit"));
    }
}
