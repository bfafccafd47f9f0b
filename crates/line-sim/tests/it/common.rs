//! Shared fixtures: a spawned simulator with one channel, an HTTP client, and a tiny webhook
//! receiver.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use line_sim::{ChannelSpec, EventKind, LineSim, SimUser, Source};
use serde_json::Value;

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

    pub async fn issue_token_for(&self, id: &str, secret: &str) -> Answer {
        let resp = self
            .http
            .post(self.url("/v2/oauth/accessToken"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .expect("send");
        answer(resp).await
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
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        answer(resp).await
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
        answer(req.send().await.expect("send")).await
    }

    pub async fn put(&self, token: &str, path: &str, body: &Value) -> Answer {
        let resp = self
            .http
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("send");
        answer(resp).await
    }

    /// A text event from [`USER`]; returns its reply token.
    pub fn reply_token(&self) -> String {
        let ev = self
            .sim
            .event(CH, Source::User(USER.into()), EventKind::Text("hi".into()));
        ev["replyToken"].as_str().expect("replyToken").to_owned()
    }
}

pub fn text(t: &str) -> Value {
    serde_json::json!({ "type": "text", "text": t })
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
