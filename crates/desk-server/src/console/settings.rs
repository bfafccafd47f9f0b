//! Settings pages: LINE accounts (linking to the channel pages), auto-close rules, routing,
//! business hours, canned responses and operators. Pages render the current values; their
//! forms save through the JSON API (`assets/js/forms.js`), which checks roles again.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use desk_core::hours::DAY_NAMES;
use desk_core::{BrandId, ChannelSettings, MissedWindow, Role, RoutingMode};
use desk_store::{Brand, CannedResponse};
use serde_json::Value;

use super::i18n::Tr;
use super::layout::{Layout, PageError, SETTINGS_PAGES, Viewer, render};
use super::view;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/brands/{brand}/settings", get(first_page))
        .route("/brands/{brand}/settings/channels", get(channels))
        .route("/brands/{brand}/settings/auto-close", get(auto_close))
        .route("/brands/{brand}/settings/routing", get(routing))
        .route("/brands/{brand}/settings/hours", get(hours))
        .route("/brands/{brand}/settings/canned", get(canned))
        .route("/brands/{brand}/settings/operators", get(operators))
}

/// Opens the settings page `slug` of a brand: the brand, if the viewer may open the page
/// (managers only unless the sidebar says otherwise), and the page's layout.
async fn open_page(
    state: &AppState,
    viewer: &Viewer,
    brand: &str,
    slug: &str,
) -> Result<(Brand, Layout), PageError> {
    let page = SETTINGS_PAGES.iter().find(|p| p.slug == slug);
    let brand = match page {
        Some(p) if !p.managers_only => viewer.brand(state, brand).await?,
        _ => viewer.managed_brand(state, brand).await?,
    };
    let title_key = page.map_or("settings.nav.label", |p| p.key);
    let layout = Layout::settings(state, viewer, &brand, slug, title_key).await?;
    Ok((brand, layout))
}

/// The brand's departments as `(id, name)` choices for a form.
pub(super) async fn department_options(
    state: &AppState,
    viewer: &Viewer,
    brand: BrandId,
) -> Result<Vec<(String, String)>, PageError> {
    Ok(state
        .store
        .list_departments(brand)
        .await
        .map_err(|e| viewer.error(e))?
        .into_iter()
        .map(|d| (d.id.to_string(), d.name))
        .collect())
}

/// `GET /brands/{brand}/settings`: the first settings page the viewer may open.
async fn first_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
) -> Result<Response, PageError> {
    let brand = viewer.brand(&state, &brand).await?;
    let manager = viewer.manages(brand.id);
    let page = SETTINGS_PAGES
        .iter()
        .find(|p| manager || !p.managers_only)
        .map_or("canned", |p| p.slug);
    Ok(Redirect::to(&format!("/brands/{}/settings/{page}", brand.id)).into_response())
}

/// A LINE account in the list.
#[derive(Debug, Clone)]
pub struct ChannelRow {
    pub id: String,
    pub name: String,
    pub basic_id: String,
    pub line_channel_id: String,
    pub department: String,
    pub picture_url: Option<String>,
    /// `live`, `waiting` (no event yet) or `token_problem`.
    pub status: &'static str,
}

#[derive(Template)]
#[template(path = "settings/channels.html")]
struct ChannelsPage {
    t: Tr,
    layout: Layout,
    channels: Vec<ChannelRow>,
}

/// `GET /brands/{brand}/settings/channels`.
async fn channels(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
) -> Result<Response, PageError> {
    let (brand, layout) = open_page(&state, &viewer, &brand, "channels").await?;
    let departments = state
        .store
        .list_departments(brand.id)
        .await
        .map_err(|e| viewer.error(e))?;
    let channels = crate::http::channels::channel_summaries(&state, brand.id)
        .await
        .map_err(|e| viewer.error(e))?
        .into_iter()
        .map(|c| ChannelRow {
            id: c.id.to_string(),
            name: c.display_name.clone(),
            basic_id: c.basic_id.clone().unwrap_or_default(),
            line_channel_id: c.line_channel_id.clone(),
            department: departments
                .iter()
                .find(|d| d.id == c.department_id)
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            picture_url: view::picture(c.picture_url.as_deref()),
            status: c.status,
        })
        .collect();
    render(&ChannelsPage {
        t: viewer.tr(),
        layout,
        channels,
    })
}

/// One channel's auto-close form.
#[derive(Debug, Clone)]
pub struct AutoCloseForm {
    pub channel_id: String,
    pub name: String,
    pub missed_window: &'static str,
    pub pickup_minutes: i64,
    /// Empty: idle close off.
    pub idle_minutes: String,
    pub closing_message: String,
    pub postpone: bool,
    /// The chatbot's settings, kept as they are (the chatbot pages edit them).
    pub bot_enabled: bool,
    pub bot_idle_close_ms: i64,
    pub bot_closing_message: String,
}

