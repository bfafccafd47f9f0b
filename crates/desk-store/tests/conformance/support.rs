//! Test harness: a fresh store per test and per backend, and a seeded brand/channel.

use desk_core::{Millis, Role, Sealed};
use desk_store::test_db::{fresh_postgres, postgres_url};
use desk_store::{
    Channel, ChannelScope, NewChannel, NewInboxEvent, NewOperator, Store, StoreConfig,
};

pub const NOW: i64 = 1_760_000_000_000;

/// A store plus what keeps it alive (the SQLite temp dir).
pub struct TestStore {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::connect(&StoreConfig::Sqlite {
        path: dir.path().join("desk.db"),
    })
    .await
    .expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TestStore {
        store,
        _dir: Some(dir),
    }
}

/// `None` when no Postgres server is configured.
pub async fn postgres() -> Option<TestStore> {
    let url = postgres_url()?;
    let config = fresh_postgres(&url)
        .await
        .unwrap_or_else(|e| panic!("Postgres at {url} unreachable: {e}"));
    let store = Store::connect(&config).await.expect("connect postgres");
    store.migrate().await.expect("migrate postgres");
    Some(TestStore { store, _dir: None })
}

/// Declares a test that runs the same async body on each backend.
#[macro_export]
macro_rules! conformance {
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn story($store: &$crate::support::TestStore) $body

            #[tokio::test]
            async fn sqlite() {
                story(&$crate::support::sqlite().await).await;
            }

            #[tokio::test]
            async fn postgres() {
                match $crate::support::postgres().await {
                    Some(store) => story(&store).await,
                    None => eprintln!("LINEDESK_TEST_POSTGRES_URL not set: Postgres run skipped"),
                }
            }
        }
    };
}

/// A brand with a department and one LINE channel.
pub async fn seed(store: &Store) -> (Channel, ChannelScope) {
    let brand = store.create_brand("Demo Shop", NOW).await.expect("brand");
    let department = store
        .create_department(brand.id, "Support", NOW)
        .await
        .expect("department");
    let channel = store
        .create_channel(
            NewChannel {
                brand_id: brand.id,
                department_id: department.id,
                line_channel_id: "1234567890".into(),
                channel_key: format!("key-{}", uuid::Uuid::new_v4().simple()),
                // The store keeps sealed bytes as they are; what they seal is the server's business.
                secret: Sealed::from_bytes(b"sealed-secret".to_vec()),
                bot_user_id: Some("Ubot".into()),
                basic_id: Some("@demo".into()),
                display_name: "Demo".into(),
                picture_url: None,
            },
            NOW,
        )
        .await
        .expect("channel");
    let scope = ChannelScope {
        channel_id: channel.id,
        brand_id: brand.id,
        department_id: department.id,
    };
    (channel, scope)
}

pub async fn operator(store: &Store, email: &str) -> desk_store::Operator {
    store
        .create_operator(
            NewOperator {
                brand_id: None,
                email: email.into(),
                display_name: "Op".into(),
                role: Role::Admin,
                password_hash: None,
            },
            NOW,
        )
        .await
        .expect("operator")
}

/// A webhook message event `key` of `chat`, happened at `ms`.
pub fn event(channel: desk_core::ChannelId, key: &str, chat: &str, ms: i64) -> NewInboxEvent {
    NewInboxEvent {
        channel_id: channel,
        dedupe_key: key.into(),
        chat_key: Some(chat.into()),
        event_type: "message".into(),
        event_ms: ms,
        raw: format!(r#"{{"webhookEventId":"{key}"}}"#),
    }
}

/// Appends an inbox row for `key`, claims it and applies `effect` (event time `NOW`).
pub async fn apply(
    store: &Store,
    scope: ChannelScope,
    key: &str,
    effect: desk_store::InboundEffect,
) -> desk_store::Applied {
    let row = desk_store::NewInboxEvent {
        channel_id: scope.channel_id,
        dedupe_key: key.into(),
        chat_key: Some("U1".into()),
        event_type: "test".into(),
        event_ms: NOW,
        raw: "{}".into(),
    };
    store.inbox_append(vec![row], NOW).await.expect("append");
    let claimed = store.inbox_claim(NOW, 1_000, 100).await.expect("claim");
    let id = claimed
        .iter()
        .find(|r| r.dedupe_key == key)
        .expect("claimed")
        .id;
    store
        .apply_inbound(id, scope, NOW, effect, NOW)
        .await
        .expect("apply")
}

/// A 1:1 user contact.
pub fn user(id: &str) -> desk_store::ContactRef {
    desk_store::ContactRef {
        kind: desk_core::ContactKind::User,
        line_id: id.into(),
    }
}

/// Stores `name` as the LINE profile of user `id` (as the profile worker does); returns the
/// contacts whose profile changed.
pub async fn name(
    store: &Store,
    scope: ChannelScope,
    id: &str,
    name: &str,
    now: Millis,
) -> Vec<desk_core::ContactId> {
    let update = desk_store::ProfileUpdate {
        brand_id: scope.brand_id,
        channel_id: scope.channel_id,
        line_id: id.into(),
        profile: desk_store::Profile {
            display_name: Some(name.into()),
            ..Default::default()
        },
    };
    store
        .set_contact_profiles(&[update], now)
        .await
        .expect("profile")
}

/// A text message from U1.
pub fn text(id: &str, text: &str) -> desk_store::InboundMessage {
    desk_store::InboundMessage {
        line_message_id: id.into(),
        kind: desk_core::MessageKind::Text,
        body: serde_json::json!({"type": "text", "id": id, "text": text}),
        quote_token: Some(format!("q{id}")),
        mark_as_read_token: Some(format!("r{id}")),
        sender_line_id: Some("U1".into()),
        sender_name: None,
    }
}

/// A text message effect from U1 with no reply token.
pub fn says(id: &str, words: &str) -> desk_store::InboundEffect {
    desk_store::InboundEffect::Message {
        contact: user("U1"),
        message: text(id, words),
        reply_token: None,
    }
}
