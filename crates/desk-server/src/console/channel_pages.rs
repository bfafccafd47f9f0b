//! Channel setup pages: the connect wizard (one page per step, Back/Next, state on the
//! server so a reload resumes), a channel's account page with its share kit, and the audit
//! log. The pages render what the JSON API answers; `assets/js/channels.js` sends their
//! actions to that API.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use desk_core::{BrandId, WizardId};
use desk_store::Channel;
use serde::Deserialize;

use super::i18n::Tr;
use super::layout::{Layout, PageError, Viewer, render};
use super::view;
use crate::service::account_info;
use crate::service::share_kit::{QrSize, ShareKit};
use crate::service::webhook_check::{Reachability, TestOutcome};
use crate::service::wizard::{self, Step, Wizard};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/brands/{brand}/settings/channels/new", get(wizard_new))
        .route(
            "/brands/{brand}/settings/channels/new/{wizard}",
            get(wizard_page),
        )
        .route(
            "/brands/{brand}/settings/channels/{channel}",
            get(account_page),
        )
        .route("/brands/{brand}/settings/audit", get(audit_page))
}

/// A step in the wizard's progress bar.
#[derive(Debug, Clone)]
pub struct StepLink {
    pub name: &'static str,
    pub current: bool,
    pub done: bool,
}

/// The account as LINE describes it.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub display_name: String,
    pub basic_id: String,
    pub picture_url: Option<String>,
    pub chat_on: bool,
}

/// The last webhook test.
#[derive(Debug, Clone)]
pub struct WebhookResult {
    /// `ok`, `could_not_connect`, `timeout`, `error_status`, `tls`, `refused`, `other`.
    pub code: &'static str,
    pub status: i32,
    /// LINE's own words, for `refused` and `other`.
    pub detail: String,
    pub ok: bool,
    /// LINE has the URL but "Use webhook" is off.
    pub inactive: bool,
}

impl WebhookResult {
    fn new(outcome: &TestOutcome, active: Option<bool>) -> Self {
        let (code, status, detail) = match outcome {
            TestOutcome::Ok => ("ok", 0, String::new()),
            TestOutcome::CouldNotConnect => ("could_not_connect", 0, String::new()),
            TestOutcome::Timeout => ("timeout", 0, String::new()),
            TestOutcome::ErrorStatus { status } => ("error_status", *status, String::new()),
            TestOutcome::Tls => ("tls", 0, String::new()),
            TestOutcome::Refused { message } => ("refused", 0, message.clone()),
            TestOutcome::Other { reason } => ("other", 0, reason.clone()),
        };
        WebhookResult {
            code,
            status,
            detail,
            ok: outcome.is_ok() && active == Some(true),
            inactive: outcome.is_ok() && active == Some(false),
        }
    }
}

/// Why LINE cannot reach `LINEDESK_PUBLIC_URL`, as a catalog code.
fn reach_code(reach: &Reachability) -> &'static str {
    match reach {
        Reachability::NotSet => "not_set",
        Reachability::Invalid { .. } => "invalid",
        Reachability::NotHttps { .. } => "not_https",
        Reachability::NotPublic { .. } => "not_public",
    }
}

/// The share kit as the pages show it.
#[derive(Debug, Clone)]
pub struct KitView {
    pub url: String,
    pub line_id: String,
    pub snippet: String,
    /// `/api/v1/channels/{id}/share-kit/qr/` (file names are appended).
    pub qr_base: String,
    pub sizes: Vec<&'static str>,
}

impl KitView {
    fn of(channel: &Channel, t: Tr) -> Option<KitView> {
        let kit = ShareKit::new(channel.basic_id.as_deref()).ok()?;
        Some(KitView {
            url: kit.add_friend_url().to_owned(),
            line_id: kit.line_id().to_owned(),
            snippet: kit.html_snippet(t.get("channels.kit.button")),
            qr_base: format!("/api/v1/channels/{}/share-kit/qr/", channel.id),
            sizes: QrSize::ALL.iter().map(|s| s.as_str()).collect(),
        })
    }
}

