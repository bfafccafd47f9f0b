//! The connect wizard: Credentials → Response mode → Webhook → Department → Review → Done.
//! Its state lives in the database (one row per wizard), so a reload resumes it; each step
//! records what LINE answered, and Next moves on only when the step is satisfied.

use desk_core::channel_setup::{LineChannelId, parse_channel_secret};
use desk_core::{BrandId, ChannelId, DepartmentId, Millis, OperatorId, Secret, WizardId};
use desk_store::{Actor, IssuedToken, NewChannel, SettingsChange, WizardRow};
use line_api::LineError;
use line_api::client::ChatMode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::crypto::Purpose;
use crate::error::ApiError;
use crate::service::webhook_check::{INACTIVE, Reachability, TestOutcome, reachability};
use crate::setup::new_channel_key;
use crate::state::AppState;

/// An unfinished wizard untouched this long is deleted (at the next start).
pub const ABANDONED_AFTER_MS: Millis = 7 * 86_400_000;

/// The wizard's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Credentials,
    ResponseMode,
    Webhook,
    Department,
    Review,
    Done,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Credentials,
        Step::ResponseMode,
        Step::Webhook,
        Step::Department,
        Step::Review,
        Step::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Credentials => "credentials",
            Step::ResponseMode => "response_mode",
            Step::Webhook => "webhook",
            Step::Department => "department",
            Step::Review => "review",
            Step::Done => "done",
        }
    }

    fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|step| step.as_str() == s)
    }

    fn index(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    fn next(self) -> Step {
        Step::ALL[(self.index() + 1).min(Step::ALL.len() - 1)]
    }

    fn previous(self) -> Step {
        Step::ALL[self.index().saturating_sub(1)]
    }
}

/// The account as LINE describes it (`GET /v2/bot/info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub bot_user_id: String,
    pub basic_id: String,
    pub display_name: String,
    pub picture_url: Option<String>,
    /// `chat` (the account's own chat is on and would answer too) or `bot`.
    pub chat_mode: String,
}

/// The last webhook setup and test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookStatus {
    pub url: String,
    pub outcome: TestOutcome,
    /// `GET .../endpoint`'s `active`; `None` when it could not be read.
    pub active: Option<bool>,
    pub tested_ms: Millis,
}

/// What the steps found so far (the wizard row's JSON; no secret in it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub line_channel_id: Option<String>,
    pub token_expires_ms: Option<Millis>,
    pub account: Option<Account>,
    pub webhook: Option<WebhookStatus>,
    pub department_id: Option<DepartmentId>,
}

/// A wizard with its step and progress decoded.
#[derive(Debug, Clone)]
pub struct Wizard {
    pub row: WizardRow,
    pub step: Step,
    pub progress: Progress,
}

/// Said when Chat is on in LINE Official Account Manager.
pub const CHAT_MODE_ON: &str = "Chat is on for this account in LINE Official Account Manager, so \
     LINE's own chat would answer users alongside linedesk. Switch it off: open LINE Official \
     Account Manager, choose the account, go to Settings › Response settings, turn Chat off \
     (and Webhook on), then press Re-check.";

/// What the wizard looks like to the API and the pages.
#[derive(Debug, Clone, Serialize)]
pub struct WizardView {
    pub id: WizardId,
    pub brand_id: BrandId,
    pub step: Step,
    pub steps: Vec<Step>,
    pub line_channel_id: Option<String>,
    pub account: Option<Account>,
    /// Why the response mode blocks, when it does.
    pub response_mode_problem: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook: Option<WebhookView>,
    /// Whether LINE can reach `LINEDESK_PUBLIC_URL`, and how to fix it if not.
    pub reachability: Option<Reachability>,
    pub reachability_message: Option<String>,
    pub department_id: Option<DepartmentId>,
    /// Whether Next is possible; otherwise `blocked` says why.
    pub can_continue: bool,
    pub blocked: Option<String>,
    pub channel_id: Option<ChannelId>,
}

/// The webhook step's result, with its words.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookView {
    pub outcome: TestOutcome,
    pub message: String,
    pub active: Option<bool>,
    /// Set when LINE has the URL but "Use webhook" is off.
    pub inactive_message: Option<&'static str>,
    pub ok: bool,
    pub tested_ms: Millis,
}

impl WebhookStatus {
    fn passed(&self) -> bool {
        self.outcome.is_ok() && self.active == Some(true)
    }
}

impl Wizard {
    fn decode(row: WizardRow) -> Result<Self, ApiError> {
        let step = Step::parse(&row.step)
            .ok_or_else(|| ApiError::Internal(format!("wizard step `{}` unknown", row.step)))?;
        let progress = serde_json::from_value(row.state.clone())
            .map_err(|e| ApiError::Internal(format!("wizard state: {e}")))?;
        Ok(Wizard {
            row,
            step,
            progress,
        })
    }

