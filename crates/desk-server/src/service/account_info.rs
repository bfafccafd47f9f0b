//! A connected channel's account page: what LINE says about the account, its live status,
//! and the changes an admin makes there (secret, department, webhook, removal). Every change
//! is audited.

use desk_core::channel_setup::parse_channel_secret;
use desk_core::{ChannelId, DepartmentId, Millis};
use desk_store::{AccountProfile, Actor, Channel, SettingsChange};
use serde::Serialize;
use serde_json::json;

use crate::crypto::Purpose;
use crate::error::ApiError;
use crate::service::share_kit::ShareKit;
use crate::service::wizard::{WebhookStatus, check_webhook, webhook_url};
use crate::state::AppState;

/// How long a replaced secret still verifies webhook signatures: events LINE signed just
/// before the switch (and their redeliveries) are not lost.
pub const SECRET_GRACE_MS: Millis = 3_600_000;
const DAY_MS: Millis = 86_400_000;

/// The account page's data. The secret is write-only: only whether one is set, and when it
/// was last replaced.
#[derive(Debug, Clone, Serialize)]
pub struct AccountInfo {
    pub id: ChannelId,
    pub brand_id: desk_core::BrandId,
    pub line_channel_id: String,
    pub display_name: String,
    pub picture_url: Option<String>,
    pub basic_id: Option<String>,
    pub add_friend_url: Option<String>,
    pub department_id: DepartmentId,
    pub department_name: Option<String>,
    pub secret: SecretState,
    pub webhook_url: Option<String>,
    pub status: LiveStatus,
}

/// The write-only secret as shown: masked.
#[derive(Debug, Clone, Serialize)]
pub struct SecretState {
    pub masked: &'static str,
    pub rotated_ms: Option<Millis>,
    /// Until when the previous secret still verifies signatures.
    pub previous_valid_until_ms: Option<Millis>,
}