/// A department in a select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "channels/wizard.html")]
struct WizardPage {
    t: Tr,
    layout: Layout,
    wizard_id: String,
    step: &'static str,
    steps: Vec<StepLink>,
    line_channel_id: String,
    account: Option<AccountView>,
    webhook_url: String,
    webhook: Option<WebhookResult>,
    reach: Option<&'static str>,
    public_url: String,
    departments: Vec<Choice>,
    department_name: String,
    can_continue: bool,
    channel_id: String,
    kit: Option<KitView>,
}

/// `GET /brands/{brand}/settings/channels/new`: the credentials step of a wizard not yet
/// started (the first submit starts it).
async fn wizard_new(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
) -> Result<Response, PageError> {
    let brand = viewer.managed_brand(&state, &brand).await?;
    let layout =
        Layout::settings(&state, &viewer, &brand, "channels", "channels.wizard.title").await?;
    render(&WizardPage {
        t: viewer.tr(),
        layout,
        wizard_id: String::new(),
        step: Step::Credentials.as_str(),
        steps: step_links(Step::Credentials),
        line_channel_id: String::new(),
        account: None,
        webhook_url: String::new(),
        webhook: None,
        reach: None,
        public_url: String::new(),
        departments: Vec::new(),
        department_name: String::new(),
        can_continue: false,
        channel_id: String::new(),
        kit: None,
    })
}

fn step_links(current: Step) -> Vec<StepLink> {
    let at = Step::ALL.iter().position(|s| *s == current).unwrap_or(0);
    Step::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| StepLink {
            name: s.as_str(),
            current: i == at,
            done: i < at,
        })
        .collect()
}

