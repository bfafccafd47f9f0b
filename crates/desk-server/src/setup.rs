//! Creating brands, users and channels: shared by the CLI, the demo and the tests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use desk_core::{Millis, Role, Secret};
use desk_store::{
    Brand, Channel, Department, NewChannel, NewOperator, Operator, Store, StoreError,
};

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

/// What a new channel needs when it is created without the wizard.
#[derive(Debug, Clone)]
pub struct ChannelSetup {
    pub brand: String,
    pub department: String,
    pub line_channel_id: String,
    pub secret: String,
    pub channel_key: Option<String>,
    pub bot_user_id: Option<String>,
    pub display_name: String,
}

/// Connects a channel (no call to LINE: the wizard is the checked way).
pub async fn add_channel(
    store: &Store,
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
                secret: Secret::new(setup.secret),
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
