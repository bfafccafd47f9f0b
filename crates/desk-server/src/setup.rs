//! Creating brands, users and channels: shared by the CLI, the demo and the tests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use desk_core::{Millis, Role};
use desk_store::{
    Brand, Channel, Department, NewChannel, NewOperator, Operator, Store, StoreError,
};

use crate::crypto::{Cipher, Purpose};
use crate::http::auth::new_api_token;

/// A random, unguessable webhook key (128 bits).
pub fn new_channel_key() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// The brand and department with these names, created when missing.
pub async fn ensure_brand_department(
    store: &Store,
    brand: &str,
    department: &str,
    now: Millis,
) -> Result<(Brand, Department), StoreError> {
    let brand = match store
        .list_brands()
        .await?
        .into_iter()
        .find(|b| b.name == brand)
    {
        Some(b) => b,
        None => store.create_brand(brand, now).await?,
    };
    let department = match store
        .list_departments(brand.id)
        .await?
        .into_iter()
        .find(|d| d.name == department)
    {
        Some(d) => d,
        None => store.create_department(brand.id, department, now).await?,
    };
    Ok((brand, department))
}

/// What a new channel needs when it is created without the wizard. `Debug` leaves out the
/// secret.
#[derive(Clone)]
pub struct ChannelSetup {
    pub brand: String,
    pub department: String,
    pub line_channel_id: String,
    pub secret: String,
    pub channel_key: Option<String>,
    pub bot_user_id: Option<String>,
    pub display_name: String,
}

impl std::fmt::Debug for ChannelSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelSetup")
            .field("brand", &self.brand)
            .field("department", &self.department)
            .field("line_channel_id", &self.line_channel_id)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Connects a channel (no call to LINE: the wizard is the checked way). The secret is sealed
/// with `cipher` before it is stored.
pub async fn add_channel(
    store: &Store,
    cipher: &Cipher,
    setup: ChannelSetup,
    now: Millis,
) -> Result<Channel, StoreError> {
    let (brand, department) =
        ensure_brand_department(store, &setup.brand, &setup.department, now).await?;
    store
        .create_channel(
            NewChannel {
                brand_id: brand.id,
                department_id: department.id,
                line_channel_id: setup.line_channel_id,
                channel_key: setup.channel_key.unwrap_or_else(new_channel_key),
                secret: cipher.seal(Purpose::ChannelSecret, &setup.secret),
                bot_user_id: setup.bot_user_id,
                basic_id: None,
                display_name: setup.display_name,
                picture_url: None,
            },
            now,
        )
        .await
}

/// Adds a console user and returns it with a fresh API token (shown once, stored hashed).
pub async fn add_user(
    store: &Store,
    email: &str,
    name: &str,
    role: Role,
    brand: Option<desk_core::BrandId>,
    now: Millis,
) -> Result<(Operator, String), StoreError> {
    let operator = store
        .create_operator(
            NewOperator {
                brand_id: brand,
                email: email.into(),
                display_name: name.into(),
                role,
                password_hash: None,
            },
            now,
        )
        .await?;
    let (token, hash) = new_api_token();
    store
        .create_api_token(operator.id, &hash, "cli", now)
        .await?;
    Ok((operator, token))
}

/// Seals channel secrets and tokens that an older version stored in clear, so none is left
/// readable in the database. Idempotent; runs at every start.
pub async fn seal_clear_secrets(
    store: &Store,
    cipher: &Cipher,
    now: Millis,
) -> Result<(), StoreError> {
    for clear in store.channels_with_clear_secrets().await? {
        let seal = |purpose, value: Option<&str>| {
            value
                .filter(|v| !v.is_empty())
                .map(|v| cipher.seal(purpose, v))
        };
        store
            .seal_clear_secrets(
                clear.id,
                seal(Purpose::ChannelSecret, Some(&clear.secret)).as_ref(),
                seal(Purpose::ChannelSecret, clear.previous_secret.as_deref()).as_ref(),
                seal(Purpose::AccessToken, clear.access_token.as_deref()).as_ref(),
            )
            .await?;
        store
            .record_audit(
                &desk_store::SettingsChange {
                    brand_id: None,
                    actor: desk_store::Actor::System,
                    action: "channel.secrets_sealed",
                    target: format!("channel:{}", clear.id),
                    detail: serde_json::json!({"reason": "stored in clear by an older version"}),
                },
                now,
            )
            .await?;
        tracing::info!(channel = %clear.id, "sealed a channel secret stored in clear");
    }
    Ok(())
}