/// `GET /brands/{brand}/settings/channels/new/{wizard}`: the step the wizard is at.
async fn wizard_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((brand, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let brand = viewer.managed_brand(&state, &brand).await?;
    let id: WizardId = id.parse().map_err(|_| viewer.not_found())?;
    let wizard: Wizard = wizard::load(&state, id)
        .await
        .map_err(|e| viewer.error(e))?;
    if wizard.row.brand_id != brand.id {
        return Err(viewer.not_found());
    }
    let t = viewer.tr();
    let view = wizard.view(&state);
    let departments = state
        .store
        .list_departments(brand.id)
        .await
        .map_err(|e| viewer.error(e))?;
    let department_name = departments
        .iter()
        .find(|d| Some(d.id) == view.department_id)
        .map(|d| d.name.clone())
        .unwrap_or_default();
    let channel = match view.channel_id {
        Some(channel) => Some(
            state
                .store
                .channel(channel)
                .await
                .map_err(|e| viewer.error(e))?,
        ),
        None => None,
    };
    let layout =
        Layout::settings(&state, &viewer, &brand, "channels", "channels.wizard.title").await?;
    render(&WizardPage {
        t,
        layout,
        wizard_id: wizard.row.id.to_string(),
        step: view.step.as_str(),
        steps: step_links(view.step),
        line_channel_id: view.line_channel_id.clone().unwrap_or_default(),
        account: view.account.as_ref().map(|a| AccountView {
            display_name: a.display_name.clone(),
            basic_id: a.basic_id.clone(),
            picture_url: view::picture(a.picture_url.as_deref()),
            chat_on: view.response_mode_problem.is_some(),
        }),
        webhook_url: view.webhook_url.clone().unwrap_or_default(),
        webhook: view
            .webhook
            .as_ref()
            .map(|w| WebhookResult::new(&w.outcome, w.active)),
        reach: view.reachability.as_ref().map(reach_code),
        public_url: state.public_url.clone().unwrap_or_default(),
        departments: departments
            .into_iter()
            .map(|d| Choice {
                selected: Some(d.id) == view.department_id,
                id: d.id.to_string(),
                name: d.name,
            })
            .collect(),
        department_name,
        can_continue: view.can_continue,
        channel_id: view.channel_id.map(|c| c.to_string()).unwrap_or_default(),
        kit: channel.as_ref().and_then(|c| KitView::of(c, t)),
    })
}

/// One line of the live status.
#[derive(Debug, Clone)]
pub struct Status {
    pub last_event: String,
    pub events_today: i64,
    pub signature_failures: i64,
    pub token_expiry: String,
    /// `used / limit` or `used` (no limit), empty when LINE could not be asked.
    pub quota_used: String,
    pub quota_limit: String,
    pub reply_count: i64,
    pub push_count: i64,
    pub webhook_active: Option<bool>,
    pub line_error: String,
}

#[derive(Template)]
#[template(path = "channels/account.html")]
struct AccountPage {
    t: Tr,
    layout: Layout,
    channel_id: String,
    line_channel_id: String,
    name: String,
    picture_url: Option<String>,
    basic_id: String,
    secret_masked: &'static str,
    secret_rotated: String,
    previous_until: String,
    departments: Vec<Choice>,
    webhook_url: String,
    status: Status,
    kit: Option<KitView>,
}

/// `GET /brands/{brand}/settings/channels/{channel}`: the account page.
async fn account_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((brand, channel)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (brand, channel) = viewer.managed_channel(&state, &brand, &channel).await?;
    let info = account_info::info(&state, &channel, true)
        .await
        .map_err(|e| viewer.error(e))?;
    let now = state.clock.now_ms();
    let time = |ms: Option<i64>| ms.map(|ms| viewer.time(ms, now)).unwrap_or_default();
    let t = viewer.tr();
    let departments = state
        .store
        .list_departments(brand.id)
        .await
        .map_err(|e| viewer.error(e))?;
    let s = &info.status;
    let layout = Layout::settings(
        &state,
        &viewer,
        &brand,
        "channels",
        "channels.account.title",
    )
    .await?;
    render(&AccountPage {
        t,
        layout,
        channel_id: channel.id.to_string(),
        line_channel_id: info.line_channel_id.clone(),
        name: info.display_name.clone(),
        picture_url: view::picture(info.picture_url.as_deref()),
        basic_id: info.basic_id.clone().unwrap_or_default(),
        secret_masked: info.secret.masked,
        secret_rotated: time(info.secret.rotated_ms),
        previous_until: time(info.secret.previous_valid_until_ms),
        departments: departments
            .into_iter()
            .map(|d| Choice {
                selected: d.id == channel.department_id,
                id: d.id.to_string(),
                name: d.name,
            })
            .collect(),
        webhook_url: info.webhook_url.clone().unwrap_or_default(),
        status: Status {
            last_event: time(s.last_event_ms),
            events_today: s.events_today,
            signature_failures: s.signature_failures,
            token_expiry: time(s.token_expires_ms),
            quota_used: s
                .quota
                .as_ref()
                .map(|q| q.used.to_string())
                .unwrap_or_default(),
            quota_limit: s
                .quota
                .as_ref()
                .and_then(|q| q.limit)
                .map(|l| l.to_string())
                .unwrap_or_default(),
            reply_count: s.reply_count,
            push_count: s.push_count,
            webhook_active: s.webhook_active,
            line_error: s.line_error.clone().unwrap_or_default(),
        },
        kit: KitView::of(&channel, t),
    })
}

/// An audit entry as listed.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "channels/audit.html")]
struct AuditPage {
    t: Tr,
    layout: Layout,
    rows: Vec<AuditRow>,
    older: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    before: Option<i64>,
}

const AUDIT_PAGE: i64 = 100;

/// `GET /brands/{brand}/settings/audit?before=`: the brand's settings changes, newest first.
async fn audit_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let brand = viewer.managed_brand(&state, &brand).await?;
    let entries = state
        .store
        .list_audit(Some(BrandId(brand.id.0)), query.before, AUDIT_PAGE)
        .await
        .map_err(|e| viewer.error(e))?;
    let now = state.clock.now_ms();
    let older = (entries.len() as i64 == AUDIT_PAGE)
        .then(|| entries.last().map(|e| format!("?before={}", e.id)))
        .flatten();
    let rows = entries
        .into_iter()
        .map(|e| AuditRow {
            when: viewer.time(e.created_ms, now),
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail.0.to_string(),
        })
        .collect();
    let layout = Layout::settings(&state, &viewer, &brand, "audit", "channels.audit.title").await?;
    render(&AuditPage {
        t: viewer.tr(),
        layout,
        rows,
        older,
    })
}
