//! Configuring a channel's chatbot: the bot itself (off, rules, external), its idle settings
//! (kept in the channel settings, where the lifecycle reads them) and what the console shows
//! about it (reply/push counts, external bot failures).
//!
//! The bot settings and the channel settings are written in one transaction, and
//! `bot_enabled` always follows the mode, so "new chats start with the bot" and "there is a
//! bot to answer them" cannot disagree.

use desk_core::bot::BotMode;
use desk_core::bot::external::ExternalUrl;
use desk_core::bot::rules::{RulesBot, RulesBotInput};
use desk_core::settings::DEFAULT_BOT_IDLE;
use desk_core::{ChannelId, ChannelSettings, Millis, SettingsError};
use desk_store::{BotFailure, BotSettings, SendCounts};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto::Purpose;
use crate::error::ApiError;
use crate::http::auth::new_secret;
use crate::state::AppState;

/// How many recent external bot failures are shown.
const RECENT_FAILURES: i64 = 20;

/// The editable bot configuration: the body of `PUT /channels/{id}/bot`, which replaces it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    /// `off`, `rules` or `external`.
    pub mode: BotMode,
    /// The rules bot (required for `rules`; kept for later otherwise).
    #[serde(default)]
    pub rules: Option<RulesBotInput>,
    /// The external bot's URL (required for `external`).
    #[serde(default)]
    pub external_url: Option<String>,
    /// While the bot holds a chat: close it after this much silence (1 minute to 24 hours).
    #[serde(default = "default_idle")]
    pub idle_close_ms: Millis,
    /// Sent when the bot's idle close fires.
    #[serde(default)]
    pub closing_message: Option<String>,
}

fn default_idle() -> Millis {
    DEFAULT_BOT_IDLE
}

/// A `PUT` body: the configuration, and whether to issue a new signing secret.
#[derive(Debug, Deserialize)]
pub struct BotUpdate {
    #[serde(flatten)]
    pub config: BotConfig,
    /// Replace the external bot's signing secret (a first one is issued anyway).
    #[serde(default)]
    pub rotate_secret: bool,
}

/// What `GET /channels/{id}/bot` shows.
#[derive(Debug, Serialize)]
pub struct BotView {
    #[serde(flatten)]
    pub config: BotConfig,
    /// Whether the external bot has a signing secret.
    pub secret_set: bool,
    /// Issued by this update: shown once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Reply and push counts, of the channel and of its bot.
    pub sends: SendCounts,
    /// External bot failures.
    pub failures: Failures,
}

/// External bot failures of a channel.
#[derive(Debug, Serialize)]
pub struct Failures {
    pub total: i64,
    pub recent: Vec<BotFailure>,
}

/// The channel's bot as the API shows it.
pub async fn show(state: &AppState, channel: ChannelId) -> Result<BotView, ApiError> {
    let bot = state.store.bot_settings(channel).await?;
    let settings = state.store.chat_rules(channel).await?.settings;
    view(state, channel, &bot, &settings, None).await
}

/// Validates and stores a new configuration. Errors name the field (`rules.rules[0].…`).
pub async fn update(
    state: &AppState,
    channel: ChannelId,
    update: BotUpdate,
) -> Result<BotView, ApiError> {
    let BotUpdate {
        config,
        rotate_secret,
    } = update;
    let rules = config
        .rules
        .clone()
        .map(RulesBot::new)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("rules.{}", e.field), e.message))?;
    let external_url = config
        .external_url
        .clone()
        .map(ExternalUrl::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.field, e.message))?;
    match config.mode {
        BotMode::Rules if rules.is_none() => {
            return Err(ApiError::bad_request(
                "rules",
                "the rules bot needs its settings",
            ));
        }
        BotMode::External if external_url.is_none() => {
            return Err(ApiError::bad_request(
                "external_url",
                "the external bot needs the URL to call",
            ));
        }
        _ => {}
    }
    let mut input = state.store.chat_rules(channel).await?.settings.to_input();
    input.bot_enabled = config.mode != BotMode::Off;
    input.bot_idle_close_ms = config.idle_close_ms;
    input.bot_closing_message = config.closing_message.clone();
    let settings = ChannelSettings::new(input).map_err(|e| match e {
        SettingsError::BotIdleClose { .. } => ApiError::bad_request("idle_close_ms", e.to_string()),
        SettingsError::BotClosingMessage(_) => {
            ApiError::bad_request("closing_message", e.to_string())
        }
        other => ApiError::bad_request("settings", other.to_string()),
    })?;

    let stored = state.store.bot_settings(channel).await?;
    let mut issued = None;
    let external_secret = match stored.external_secret {
        Some(secret) if !rotate_secret => Some(secret),
        _ if config.mode == BotMode::External || rotate_secret => {
            let secret = new_secret();
            let sealed = state.cipher.seal(Purpose::BotSecret, &secret);
            issued = Some(secret);
            Some(sealed)
        }
        previous => previous,
    };
    let bot = BotSettings {
        mode: config.mode,
        rules,
        external_url,
        external_secret,
    };
    let now = state.clock.now_ms();
    state
        .store
        .set_bot_settings(channel, &bot, &settings, now)
        .await?;
    state.rules.invalidate();
    view(state, channel, &bot, &settings, issued).await
}

/// The channel settings in a `PUT /channels/{id}/settings` body. `bot_enabled` belongs to
/// the bot configuration (`PUT /channels/{id}/bot` switches it with the mode), so that "new
/// chats start with the bot" never holds without a bot to answer them: left out, it is taken
/// from the bot configuration; given, it must agree with it (a settings form read and sent
/// back as a whole does).
pub async fn channel_settings(
    state: &AppState,
    channel: ChannelId,
    body: &[u8],
) -> Result<ChannelSettings, ApiError> {
    let invalid = |e: serde_json::Error| ApiError::bad_request("settings", e.to_string());
    let mut json: Value = serde_json::from_slice(body).map_err(invalid)?;
    let fields = json
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("settings", "expected a JSON object"))?;
    let bot_on = state.store.bot_settings(channel).await?.mode != BotMode::Off;
    match fields.get("bot_enabled") {
        None => {
            fields.insert("bot_enabled".into(), Value::Bool(bot_on));
        }
        Some(Value::Bool(given)) if *given == bot_on => {}
        Some(_) if bot_on => {
            return Err(ApiError::bad_request(
                "bot_enabled",
                "the chatbot is switched off with PUT /channels/{id}/bot (mode \"off\"), not here",
            ));
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "bot_enabled",
                "no chatbot is configured on this channel: set one up with PUT /channels/{id}/bot \
                 (mode \"rules\" or \"external\"), which switches it on",
            ));
        }
    }
    serde_json::from_value(json).map_err(invalid)
}

async fn view(
    state: &AppState,
    channel: ChannelId,
    bot: &BotSettings,
    settings: &ChannelSettings,
    secret: Option<String>,
) -> Result<BotView, ApiError> {
    let (total, recent) = state.store.bot_failures(channel, RECENT_FAILURES).await?;
    Ok(BotView {
        config: BotConfig {
            mode: bot.mode,
            rules: bot.rules.clone().map(RulesBotInput::from),
            external_url: bot.external_url.clone().map(String::from),
            idle_close_ms: settings.bot_idle_close_ms(),
            closing_message: settings
                .bot_closing_message()
                .map(|m| m.as_str().to_owned()),
        },
        secret_set: bot.external_secret.is_some(),
        secret,
        sends: state.store.send_counts(channel).await?,
        failures: Failures { total, recent },
    })
}