    /// Why Next is not possible at the current step, if it is not.
    pub fn blocked(&self) -> Option<String> {
        match self.step {
            Step::Credentials if self.row.secret.is_none() => {
                Some("Enter the Channel ID and Channel secret first.".into())
            }
            Step::ResponseMode => match &self.progress.account {
                None => Some("Check the response mode first.".into()),
                Some(a) if a.chat_mode == ChatMode::Chat.to_string() => Some(CHAT_MODE_ON.into()),
                Some(_) => None,
            },
            Step::Webhook => match &self.progress.webhook {
                None => Some("Set up and test the webhook first.".into()),
                Some(w) if !w.outcome.is_ok() => Some(w.outcome.message()),
                Some(w) if w.active != Some(true) => Some(INACTIVE.into()),
                Some(_) => None,
            },
            Step::Department if self.progress.department_id.is_none() => {
                Some("Choose the department that receives the chats.".into())
            }
            Step::Done => Some("The channel is connected.".into()),
            _ => None,
        }
    }

    pub fn view(&self, state: &AppState) -> WizardView {
        let reach = reachability(state.public_url.as_deref());
        let blocked = self.blocked();
        WizardView {
            id: self.row.id,
            brand_id: self.row.brand_id,
            step: self.step,
            steps: Step::ALL.to_vec(),
            line_channel_id: self.progress.line_channel_id.clone(),
            account: self.progress.account.clone(),
            response_mode_problem: self
                .progress
                .account
                .as_ref()
                .filter(|a| a.chat_mode == ChatMode::Chat.to_string())
                .map(|_| CHAT_MODE_ON.to_owned()),
            webhook_url: webhook_url(state, &self.row.channel_key),
            webhook: self.progress.webhook.as_ref().map(|w| WebhookView {
                message: w.outcome.message(),
                outcome: w.outcome.clone(),
                active: w.active,
                inactive_message: (w.outcome.is_ok() && w.active == Some(false))
                    .then_some(INACTIVE),
                ok: w.passed(),
                tested_ms: w.tested_ms,
            }),
            reachability_message: reach.as_ref().map(Reachability::message),
            reachability: reach,
            department_id: self.progress.department_id,
            can_continue: blocked.is_none(),
            blocked,
            channel_id: self.row.channel_id,
        }
    }

    async fn save(&mut self, state: &AppState) -> Result<(), ApiError> {
        self.row.step = self.step.as_str().to_owned();
        self.row.state = serde_json::to_value(&self.progress)
            .map_err(|e| ApiError::Internal(format!("wizard state: {e}")))?;
        state
            .store
            .save_wizard(&self.row, state.clock.now_ms())
            .await?;
        Ok(())
    }

