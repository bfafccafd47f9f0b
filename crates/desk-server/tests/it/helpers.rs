//! `TestApp`: a server wired to an in-process LINE simulator, with one connected channel and
//! an admin API token.

use std::future::Future;
use std::time::Duration;

use desk_core::Role;
use desk_server::clock::now_ms;
use desk_server::setup::{ChannelSetup, add_channel, add_user};
use desk_server::{Server, ServerConfig};
use desk_store::test_db::{fresh_postgres, postgres_url};
use desk_store::{Channel, Store, StoreConfig};
use line_sim::{ChannelSpec, DeliverOpts, Delivery, EventKind, LineSim, SimUser, Source};
use serde_json::Value;
use tokio::net::TcpListener;

pub const LINE_CHANNEL_ID: &str = "1650000001";
pub const SECRET: &str = "8f14e45fceea167a5a36dedd4bea2543";

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub server: Option<Server>,
    /// What the server was started with (a second instance can share its database).
    pub config: ServerConfig,
    pub base: String,
    pub sim: LineSim,
    pub channel: Channel,
    pub admin_token: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Declares a test that runs on both backends.
#[macro_export]
macro_rules! both {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn story($app: &$crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await.expect("sqlite app");
                story(&app).await;
                app.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await {
                    Some(app) => {
                        story(&app).await;
                        app.finish().await;
                    }
                    None => eprintln!("LINEDESK_TEST_POSTGRES_URL not set: Postgres run skipped"),
                }
            }
        }
    };
}

pub async fn store_config(backend: Backend, dir: &std::path::Path) -> Option<StoreConfig> {
    match backend {
        Backend::Sqlite => Some(StoreConfig::Sqlite {
            path: dir.join("linedesk.db"),
        }),
        Backend::Postgres => {
            let url = postgres_url()?;
            Some(
                fresh_postgres(&url)
                    .await
                    .unwrap_or_else(|e| panic!("Postgres at {url} unreachable: {e}")),
            )
        }
    }
}

/// Weekly business hours (UTC) open one hour a day, starting about twelve hours from now: the
/// department is closed now.
pub fn weekly_hours_closed_now() -> Value {
    let minute_of_day = (now_ms() / 60_000) % 1_440;
    let start = ((minute_of_day + 720) % 1_440).min(1_380);
    let window = serde_json::json!([{"start": start, "end": start + 60}]);
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    Value::Object(
        days.iter()
            .map(|d| ((*d).to_owned(), window.clone()))
            .collect(),
    )
}

