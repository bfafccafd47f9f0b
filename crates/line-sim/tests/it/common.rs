//! Shared fixtures: a spawned simulator with one channel, an HTTP client, and a tiny webhook
//! receiver.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use line_sim::{ChannelSpec, Delivery, EventKind, LineSim, SimError, SimUser, Source};
use serde::Serialize;
use serde_json::{Value, json};

pub const CH: &str = "1657000001";
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";
pub const USER: &str = "U4af4980629aaaaaaaaaaaaaaaaaaaaaa";

pub struct Env {
    pub sim: LineSim,
    pub base: String,
    pub http: reqwest::Client,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// A running sim with channel [`CH`] and friend [`USER`].
pub async fn env() -> Env {
    let sim = LineSim::new();
    sim.add_channel(ChannelSpec::new(CH, SECRET));
    sim.add_user(CH, SimUser::new(USER, "Taro"));
    let addr = sim.spawn().await.expect("spawn");
    let base = sim.base_url().expect("base url");
    assert_eq!(base, format!("http://{addr}"));
    Env {
        sim,
        base,
        http: client(),
    }
}

/// [`env`] and a channel access token for [`CH`], for tests that call the API right away.
pub async fn authed_env() -> (Env, String) {
    let env = env().await;
    let token = env.token().await;
    (env, token)
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// Sends `req` and reads the answer.
pub async fn send(req: reqwest::RequestBuilder) -> Answer {
    answer(req.send().await.expect("send")).await
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        headers,
        body,
    }
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A form `POST` without authentication, as the OAuth endpoints take.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        send(self.http.post(self.url(path)).form(form)).await
    }

    pub async fn issue_token_for(&self, id: &str, secret: &str) -> Answer {
        self.post_form(
            "/v2/oauth/accessToken",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ],
        )
        .await
    }

    pub async fn token(&self) -> String {
        let a = self.issue_token_for(CH, SECRET).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        answer(self.get_raw(token, path).await).await
    }

    pub async fn get_raw(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("send")
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Answer {
        self.post_with(token, path, body, None).await
    }

    pub async fn post_with(
        &self,
        token: &str,
        path: &str,
        body: &Value,
        retry_key: Option<&str>,
    ) -> Answer {
        let mut req = self.http.post(self.url(path)).bearer_auth(token).json(body);
        if let Some(k) = retry_key {
            req = req.header("X-Line-Retry-Key", k);
        }
        send(req).await
    }

    pub async fn put(&self, token: &str, path: &str, body: &Value) -> Answer {
        send(self.http.put(self.url(path)).bearer_auth(token).json(body)).await
    }

    /// `POST /v2/bot/message/reply` of `messages` with `reply_token` (any JSON value, so tests
    /// can pass one straight out of an event).
    pub async fn reply(
        &self,
        token: &str,
        reply_token: impl Serialize,
        messages: &[Value],
    ) -> Answer {
        let body = json!({ "replyToken": reply_token, "messages": messages });
        self.post(token, "/v2/bot/message/reply", &body).await
    }

    /// `POST /v2/bot/message/push` of `messages` to `to`, without a retry key.
    pub async fn push(&self, token: &str, to: &str, messages: &[Value]) -> Answer {
        self.push_with(token, to, messages, None).await
    }

    /// [`Env::push`] with an optional `X-Line-Retry-Key`.
    pub async fn push_with(
        &self,
        token: &str,
        to: &str,
        messages: &[Value],
        retry_key: Option<&str>,
    ) -> Answer {
        let body = json!({ "to": to, "messages": messages });
        self.post_with(token, "/v2/bot/message/push", &body, retry_key)
            .await
    }

    /// Builds an event in [`CH`] from [`USER`] in their one-to-one chat.
    pub fn user_event(&self, kind: EventKind) -> Value {
        self.sim.event(CH, Source::User(USER.into()), kind)
    }

    /// Builds and delivers a text event from [`USER`] in `channel_id`.
    pub async fn user_says(&self, channel_id: &str, text: &str) -> Result<Delivery, SimError> {
        self.sim
            .send(
                channel_id,
                Source::User(USER.into()),
                EventKind::Text(text.into()),
            )
            .await
    }

    /// A text event from [`USER`]; returns its reply token.
    pub fn reply_token(&self) -> String {
        let ev = self.user_event(EventKind::Text("hi".into()));
        ev["replyToken"].as_str().expect("replyToken").to_owned()
    }
}

pub fn text(t: &str) -> Value {
    json!({ "type": "text", "text": t })
}

/// One webhook request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

/// A webhook receiver on port 0 that records requests and answers `status` with body "ok".
pub async fn receiver(status: u16) -> Receiver {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/webhook",
            post(
                move |State(got): State<Arc<Mutex<Vec<Received>>>>,
                      headers: HeaderMap,
                      body: Bytes| async move {
                    got.lock().expect("lock").push(Received { headers, body });
                    (StatusCode::from_u16(status).expect("status"), "ok")
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver { addr, got }
}
