//! Secrets at rest and secret rotation: channel secrets and access tokens never reach the
//! database in clear, and a replaced secret keeps verifying webhooks for one hour.

use std::time::Duration;

use desk_server::crypto::Purpose;
use desk_store::StoreConfig;
use line_api::signature::sign;
use line_sim::{ChannelSpec, EventKind};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

const NEW_SECRET: &str = "0123456789abcdef0123456789abcdef";

impl TestApp {
    /// Every stored value of the channel and wizard tables, as text (Postgres), or the bytes
    /// of the database file with its WAL (SQLite).
    async fn stored_bytes(&self) -> Vec<u8> {
        match &self.config.store {
            StoreConfig::Sqlite { path } => {
                let mut bytes = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let file = format!("{}{suffix}", path.display());
                    if let Ok(b) = std::fs::read(&file) {
                        bytes.extend(b);
                    }
                }
                assert!(bytes.len() > 4096, "read the database file");
                bytes
            }
            StoreConfig::Postgres { url, .. } => {
                let pool = sqlx::PgPool::connect(url).await.expect("raw postgres");
                let mut out = Vec::new();
                for table in ["line_channels", "channel_wizards", "audit_log"] {
                    let sql = format!("SELECT row_to_json(t)::text FROM {table} t");
                    let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .fetch_all(&pool)
                        .await
                        .expect("rows");
                    for (row,) in rows {
                        out.extend(row.into_bytes());
                    }
                }
                pool.close().await;
                assert!(!out.is_empty(), "read the channel rows");
                out
            }
        }
    }

    /// The access token the desk holds for the test channel, once it has one.
    async fn stored_token(&self) -> String {
        let state = &self.server.as_ref().expect("running").state;
        let sealed = self
            .eventually("a channel access token", || async {
                self.store()
                    .channel(self.channel.id)
                    .await
                    .expect("channel")
                    .access_token
            })
            .await;
        state
            .cipher
            .open(Purpose::AccessToken, &sealed)
            .expect("opens")
            .expose()
            .to_owned()
    }

    async fn post_signed(&self, secret: &str, body: &Value) -> u16 {
        let bytes = serde_json::to_vec(body).expect("json");
        let signature = sign(secret, &bytes);
        let key = &self.channel.channel_key;
        let response = self.post_webhook(key, bytes, Some(signature)).await;
        response.status().as_u16()
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

both!(the_database_holds_no_secret_or_token_in_clear, |app| {
    // A user writes: the desk issues a token to fetch the profile.
    let user = app.user("U00000000000000000000000000000a11", "Aiko");
    app.say(&user, "hello").await;
    app.inbox_drained().await;
    let token = app.stored_token().await;
    assert!(token.len() > 16);
    // And a wizard holds a second channel's secret and token while it runs.
    let mut spec = ChannelSpec::new("1650000077", NEW_SECRET);
    spec.chat_mode = line_sim::ChatMode::Bot;
    app.sim.add_channel(spec);
    let brand = app.channel.brand_id;
    let wizard = app
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v1/brands/{brand}/channel-wizards"),
            json!({}),
        )
        .await;
    assert_eq!(wizard.status(), 201);
    let wizard: Value = wizard.json().await.expect("json");
    let answer = app
        .send_json(
            reqwest::Method::POST,
            &format!(
                "/api/v1/channel-wizards/{}/credentials",
                wizard["id"].as_str().expect("id")
            ),
            json!({"channel_id": "1650000077", "channel_secret": NEW_SECRET}),
        )
        .await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("text");
    assert!(
        !text.contains(NEW_SECRET),
        "the API never returns the secret"
    );

    let bytes = app.stored_bytes().await;
    assert!(!contains(&bytes, SECRET), "channel secret in clear");
    assert!(!contains(&bytes, NEW_SECRET), "wizard secret in clear");
    assert!(!contains(&bytes, &token), "access token in clear");
    // The check can fail: the channel key (not a secret) is there in clear.
    assert!(contains(&bytes, &app.channel.channel_key));
    // And the account page shows the secret masked only.
    let info = app
        .get(&format!("/api/v1/channels/{}?live=false", app.channel.id))
        .await
        .text()
        .await
        .expect("text");
    assert!(!info.contains(SECRET) && !info.contains(&token), "{info}");
    assert!(info.contains("\"masked\""));
});