/// Live status.
#[derive(Debug, Clone, Serialize)]
pub struct LiveStatus {
    pub last_event_ms: Option<Millis>,
    /// Events since midnight UTC.
    pub events_today: i64,
    pub signature_failures: i64,
    pub token_expires_ms: Option<Millis>,
    pub reply_count: i64,
    pub push_count: i64,
    /// This month's message quota from LINE (`None` in `limit`: no limit set).
    pub quota: Option<QuotaStatus>,
    /// Whether LINE sends webhooks to this channel's URL.
    pub webhook_active: Option<bool>,
    /// What could not be read from LINE, if anything.
    pub line_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuotaStatus {
    pub limit: Option<i64>,
    pub used: i64,
}

fn actor_change(
    channel: &Channel,
    actor: Actor,
    action: &'static str,
    detail: serde_json::Value,
) -> SettingsChange {
    SettingsChange {
        brand_id: Some(channel.brand_id),
        actor,
        action,
        target: format!("channel:{}", channel.id),
        detail,
    }
}

/// The account page of a channel. `live` also asks LINE for the quota and webhook state.
pub async fn info(
    state: &AppState,
    channel: &Channel,
    live: bool,
) -> Result<AccountInfo, ApiError> {
    let now = state.clock.now_ms();
    let day_start = now - now.rem_euclid(DAY_MS);
    let (events_today, last_event_ms) = state.store.channel_activity(channel.id, day_start).await?;
    let department_name = state
        .store
        .list_departments(channel.brand_id)
        .await?
        .into_iter()
        .find(|d| d.id == channel.department_id)
        .map(|d| d.name);
    let mut status = LiveStatus {
        last_event_ms,
        events_today,
        signature_failures: channel.signature_failures,
        token_expires_ms: channel.token_expires_ms,
        reply_count: channel.reply_count,
        push_count: channel.push_count,
        quota: None,
        webhook_active: None,
        line_error: None,
    };
    if live && let Err(e) = read_live(state, channel, &mut status, now).await {
        status.line_error = Some(e);
    }
    Ok(AccountInfo {
        id: channel.id,
        brand_id: channel.brand_id,
        line_channel_id: channel.line_channel_id.clone(),
        display_name: channel.display_name.clone(),
        picture_url: channel.picture_url.clone(),
        basic_id: channel.basic_id.clone(),
        add_friend_url: ShareKit::new(channel.basic_id.as_deref())
            .ok()
            .map(|kit| kit.add_friend_url().to_owned()),
        department_id: channel.department_id,
        department_name,
        secret: SecretState {
            masked: "••••••••••••••••••••••••••••••••",
            rotated_ms: channel.secret_rotated_ms,
            previous_valid_until_ms: channel
                .previous_secret_until_ms
                .filter(|until| *until > now),
        },
        webhook_url: webhook_url(state, &channel.channel_key),
        status,
    })
}

/// Quota, usage and webhook state from LINE; the message of the first failure otherwise.
async fn read_live(
    state: &AppState,
    channel: &Channel,
    status: &mut LiveStatus,
    now: Millis,
) -> Result<(), String> {
    let token = state
        .tokens
        .get(&state.store, &state.line, channel.id, now)
        .await
        .map_err(|e| e.to_string())?;
    let (quota, used, endpoint) = tokio::join!(
        state.line.quota(&token),
        state.line.quota_consumption(&token),
        state.line.webhook_endpoint(&token),
    );
    let quota = quota.map_err(|e| e.to_string())?;
    status.quota = Some(QuotaStatus {
        limit: quota.value,
        used: used.map_err(|e| e.to_string())?.total_usage,
    });
    let own_url = webhook_url(state, &channel.channel_key);
    status.webhook_active = endpoint
        .ok()
        .map(|e| e.active && Some(&e.endpoint) == own_url.as_ref());
    // The token may have just been issued: show its expiry.
    status.token_expires_ms = state
        .store
        .channel(channel.id)
        .await
        .map_err(|e| e.to_string())?
        .token_expires_ms;
    Ok(())
}

/// Re-reads the account's name, picture and IDs from LINE.
pub async fn refresh(state: &AppState, channel: &Channel) -> Result<(), ApiError> {
    let now = state.clock.now_ms();
    let token = state
        .tokens
        .get(&state.store, &state.line, channel.id, now)
        .await
        .map_err(|e| ApiError::Upstream(e.to_string()))?;
    let bot =
        state.line.bot_info(&token).await.map_err(|e| {
            ApiError::Upstream(format!("could not read the account from LINE: {e}"))
        })?;
    state
        .store
        .set_channel_profile(
            channel.id,
            &AccountProfile {
                bot_user_id: bot.user_id,
                basic_id: bot.basic_id,
                display_name: bot.display_name,
                picture_url: bot.picture_url,
            },
        )
        .await?;
    state.channels.forget(channel);
    Ok(())
}

/// Replaces the channel secret after LINE accepted it (a token is issued with it). The old
/// secret keeps verifying webhooks for [`SECRET_GRACE_MS`].
pub async fn replace_secret(
    state: &AppState,
    channel: &Channel,
    new_secret: &str,
    actor: Actor,
) -> Result<(), ApiError> {
    let secret =
        parse_channel_secret(new_secret).map_err(|e| ApiError::bad_request(e.field, e.message))?;
    let issued = match state
        .line
        .issue_token(&channel.line_channel_id, secret.expose())
        .await
    {
        Ok(issued) => issued,
        Err(e) if e.is_invalid_client() => {
            return Err(ApiError::bad_request(
                "channel_secret",
                "LINE rejected the channel secret: copy it again from the LINE Developers Console (Basic settings › Channel secret)",
            ));
        }
        Err(e) => {
            return Err(ApiError::Upstream(format!(
                "could not check the secret with LINE: {e}"
            )));
        }
    };
    let now = state.clock.now_ms();
    let sealed = state.cipher.seal(Purpose::ChannelSecret, secret.expose());
    let change = actor_change(
        channel,
        actor,
        "channel.secret_replaced",
        json!({"previous_secret_valid_until_ms": now + SECRET_GRACE_MS}),
    );
    state
        .store
        .rotate_channel_secret(channel.id, &sealed, now + SECRET_GRACE_MS, &change, now)
        .await?;
    let token = state
        .cipher
        .seal(Purpose::AccessToken, &issued.access_token);
    let expires = now
        + Millis::try_from(issued.expires_in)
            .unwrap_or(0)
            .saturating_mul(1_000);
    state
        .store
        .set_channel_token(channel.id, Some(&token), Some(expires))
        .await?;
    state.channels.forget(channel);
    state.tokens.forget(channel.id);
    tracing::info!(channel = %channel.id, "channel secret replaced");
    Ok(())
}

/// Sends the channel's new chats to another department.
pub async fn change_department(
    state: &AppState,
    channel: &Channel,
    department: DepartmentId,
    actor: Actor,
) -> Result<(), ApiError> {
    let change = actor_change(
        channel,
        actor,
        "channel.department_changed",
        json!({"from": channel.department_id, "to": department}),
    );
    state
        .store
        .set_channel_department(channel.id, department, &change, state.clock.now_ms())
        .await?;
    state.channels.forget(channel);
    Ok(())
}

/// Sets the webhook URL again and runs LINE's test ("test again").
pub async fn test_webhook(state: &AppState, channel: &Channel) -> Result<WebhookStatus, ApiError> {
    let url = webhook_url(state, &channel.channel_key).ok_or_else(|| {
        ApiError::Conflict(crate::service::webhook_check::Reachability::NotSet.message())
    })?;
    let token = state
        .tokens
        .get(&state.store, &state.line, channel.id, state.clock.now_ms())
        .await
        .map_err(|e| ApiError::Upstream(e.to_string()))?;
    Ok(check_webhook(state, &token, &url).await)
}

/// Disconnects the channel: its webhook URL answers 404 from now on; chats stay.
pub async fn remove(state: &AppState, channel: &Channel, actor: Actor) -> Result<(), ApiError> {
    let change = actor_change(
        channel,
        actor,
        "channel.removed",
        json!({"line_channel_id": channel.line_channel_id, "display_name": channel.display_name}),
    );
    state
        .store
        .remove_channel(channel.id, &change, state.clock.now_ms())
        .await?;
    state.channels.forget(channel);
    tracing::info!(channel = %channel.id, "LINE channel removed");
    Ok(())
}