impl TestApp {
    /// `None` for Postgres when no test server is configured.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store_config(backend, dir.path()).await?;
        let sim = LineSim::new();
        let sim_addr = sim.spawn().await.expect("sim");
        let sim_url = format!("http://{sim_addr}");
        let mut spec = ChannelSpec::new(LINE_CHANNEL_ID, SECRET);
        spec.display_name = "Test Shop".into();
        sim.add_channel(spec.clone());

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let config = ServerConfig {
            store,
            line_api_base: sim_url.clone(),
            line_data_base: sim_url,
            // LINE (the simulator) reaches the desk here: the connect wizard registers it.
            public_url: Some(format!("http://{}", listener.local_addr().expect("addr"))),
            secret_key: desk_server::crypto::SecretKey::generate(),
            media: desk_server::media::MediaConfig::new(dir.path()),
        };
        let server = Server::start(config.clone(), listener)
            .await
            .expect("server starts");
        let now = now_ms();
        let channel = add_channel(
            &server.state.store,
            &server.state.cipher,
            ChannelSetup {
                brand: "Test Shop".into(),
                department: "Support".into(),
                line_channel_id: LINE_CHANNEL_ID.into(),
                secret: SECRET.into(),
                channel_key: None,
                bot_user_id: Some(spec.bot_user_id.clone()),
                display_name: "Test Shop".into(),
            },
            now,
        )
        .await
        .expect("channel");
        let (_, admin_token) = add_user(
            &server.state.store,
            "admin@test.linedesk",
            "Admin",
            Role::Admin,
            None,
            now,
        )
        .await
        .expect("admin");
        let base = format!("http://{}", server.addr);
        sim.set_webhook(
            LINE_CHANNEL_ID,
            &format!("{base}/line/webhook/{}", channel.channel_key),
        );
        Some(TestApp {
            server: Some(server),
            config,
            base,
            sim,
            channel,
            admin_token,
            http: reqwest::Client::new(),
            _dir: dir,
        })
    }

    /// Moves the server's clock forward and wakes its timer worker.
    pub fn advance(&self, by: std::time::Duration) {
        let state = &self.server.as_ref().expect("running").state;
        state
            .clock
            .advance(i64::try_from(by.as_millis()).expect("duration"));
        state.wake.timers.notify_one();
    }

    /// Sends a JSON body with the admin token.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// One conversation as the API shows it.
    pub async fn conversation(&self, id: &str) -> Value {
        self.get_json(&format!("/api/v1/conversations/{id}")).await
    }

    /// Waits until the conversation reaches `state`.
    pub async fn wait_state(&self, id: &str, state: &str) -> Value {
        self.eventually(&format!("conversation {id} to be {state}"), || async {
            let c = self.conversation(id).await;
            (c["state"] == state).then_some(c)
        })
        .await
    }

    pub fn store(&self) -> &Store {
        &self.server.as_ref().expect("running").state.store
    }

    /// The channel's access token, as the desk's LINE calls get it now.
    pub async fn access_token(&self) -> String {
        let state = &self.server.as_ref().expect("running").state;
        state
            .tokens
            .get(
                &state.store,
                &state.line,
                self.channel.id,
                state.clock.now_ms(),
            )
            .await
            .expect("token")
    }

    /// Adds a simulated LINE user with a profile.
    pub fn user(&self, id: &str, name: &str) -> Source {
        self.sim.add_user(LINE_CHANNEL_ID, SimUser::new(id, name));
        Source::User(id.into())
    }

    pub fn event(&self, source: &Source, kind: EventKind) -> Value {
        self.sim.event(LINE_CHANNEL_ID, source.clone(), kind)
    }

    pub async fn deliver(&self, events: Vec<Value>) -> Delivery {
        self.sim
            .deliver(LINE_CHANNEL_ID, events, DeliverOpts::default())
            .await
            .expect("delivery")
    }

    pub async fn say(&self, source: &Source, text: &str) -> Delivery {
        let d = self
            .sim
            .send(
                LINE_CHANNEL_ID,
                source.clone(),
                EventKind::Text(text.into()),
            )
            .await
            .expect("send");
        assert_eq!(d.status, 200, "webhook refused: {}", d.body);
        d
    }

    /// Polls until `check` returns `Some`, for at most 10 s.
    pub async fn eventually<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = check().await {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every inbox event is applied.
    pub async fn inbox_drained(&self) {
        self.eventually("the inbox to drain", || async {
            let (_, pending) = self.store().inbox_counts().await.expect("counts");
            (pending == 0).then_some(())
        })
        .await;
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("GET")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("json")
    }

    pub async fn conversations(&self) -> Vec<Value> {
        self.get_json("/api/v1/conversations")
            .await
            .as_array()
            .cloned()
            .expect("array")
    }

    pub async fn messages(&self, conversation: &str) -> Vec<Value> {
        self.get_json(&format!("/api/v1/conversations/{conversation}/messages"))
            .await
            .as_array()
            .cloned()
            .expect("array")
    }

    /// The single conversation, once it exists.
    pub async fn only_conversation(&self) -> String {
        self.eventually("a conversation", || async {
            let list = self.conversations().await;
            list.first()
                .and_then(|c| c["id"].as_str())
                .map(str::to_owned)
        })
        .await
    }

    /// Waits until the chat's contact bears `name` (LINE profiles are fetched just after the
    /// message is shown).
    pub async fn named(&self, conversation: &str, name: &str) {
        self.eventually(&format!("{name}'s profile"), || async {
            (self.conversation(conversation).await["contact_name"] == name).then_some(())
        })
        .await
    }

    pub async fn post_message(&self, conversation: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!(
                "{}/api/v1/conversations/{conversation}/messages",
                self.base
            ))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    /// Waits for a message to leave `pending` and returns it.
    pub async fn settled(&self, conversation: &str, message_id: &str) -> Value {
        self.eventually("the send to settle", || async {
            self.messages(conversation)
                .await
                .into_iter()
                .find(|m| m["id"] == message_id && m["status"] != "pending")
        })
        .await
    }

    /// Stops the server, then checks nothing was left behind in the inbox or outbox.
    pub async fn finish(mut self) {
        // Work in flight (a send LINE already took, whose outcome is being recorded) may
        // finish; work that never finishes fails the test.
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let (_, inbox) = self.store().inbox_counts().await.expect("counts");
                let outbox = self.store().outbox_pending().await.expect("outbox");
                if inbox == 0 && outbox == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let (_, inbox) = self.store().inbox_counts().await.expect("counts");
        let outbox = self.store().outbox_pending().await.expect("outbox");
        self.server.take().expect("running").shutdown().await;
        assert!(
            drained.is_ok(),
            "inbox ({inbox} unapplied) or outbox ({outbox} unsent) did not drain"
        );
    }
}