#[derive(Template)]
#[template(path = "settings/auto_close.html")]
struct AutoClosePage {
    t: Tr,
    layout: Layout,
    forms: Vec<AutoCloseForm>,
    windows: Vec<&'static str>,
}

const MINUTE_MS: i64 = 60_000;

fn auto_close_form(channel_id: String, name: String, settings: &ChannelSettings) -> AutoCloseForm {
    // The settings' JSON is their public shape (the API's too): read it rather than
    // reaching into the type.
    let json = serde_json::to_value(settings).unwrap_or(Value::Null);
    let int = |key: &str| json.get(key).and_then(Value::as_i64);
    let text = |key: &str| {
        json.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    AutoCloseForm {
        channel_id,
        name,
        missed_window: MissedWindow::ALL
            .iter()
            .find(|w| json.get("missed_window").and_then(Value::as_str) == Some(w.as_str()))
            .map_or(MissedWindow::OneDay.as_str(), |w| w.as_str()),
        pickup_minutes: int("pickup_ms").unwrap_or(2 * MINUTE_MS) / MINUTE_MS,
        idle_minutes: int("idle_close_ms")
            .map(|ms| (ms / MINUTE_MS).to_string())
            .unwrap_or_default(),
        closing_message: text("closing_message"),
        postpone: json
            .get("postpone_outside_business_hours")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        bot_enabled: json
            .get("bot_enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        bot_idle_close_ms: int("bot_idle_close_ms").unwrap_or(30 * MINUTE_MS),
        bot_closing_message: text("bot_closing_message"),
    }
}

/// `GET /brands/{brand}/settings/auto-close`: one form per LINE account.
async fn auto_close(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
) -> Result<Response, PageError> {
    let (brand, layout) = open_page(&state, &viewer, &brand, "auto-close").await?;
    let err = |e| viewer.error(e);
    let mut forms = Vec::new();
    for channel in state
        .store
        .list_channels(Some(brand.id))
        .await
        .map_err(err)?
    {
        let rules = state.store.chat_rules(channel.id).await.map_err(err)?;
        forms.push(auto_close_form(
            channel.id.to_string(),
            channel.display_name.clone(),
            &rules.settings,
        ));
    }
    render(&AutoClosePage {
        t: viewer.tr(),
        layout,
        forms,
        windows: MissedWindow::ALL.iter().map(|w| w.as_str()).collect(),
    })
}

/// A department with its routing mode and business hours.
#[derive(Debug, Clone)]
pub struct DepartmentRow {
    pub id: String,
    pub name: String,
    pub routing_mode: &'static str,
    pub time_zone: String,
    /// Per weekday (Monday first): `(day, start "HH:MM", end "HH:MM")`, empty when closed.
    pub days: Vec<(&'static str, String, String)>,
    pub has_hours: bool,
    /// A day has more than one interval: this form shows (and saves) only the first.
    pub split_days: bool,
}

/// An operator in the routing and operators pages.
#[derive(Debug, Clone)]
pub struct OperatorRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub capacity: i32,
    pub presence: String,
    pub departments: Vec<String>,
    pub editable: bool,
}

impl OperatorRow {
    /// Whether the operator is a member of the department.
    pub fn in_department(&self, id: &str) -> bool {
        self.departments.iter().any(|d| d == id)
    }
}

fn hhmm(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

async fn department_rows(
    state: &AppState,
    viewer: &Viewer,
    brand: &Brand,
) -> Result<Vec<DepartmentRow>, PageError> {
    let err = |e| viewer.error(e);
    let mut rows = Vec::new();
    for d in state.store.list_departments(brand.id).await.map_err(err)? {
        let mode = state.store.routing_mode(d.id).await.map_err(err)?;
        let hours = state.store.department_hours(d.id).await.map_err(err)?;
        let weekly = hours.as_ref().and_then(|h| h.get("weekly"));
        let mut split_days = false;
        let days = DAY_NAMES
            .iter()
            .map(|day| {
                let intervals = weekly
                    .and_then(|w| w.get(day))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                split_days |= intervals.len() > 1;
                match intervals.first() {
                    Some(i) => (
                        *day,
                        hhmm(i.get("start").and_then(Value::as_i64).unwrap_or(0)),
                        hhmm(i.get("end").and_then(Value::as_i64).unwrap_or(0)),
                    ),
                    None => (*day, String::new(), String::new()),
                }
            })
            .collect();
        rows.push(DepartmentRow {
            id: d.id.to_string(),
            name: d.name,
            routing_mode: mode.as_str(),
            time_zone: hours
                .as_ref()
                .and_then(|h| h.get("time_zone"))
                .and_then(Value::as_str)
                .unwrap_or("Asia/Tokyo")
                .to_owned(),
            has_hours: hours.is_some(),
            days,
            split_days,
        });
    }
    Ok(rows)
}

async fn operator_rows(
    state: &AppState,
    viewer: &Viewer,
    brand: &Brand,
) -> Result<Vec<OperatorRow>, PageError> {
    let err = |e| viewer.error(e);
    let mut rows = Vec::new();
    for o in state.store.brand_operators(brand.id).await.map_err(err)? {
        let departments = state
            .store
            .departments_of(o.operator.id)
            .await
            .map_err(err)?
            .into_iter()
            .map(|d| d.to_string())
            .collect();
        rows.push(OperatorRow {
            id: o.operator.id.to_string(),
            editable: o.operator.id != viewer.operator.id
                && viewer
                    .access
                    .manage_operator(o.operator.role, o.operator.brand_id.map(desk_core::BrandId))
                    .is_ok(),
            name: o.operator.display_name,
            email: o.operator.email,
            role: o.operator.role.as_str(),
            capacity: o.operator.capacity,
            presence: o.presence,
            departments,
        });
    }
    Ok(rows)
}

#[derive(Template)]
#[template(path = "settings/routing.html")]
struct RoutingPage {
    t: Tr,
    layout: Layout,
    departments: Vec<DepartmentRow>,
    operators: Vec<OperatorRow>,
    modes: Vec<&'static str>,
}

/// `GET /brands/{brand}/settings/routing`: routing mode per department, capacity per operator.
async fn routing(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
) -> Result<Response, PageError> {
    let (brand, layout) = open_page(&state, &viewer, &brand, "routing").await?;
    let departments = department_rows(&state, &viewer, &brand).await?;
    let operators = operator_rows(&state, &viewer, &brand).await?;
    render(&RoutingPage {
        t: viewer.tr(),
        layout,
        departments,
        operators,
        modes: RoutingMode::ALL.iter().map(|m| m.as_str()).collect(),
    })
}

#[derive(Template)]
#[template(path = "settings/hours.html")]
struct HoursPage {
    t: Tr,
    layout: Layout,
    departments: Vec<DepartmentRow>,
}

/// `GET /brands/{brand}/settings/hours`: business hours per department.
async fn hours(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
) -> Result<Response, PageError> {
    let (brand, layout) = open_page(&state, &viewer, &brand, "hours").await?;
    let departments = department_rows(&state, &viewer, &brand).await?;
    render(&HoursPage {
        t: viewer.tr(),
        layout,
        departments,
    })
}

#[derive(Template)]
#[template(path = "settings/canned.html")]
struct CannedPage {
    t: Tr,
    layout: Layout,
    responses: Vec<(CannedResponse, String)>,
    departments: Vec<(String, String)>,
    editable: bool,
}

/// `GET /brands/{brand}/settings/canned`: everyone reads them; managers edit them.
async fn canned(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
) -> Result<Response, PageError> {
    let (brand, layout) = open_page(&state, &viewer, &brand, "canned").await?;
    let departments = department_options(&state, &viewer, brand.id).await?;
    let responses = state
        .store
        .canned_responses(brand.id, None)
        .await
        .map_err(|e| viewer.error(e))?
        .into_iter()
        .map(|r| {
            let department = r.department_id.map(|d| d.to_string()).unwrap_or_default();
            (r, department)
        })
        .collect();
    render(&CannedPage {
        t: viewer.tr(),
        layout,
        responses,
        departments,
        editable: viewer.manages(brand.id),
    })
}

#[derive(Template)]
#[template(path = "settings/operators.html")]
struct OperatorsPage {
    t: Tr,
    layout: Layout,
    operators: Vec<OperatorRow>,
    departments: Vec<(String, String)>,
    roles: Vec<&'static str>,
}

/// `GET /brands/{brand}/settings/operators`: invite, role, departments, capacity.
async fn operators(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
) -> Result<Response, PageError> {
    let (brand, layout) = open_page(&state, &viewer, &brand, "operators").await?;
    let operators = operator_rows(&state, &viewer, &brand).await?;
    let departments = department_options(&state, &viewer, brand.id).await?;
    let roles = Role::ALL
        .iter()
        .filter(|r| viewer.access.grant(**r, Some(brand.id)).is_ok())
        .map(|r| r.as_str())
        .collect();
    render(&OperatorsPage {
        t: viewer.tr(),
        layout,
        operators,
        departments,
        roles,
    })
}
