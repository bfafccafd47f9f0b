//! Crash safety: `kill -9` the real binary while webhook load runs; after a restart every
//! acknowledged event is stored exactly once and gets applied.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use desk_server::open_store;
use line_api::signature::sign;
use serde_json::json;

use crate::helpers::{Backend, SECRET, store_config};

const KEY: &str = "crash-test-key";
const USERS: u64 = 20;

fn linedesk() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_linedesk"));
    command
        .env("RUST_LOG", "error")
        // Nothing listens on the discard port: profile fetches fail fast instead of leaving the machine.
        .env("LINEDESK_LINE_API_BASE", "http://127.0.0.1:9")
        .env("LINEDESK_LINE_DATA_BASE", "http://127.0.0.1:9")
        // Both processes seal and open channel secrets with the same key (no key file in the cwd).
        .env("LINEDESK_SECRET_KEY", "a".repeat(64))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// A database with one channel (`KEY`) added through the binary's CLI, for `linedesk serve` runs.
struct Deployment {
    config: desk_store::StoreConfig,
    /// The flags that point the binary at this database.
    store_args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Deployment {
    /// `None` for Postgres when no test server is configured.
    async fn prepare(backend: Backend) -> Option<Deployment> {
        let dir = tempfile::tempdir().expect("temp dir");
        let Some(config) = store_config(backend, dir.path()).await else {
            eprintln!("LINEDESK_TEST_POSTGRES_URL not set: Postgres run skipped");
            return None;
        };
        let store_args: Vec<String> = match &config {
            desk_store::StoreConfig::Sqlite { .. } => {
                vec!["--data-dir".into(), dir.path().display().to_string()]
            }
            desk_store::StoreConfig::Postgres { url, .. } => {
                vec!["--database-url".into(), url.clone()]
            }
        };
        let status = linedesk()
            .args([
                "channel",
                "add",
                "--line-channel-id",
                "1650000009",
                "--secret",
                SECRET,
                "--channel-key",
                KEY,
            ])
            .args(&store_args)
            .status()
            .expect("channel add");
        assert!(status.success());
        Some(Deployment {
            config,
            store_args,
            _dir: dir,
        })
    }

    /// Starts `linedesk serve` on `port` and waits until it is healthy.
    async fn serve(&self, http: &reqwest::Client, port: u16) -> Child {
        let child = linedesk()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(&self.store_args)
            .spawn()
            .expect("start linedesk serve");
        wait_healthy(http, port).await;
        child
    }
}

async fn wait_healthy(http: &reqwest::Client, port: u16) {
    for _ in 0..200 {
        if http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("linedesk did not become healthy on port {port}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn body(worker: u64, n: u64) -> (String, Vec<u8>) {
    let event_id = format!("01CRASH{worker:04}{n:015}");
    let body = json!({"destination": "Ubot", "events": [{
        "type": "message", "mode": "active", "timestamp": 1_760_000_000_000_u64 + n,
        "source": {"type": "user", "userId": format!("U{:032x}", (worker * 1_000_003 + n) % USERS)},
        "webhookEventId": event_id, "deliveryContext": {"isRedelivery": false},
        "replyToken": format!("rt{worker}-{n}"),
        "message": {"id": format!("{}", 700_000_000_000_u64 + worker * 10_000_000 + n), "type": "text", "quoteToken": "q", "text": format!("注文 {n}")}
    }]});
    (event_id, serde_json::to_vec(&body).expect("json"))
}

async fn crash_story(backend: Backend) {
    let Some(deployment) = Deployment::prepare(backend).await else {
        return;
    };
    let http = reqwest::Client::new();
    let port = free_port();
    let mut child = deployment.serve(&http, port).await;

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..8u64 {
        let (http, acked, stop) = (http.clone(), acked.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let url = format!("http://127.0.0.1:{port}/line/webhook/{KEY}");
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let (event_id, body) = body(worker, n);
                let sig = sign(SECRET, &body);
                match http
                    .post(&url)
                    .header("x-line-signature", sig)
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => acked.lock().expect("lock").push(event_id),
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    // The server is gone: this request was never acknowledged.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() > 100,
        "the load ran ({} acknowledged)",
        acked.len()
    );

    // Restart on the same data: everything acknowledged is there, once, and gets applied.
    let mut child = deployment.serve(&http, port).await;
    let store = open_store(&deployment.config).await.expect("open store");
    let channel = store
        .channel_by_key(KEY)
        .await
        .expect("lookup")
        .expect("channel");
    let keys = store.inbox_keys(channel.id).await.expect("keys");
    let stored: std::collections::HashSet<&String> = keys.iter().collect();
    assert_eq!(stored.len(), keys.len(), "no duplicates");
    let missing: Vec<_> = acked.iter().filter(|k| !stored.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );

    let mut applied = 0;
    for _ in 0..900 {
        let (_, pending) = store.inbox_counts().await.expect("counts");
        if pending == 0 {
            let conversations = store
                .list_conversations(&Default::default())
                .await
                .expect("list");
            applied = 0;
            for c in conversations {
                applied += store.list_messages(c.id).await.expect("messages").len();
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        applied,
        keys.len(),
        "every stored event became exactly one message"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_sqlite() {
    crash_story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_postgres() {
    crash_story(Backend::Postgres).await;
}

/// An external bot that answers its first call slowly (the desk is killed meanwhile) and later
/// calls at once; it keeps the idempotency key of every call.
#[derive(Clone, Default)]
struct SlowBot {
    keys: Arc<Mutex<Vec<String>>>,
}

impl SlowBot {
    fn calls(&self) -> Vec<String> {
        self.keys.lock().expect("lock").clone()
    }
}

async fn slow_bot(
    axum::extract::State(bot): axum::extract::State<SlowBot>,
    body: axum::body::Bytes,
) -> axum::Json<serde_json::Value> {
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let first = {
        let mut keys = bot.keys.lock().expect("lock");
        keys.push(
            request["idempotency_key"]
                .as_str()
                .unwrap_or("none")
                .to_owned(),
        );
        keys.len() == 1
    };
    if first {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    axum::Json(json!({"messages": [{"type": "text", "text": "Your order ships today"}]}))
}

/// `kill -9` while the external bot is thinking: after the restart the turn is asked again
/// (with the same idempotency key) and the user gets exactly one answer.
async fn bot_crash_story(backend: Backend) {
    let Some(deployment) = Deployment::prepare(backend).await else {
        return;
    };

    let bot = SlowBot::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let bot_url = format!("http://{}/bot", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .route("/bot", axum::routing::post(slow_bot))
        .with_state(bot.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The channel's external bot, its secret sealed with the key the binary runs with.
    let store = open_store(&deployment.config).await.expect("open store");
    let channel = store
        .channel_by_key(KEY)
        .await
        .expect("lookup")
        .expect("channel");
    let key = desk_server::crypto::SecretKey::parse(&"a".repeat(64)).expect("key");
    let sealed = desk_server::crypto::Cipher::new(&key).seal(
        desk_server::crypto::Purpose::BotSecret,
        "bot-signing-secret",
    );
    let settings = desk_core::ChannelSettings::new(desk_core::ChannelSettingsInput {
        bot_enabled: true,
        ..Default::default()
    })
    .expect("settings");
    let external = desk_store::BotSettings {
        mode: desk_core::bot::BotMode::External,
        rules: None,
        external_url: Some(desk_core::bot::external::ExternalUrl::parse(bot_url).expect("url")),
        external_secret: Some(sealed),
    };
    store
        .set_bot_settings(
            channel.id,
            &external,
            &settings,
            desk_server::clock::now_ms(),
        )
        .await
        .expect("bot");

    let http = reqwest::Client::new();
    let port = free_port();
    let mut child = deployment.serve(&http, port).await;
    let (_, webhook) = body(99, 1);
    let acked = http
        .post(format!("http://127.0.0.1:{port}/line/webhook/{KEY}"))
        .header("x-line-signature", sign(SECRET, &webhook))
        .body(webhook)
        .send()
        .await
        .expect("webhook");
    assert_eq!(acked.status(), 200);
    // The bot is thinking: the desk dies.
    for _ in 0..200 {
        if !bot.calls().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(bot.calls().len(), 1, "the bot was asked");
    child.kill().expect("kill -9");
    child.wait().expect("reaped");

    // Restarted: the turn is asked again (on Postgres once the dead run's lease is out) and
    // answered once.
    let mut child = deployment.serve(&http, port).await;
    let mut answers = Vec::new();
    for _ in 0..600 {
        let pending = store.bot_turns_pending().await.expect("pending");
        let conversations = store
            .list_conversations(&Default::default())
            .await
            .expect("list");
        answers.clear();
        for c in &conversations {
            let messages = store.list_messages(c.id).await.expect("messages");
            answers.extend(messages.into_iter().filter(|m| m.sender_bot));
        }
        if pending == 0 && !answers.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = child.kill();
    let _ = child.wait();
    let calls = bot.calls();
    assert_eq!(answers.len(), 1, "exactly one answer: {answers:?}");
    assert_eq!(calls.len(), 2, "asked before the crash and once after");
    assert_eq!(
        calls[0], calls[1],
        "the repeat carries the same idempotency key"
    );
    assert_eq!(store.bot_turns_pending().await.expect("pending"), 0);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_the_bot_thinks_answers_once_sqlite() {
    bot_crash_story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_the_bot_thinks_answers_once_postgres() {
    bot_crash_story(Backend::Postgres).await;
}