    fn token(&self, state: &AppState) -> Result<Secret, ApiError> {
        let sealed = self
            .row
            .token
            .as_ref()
            .ok_or_else(|| ApiError::Conflict("enter the channel credentials first".into()))?;
        state
            .cipher
            .open(Purpose::AccessToken, sealed)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    fn expect_step(&self, step: Step) -> Result<(), ApiError> {
        if self.step == step {
            Ok(())
        } else {
            Err(ApiError::Conflict(format!(
                "the wizard is at the {} step, not {}",
                self.step.as_str(),
                step.as_str()
            )))
        }
    }
}

/// `{LINEDESK_PUBLIC_URL}/line/webhook/{key}`, when the public URL is set.
pub fn webhook_url(state: &AppState, key: &str) -> Option<String> {
    state
        .public_url
        .as_deref()
        .map(|base| format!("{}/line/webhook/{key}", base.trim_end_matches('/')))
}

/// Starts a wizard for a brand.
pub async fn start(
    state: &AppState,
    brand: BrandId,
    operator: Option<OperatorId>,
) -> Result<Wizard, ApiError> {
    state.store.brand(brand).await?;
    let row = state
        .store
        .create_wizard(
            brand,
            operator,
            &new_channel_key(),
            Step::Credentials.as_str(),
            state.clock.now_ms(),
        )
        .await?;
    Wizard::decode(row)
}

/// A wizard by id.
pub async fn load(state: &AppState, id: WizardId) -> Result<Wizard, ApiError> {
    Wizard::decode(state.store.wizard(id).await?)
}

/// Which of the two credentials LINE's `invalid_client` answer is about. LINE (and line-sim)
/// say `invalid client_id` or `invalid client_secret` in `error_description`.
fn rejected_credential(error: &LineError) -> ApiError {
    let description = match error {
        LineError::OAuth { description, .. } => description.as_deref().unwrap_or(""),
        _ => "",
    }
    .to_ascii_lowercase();
    if description.contains("secret") {
        ApiError::bad_request(
            "channel_secret",
            "LINE rejected the channel secret: copy it again from the LINE Developers Console (Basic settings › Channel secret)",
        )
    } else if description.contains("client_id") || description.contains("channel") {
        ApiError::bad_request(
            "channel_id",
            "LINE rejected the channel ID: copy it again from the LINE Developers Console (Basic settings › Channel ID)",
        )
    } else {
        ApiError::bad_request(
            "channel_secret",
            "LINE rejected the channel ID or secret: copy both again from the LINE Developers Console (Basic settings)",
        )
    }
}

fn upstream(what: &str, e: &LineError) -> ApiError {
    ApiError::Upstream(format!("could not {what}: {e}"))
}

/// Credentials step: validates the form, refuses a channel already connected, issues a token
/// (which proves ID and secret), then reads the account's response mode.
pub async fn submit_credentials(
    state: &AppState,
    wizard: &mut Wizard,
    channel_id: &str,
    channel_secret: &str,
) -> Result<(), ApiError> {
    wizard.expect_step(Step::Credentials)?;
    let line_id =
        LineChannelId::parse(channel_id).map_err(|e| ApiError::bad_request(e.field, e.message))?;
    let secret = parse_channel_secret(channel_secret)
        .map_err(|e| ApiError::bad_request(e.field, e.message))?;
    if state
        .store
        .channel_by_line_id(line_id.as_str())
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict(format!(
            "LINE channel {line_id} is already connected; open it from the channel list instead"
        )));
    }
    let issued = match state
        .line
        .issue_token(line_id.as_str(), secret.expose())
        .await
    {
        Ok(issued) => issued,
        Err(e) if e.is_invalid_client() => return Err(rejected_credential(&e)),
        Err(e) => return Err(upstream("check the credentials with LINE", &e)),
    };
    let now = state.clock.now_ms();
    let expires_in = Millis::try_from(issued.expires_in).unwrap_or(0);
    wizard.row.secret = Some(state.cipher.seal(Purpose::ChannelSecret, secret.expose()));
    wizard.row.token = Some(
        state
            .cipher
            .seal(Purpose::AccessToken, &issued.access_token),
    );
    // New credentials: whatever later steps found was about another channel.
    wizard.progress = Progress {
        line_channel_id: Some(line_id.as_str().to_owned()),
        token_expires_ms: Some(now + expires_in.saturating_mul(1_000)),
        ..Progress::default()
    };
    wizard.step = Step::ResponseMode;
    read_account(state, wizard).await?;
    wizard.save(state).await
}

async fn read_account(state: &AppState, wizard: &mut Wizard) -> Result<(), ApiError> {
    let token = wizard.token(state)?;
    let info = state
        .line
        .bot_info(token.expose())
        .await
        .map_err(|e| upstream("read the account's settings from LINE", &e))?;
    wizard.progress.account = Some(Account {
        bot_user_id: info.user_id,
        basic_id: info.basic_id,
        display_name: info.display_name,
        picture_url: info.picture_url,
        chat_mode: info.chat_mode.to_string(),
    });
    Ok(())
}

/// Response mode step: reads the account again (after the admin switched Chat off).
pub async fn recheck_response_mode(state: &AppState, wizard: &mut Wizard) -> Result<(), ApiError> {
    wizard.expect_step(Step::ResponseMode)?;
    read_account(state, wizard).await?;
    wizard.save(state).await
}

/// Webhook step: sets the endpoint, runs LINE's test and reads whether the webhook is on.
pub async fn run_webhook(state: &AppState, wizard: &mut Wizard) -> Result<(), ApiError> {
    wizard.expect_step(Step::Webhook)?;
    let url = webhook_url(state, &wizard.row.channel_key)
        .ok_or_else(|| ApiError::Conflict(Reachability::NotSet.message()))?;
    let token = wizard.token(state)?;
    let status = check_webhook(state, token.expose(), &url).await;
    wizard.progress.webhook = Some(status);
    wizard.save(state).await
}