both!(a_replaced_secret_verifies_webhooks_for_one_hour, |app| {
    let user = app.user("U00000000000000000000000000000b22", "Ben");
    let event = |text: &str| json!({"destination": "Ux", "events": [app.event(&user, EventKind::Text(text.into()))]});
    let path = format!("/api/v1/channels/{}/secret", app.channel.id);

    let put_secret = async |secret: &str| {
        app.send_json(
            reqwest::Method::PUT,
            &path,
            json!({"channel_secret": secret}),
        )
        .await
    };

    // Bad input names the field; a secret LINE does not know is refused by LINE's check.
    let malformed = put_secret("abc").await;
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.expect("json");
    assert_eq!(body["error"]["field"], "channel_secret");
    let unknown = put_secret(NEW_SECRET).await;
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("LINE rejected the channel secret"),
        "{body}"
    );

    // A token held before the change: the change's own token replaces it.
    let before = app.access_token().await;

    // The admin reissues the secret in the LINE Developers Console, then enters it here.
    let mut spec = app.sim.channel(LINE_CHANNEL_ID).expect("spec");
    spec.secret = NEW_SECRET.into();
    app.sim.add_channel(spec);
    assert_eq!(put_secret(NEW_SECRET).await.status(), 204);
    let after = app.access_token().await;
    assert_ne!(after, before, "the token held was dropped");
    assert_eq!(
        app.sim.issued_tokens(LINE_CHANNEL_ID),
        2,
        "the change issued it"
    );

    assert_eq!(app.post_signed(SECRET, &event("old, in time")).await, 200);
    assert_eq!(app.post_signed(NEW_SECRET, &event("new")).await, 200);
    app.advance(Duration::from_secs(3_600) + Duration::from_secs(1));
    assert_eq!(app.post_signed(SECRET, &event("old, too late")).await, 401);
    assert_eq!(app.post_signed(NEW_SECRET, &event("new, later")).await, 200);
    app.inbox_drained().await;
    assert_eq!(
        app.store()
            .inbox_event_types(app.channel.id)
            .await
            .expect("types")
            .len(),
        3,
        "the three well-signed events were stored"
    );
    let channel = app.store().channel(app.channel.id).await.expect("channel");
    assert_eq!(channel.signature_failures, 1);

    let audit = app
        .get_json(&format!("/api/v1/audit?brand_id={}", app.channel.brand_id))
        .await;
    let entry = audit
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["action"] == "channel.secret_replaced")
        .cloned()
        .expect("audited");
    assert_eq!(entry["actor"], "admin@test.linedesk");
    assert!(!entry.to_string().contains(NEW_SECRET));
});

both!(one_token_is_issued_reused_and_renewed, |app| {
    let state = &app.server.as_ref().expect("running").state;
    let now = state.clock.now_ms();
    // Twenty concurrent asks: one issue (single-flight), the same token for all.
    let asks = (0..20).map(|_| {
        state
            .tokens
            .get(&state.store, &state.line, app.channel.id, now)
    });
    let tokens = futures::future::join_all(asks).await;
    let first = tokens[0].as_ref().expect("token").clone();
    assert!(tokens.iter().all(|t| t.as_ref().ok() == Some(&first)));
    assert_eq!(app.sim.issued_tokens(LINE_CHANNEL_ID), 1);
    // Stored sealed, with LINE's 30-day expiry.
    let channel = app.store().channel(app.channel.id).await.expect("channel");
    let expires = channel.token_expires_ms.expect("expiry");
    assert!((expires - now - 30 * 86_400_000).abs() < 60_000);
    assert!(
        !String::from_utf8_lossy(channel.access_token.expect("sealed").as_bytes()).contains(&first)
    );

    // Reused until 7 days before expiry, then renewed.
    let day = 86_400_000;
    let reused = state
        .tokens
        .get(&state.store, &state.line, app.channel.id, now + 22 * day)
        .await
        .expect("token");
    assert_eq!(
        (reused.as_str(), app.sim.issued_tokens(LINE_CHANNEL_ID)),
        (first.as_str(), 1)
    );
    let renewed = state
        .tokens
        .get(
            &state.store,
            &state.line,
            app.channel.id,
            now + 23 * day + 1,
        )
        .await
        .expect("token");
    assert_ne!(renewed, first);
    assert_eq!(app.sim.issued_tokens(LINE_CHANNEL_ID), 2);

    // After LINE answers 401, the token is dropped and the next ask issues another.
    state
        .tokens
        .invalidate(&state.store, app.channel.id)
        .await
        .expect("invalidate");
    let after_401 = state
        .tokens
        .get(&state.store, &state.line, app.channel.id, now)
        .await
        .expect("token");
    assert_ne!(after_401, renewed);
    assert_eq!(app.sim.issued_tokens(LINE_CHANNEL_ID), 3);
});

both!(
    secrets_left_in_clear_by_an_older_version_are_sealed_at_start,
    |app| {
        // What a database written before sealing looks like.
        let statement = "UPDATE line_channels SET secret = $1, secret_sealed = NULL, access_token = 'old-token', access_token_sealed = NULL";
        // The same raw statement, on whichever backend the desk runs.
        macro_rules! run_on {
            ($pool:expr) => {{
                let pool = $pool;
                sqlx::query(statement)
                    .bind(SECRET)
                    .execute(&pool)
                    .await
                    .expect("update");
                pool.close().await;
            }};
        }
        match &app.config.store {
            StoreConfig::Sqlite { path } => run_on!(
                sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .expect("raw sqlite")
            ),
            StoreConfig::Postgres { url, .. } => {
                run_on!(sqlx::PgPool::connect(url).await.expect("raw postgres"))
            }
        }
        let state = &app.server.as_ref().expect("running").state;
        desk_server::setup::seal_clear_secrets(app.store(), &state.cipher, state.clock.now_ms())
            .await
            .expect("sealed");
        let channel = app.store().channel(app.channel.id).await.expect("channel");
        let open = |purpose, sealed: &desk_core::Sealed| {
            state
                .cipher
                .open(purpose, sealed)
                .expect("opens")
                .expose()
                .to_owned()
        };
        assert_eq!(open(Purpose::ChannelSecret, &channel.secret), SECRET);
        assert_eq!(
            open(Purpose::AccessToken, &channel.access_token.expect("token")),
            "old-token"
        );
        assert!(
            app.store()
                .channels_with_clear_secrets()
                .await
                .expect("clear")
                .is_empty()
        );
        let body = json!({"destination": "Ux", "events": []});
        assert_eq!(app.post_signed(SECRET, &body).await, 200);
    }
);