/// Sets `url` as the channel's webhook, tests it and reads `active`: also used by "test
/// again" on a connected channel's account page.
pub async fn check_webhook(state: &AppState, token: &str, url: &str) -> WebhookStatus {
    let now = state.clock.now_ms();
    let failed = |outcome| WebhookStatus {
        url: url.to_owned(),
        outcome,
        active: None,
        tested_ms: now,
    };
    if let Err(e) = state.line.set_webhook_endpoint(token, url).await {
        return failed(TestOutcome::from_error(&e));
    }
    let outcome = match state.line.test_webhook(token, Some(url)).await {
        Ok(result) => TestOutcome::from_result(&result),
        Err(e) => return failed(TestOutcome::from_error(&e)),
    };
    let active = state
        .line
        .webhook_endpoint(token)
        .await
        .ok()
        .map(|endpoint| endpoint.active && endpoint.endpoint == url);
    WebhookStatus {
        url: url.to_owned(),
        outcome,
        active,
        tested_ms: now,
    }
}

/// Department step: the department that receives the chats (an existing one, or a new one
/// by name for a brand that has none yet).
pub async fn choose_department(
    state: &AppState,
    wizard: &mut Wizard,
    department: Option<DepartmentId>,
    new_name: Option<&str>,
) -> Result<(), ApiError> {
    wizard.expect_step(Step::Department)?;
    let brand = wizard.row.brand_id;
    let chosen = match (department, new_name.map(str::trim)) {
        (Some(id), _) => {
            let known = state.store.list_departments(brand).await?;
            if !known.iter().any(|d| d.id == id) {
                return Err(ApiError::bad_request(
                    "department_id",
                    "not a department of this brand",
                ));
            }
            id
        }
        (None, Some(name)) if !name.is_empty() => {
            state
                .store
                .create_department(brand, name, state.clock.now_ms())
                .await?
                .id
        }
        _ => {
            return Err(ApiError::bad_request(
                "department_id",
                "choose a department, or name a new one",
            ));
        }
    };
    wizard.progress.department_id = Some(chosen);
    wizard.save(state).await
}

/// Next: moves on when the current step is satisfied; from Review, connects the channel.
pub async fn next(state: &AppState, wizard: &mut Wizard, actor: Actor) -> Result<(), ApiError> {
    if let Some(why) = wizard.blocked() {
        return Err(ApiError::Conflict(why));
    }
    match wizard.step {
        Step::Review => finish(state, wizard, actor).await,
        step => {
            wizard.step = step.next();
            if wizard.step == Step::Department && wizard.progress.department_id.is_none() {
                // One department: nothing to choose.
                if let [only] = state
                    .store
                    .list_departments(wizard.row.brand_id)
                    .await?
                    .as_slice()
                {
                    wizard.progress.department_id = Some(only.id);
                }
            }
            wizard.save(state).await?;
            if wizard.step == Step::Webhook && wizard.progress.webhook.is_none() {
                run_webhook(state, wizard).await?;
            }
            Ok(())
        }
    }
}

/// Back: one step back (not from Done, whose channel is live).
pub async fn back(state: &AppState, wizard: &mut Wizard) -> Result<(), ApiError> {
    if wizard.step == Step::Done {
        return Err(ApiError::Conflict(
            "the channel is already connected".into(),
        ));
    }
    wizard.step = wizard.step.previous();
    wizard.save(state).await
}

async fn finish(state: &AppState, wizard: &mut Wizard, actor: Actor) -> Result<(), ApiError> {
    let missing = || ApiError::Conflict("the wizard lost its credentials; start again".into());
    let progress = &wizard.progress;
    let (Some(line_id), Some(account), Some(department), Some(secret)) = (
        progress.line_channel_id.clone(),
        progress.account.clone(),
        progress.department_id,
        wizard.row.secret.clone(),
    ) else {
        return Err(missing());
    };
    let token = wizard
        .row
        .token
        .clone()
        .zip(progress.token_expires_ms)
        .map(|(token, expires_ms)| IssuedToken { token, expires_ms });
    let change = SettingsChange {
        brand_id: Some(wizard.row.brand_id),
        actor,
        action: "channel.connected",
        target: format!("line_channel:{line_id}"),
        detail: json!({
            "line_channel_id": line_id,
            "basic_id": account.basic_id,
            "display_name": account.display_name,
            "department_id": department,
            "webhook_url": webhook_url(state, &wizard.row.channel_key),
        }),
    };
    let channel = state
        .store
        .finish_wizard(
            &wizard.row,
            Step::Done.as_str(),
            NewChannel {
                brand_id: wizard.row.brand_id,
                department_id: department,
                line_channel_id: line_id,
                channel_key: wizard.row.channel_key.clone(),
                secret,
                bot_user_id: Some(account.bot_user_id),
                basic_id: Some(account.basic_id),
                display_name: account.display_name,
                picture_url: account.picture_url,
            },
            token,
            &change,
            state.clock.now_ms(),
        )
        .await?;
    tracing::info!(channel = %channel.id, brand = %channel.brand_id, "LINE channel connected");
    *wizard = load(state, wizard.row.id).await?;
    Ok(())
}
